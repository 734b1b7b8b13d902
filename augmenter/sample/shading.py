"""Light directions, cast shadows (a shadow map per light) and per-vertex shading.

Shading is Lambert with a soft wrap (light reaches a little past the terminator, as in skin), a small
Blinn-Phong specular term and an ambient term, computed in linear light per vertex; pixels
interpolate the vertices' colours (the mesh has about one vertex per pixel at 128 px). Shadows: the
surface is rasterized from the light's direction, and a vertex is lit by the share of the 5 x 5
shadow-map samples around it that it is not behind (a soft edge).
"""
from __future__ import annotations

import math

import numpy as np

from augmenter.attributes import AMBIENT, FLASH_DIRECTIONS
from augmenter.sample.raster import rasterize

_WRAP = 0.25
_FLASH_WRAP = 0.1
_SHADOW_RES = 160
_SHADOW_BIAS_MM = 2.0
FLASH_AMBIENT = 0.10   # room light under every flash frame
ROOM_AMBIENT = 0.30    # the no-flash frame: dimmer, flatter light from above
ROOM_KEY = 0.32


def light_vector(azimuth: float, elevation: float) -> np.ndarray:
    """Unit vector towards the light; positive azimuth lights the subject's right (the image's left)."""
    az, el = math.radians(azimuth), math.radians(elevation)
    return np.array([-math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)], np.float32)


def lighting_vector(lighting: str) -> np.ndarray | None:
    """Light vector of a lighting name from ``augmenter.attributes.LIGHTING``; ``None`` for ambient."""
    if lighting == AMBIENT:
        return None
    if lighting not in FLASH_DIRECTIONS:
        raise ValueError(f"unknown lighting {lighting!r}; expected ambient or one of {', '.join(FLASH_DIRECTIONS)}")
    return light_vector(*FLASH_DIRECTIONS[lighting])


def shadow_visibility(vertices: np.ndarray, triangles: np.ndarray, light: np.ndarray) -> np.ndarray:
    """``(V,)`` float32 in [0, 1]: how much of each vertex the light reaches (1 = fully lit)."""
    up = np.array([0.0, 1.0, 0.0]) if abs(light[1]) < 0.95 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(up, light)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(light, e1)
    a, b, d = vertices @ e1, vertices @ e2, vertices @ light
    scale = (_SHADOW_RES - 5) / max(a.max() - a.min(), b.max() - b.min())
    x = (a - a.min()) * scale + 2
    y = (b.max() - b) * scale + 2
    depth = rasterize(np.c_[x, y], d, triangles, _SHADOW_RES, _SHADOW_RES).depth
    xi, yi = np.rint(x).astype(np.int64), np.rint(y).astype(np.int64)
    lit = np.zeros(len(vertices), np.float32)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            occluder = depth[np.clip(yi + dy, 0, _SHADOW_RES - 1), np.clip(xi + dx, 0, _SHADOW_RES - 1)]
            lit += d >= occluder - _SHADOW_BIAS_MM
    return lit / 25.0


def shade_vertices(normals: np.ndarray, light: np.ndarray | None,
                   visibility: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex ``(irradiance, highlight)``, each ``(V,)`` float32, under one light.

    A pixel's linear colour is ``albedo * irradiance + SPECULAR_GAIN * strength * highlight``, with its
    albedo and specular strength painted per pixel. ``light=None`` is the no-flash room light.
    """
    if light is None:
        key = np.array([0.0, 0.8, 0.6], np.float32)
        diffuse = np.clip((normals @ key + _WRAP) / (1 + _WRAP), 0, 1)
        return (ROOM_AMBIENT + ROOM_KEY * diffuse).astype(np.float32), np.zeros(len(normals), np.float32)
    n_dot_l = normals @ light
    diffuse = np.clip((n_dot_l + _FLASH_WRAP) / (1 + _FLASH_WRAP), 0, 1) * visibility
    half = light + np.array([0.0, 0.0, 1.0], np.float32)
    half /= np.linalg.norm(half)
    highlight = np.clip(normals @ half, 0, 1) ** 40 * (n_dot_l > 0) * visibility
    return (FLASH_AMBIENT + 1.1 * diffuse).astype(np.float32), highlight.astype(np.float32)


SPECULAR_GAIN = 0.35
