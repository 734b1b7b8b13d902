"""Albedo: skin with lips, brows, eyes, beard shadow and hairline painted from the 68 landmarks.

Painting is a function of a point's position on the identity's neutral face seen from the front
(x, y in mm), so the paint moves with the skin when an expression deforms it. The renderer evaluates it
per pixel (each pixel's neutral position is interpolated from the mesh), not per vertex: the basis has
few vertices in the eyes, and per-vertex colours smear an iris over whole triangles. Eyes are painted,
not modelled: an eye's opening is an ellipse between its corners whose upper and lower halves shrink
as the lids close.
"""
from __future__ import annotations

import numpy as np
from matplotlib.path import Path as Polygon

from augmenter.sample.expressions import ExpressionRecipe
from augmenter.sample.identity import Identity

_SCLERA = np.array([0.86, 0.84, 0.80])
_PUPIL = np.array([0.03, 0.03, 0.03])
_LASH = np.array([0.06, 0.05, 0.05])


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _blend(base: np.ndarray, colour: np.ndarray, weight: np.ndarray) -> np.ndarray:
    return base * (1 - weight[:, None]) + np.asarray(colour)[None, :] * weight[:, None]


def _inside(xy: np.ndarray, polygon: np.ndarray, soft_mm: float = 0.0) -> np.ndarray:
    """1 inside ``polygon`` (``(N, 2)``), 0 outside; with ``soft_mm`` a blurred edge via a shrunk copy."""
    hard = Polygon(polygon).contains_points(xy).astype(np.float32)
    if soft_mm <= 0:
        return hard
    centre = polygon.mean(axis=0)
    grown = centre + (polygon - centre) * (1 + soft_mm / np.linalg.norm(polygon - centre, axis=1).mean())
    outer = Polygon(grown).contains_points(xy).astype(np.float32)
    return 0.5 * (hard + outer)


def paint_albedo(identity: Identity, xy: np.ndarray, landmarks: np.ndarray,
                 recipe: ExpressionRecipe) -> tuple[np.ndarray, np.ndarray]:
    """Albedo ``(N, 3)`` sRGB in [0, 1] and specular strength ``(N,)`` at ``N`` points of one face.

    Args:
        xy: ``(N, 2)`` points (mm) on the identity's neutral face, seen from the front.
        landmarks: ``(68, 2+)`` landmark positions on the neutral face.
    """
    xy = np.asarray(xy, np.float64)
    lm = np.asarray(landmarks, np.float64)[:, :2]
    n = len(xy)
    albedo = np.tile(identity.skin, (n, 1)).astype(np.float64)
    specular = np.full(n, 0.25)

    # Cheeks a little redder, beard shadow on the lower face and upper lip.
    for centre in (0.5 * (lm[36] + lm[48]), 0.5 * (lm[45] + lm[54])):
        w = 0.25 * np.exp(-np.sum((xy - centre) ** 2, axis=1) / (2 * 14.0 ** 2))
        albedo = _blend(albedo, identity.skin * np.array([1.05, 0.82, 0.80]), w)
    # Lips.
    lips = _inside(xy, lm[48:60], soft_mm=1.0)
    albedo = _blend(albedo, identity.lips, lips * 0.9)
    specular = specular + 0.3 * lips

    # Brows: a band from each brow's landmarks down by a few mm, thinner at the tails.
    for brow in (lm[17:22], lm[22:27]):
        top = brow + np.array([0.0, 1.5])
        bottom = (brow - np.array([0.0, 4.0]))[::-1]
        w = _inside(xy, np.vstack([top, bottom]), soft_mm=1.0)
        albedo = _blend(albedo, identity.brows, w * 0.9)

    # Eyes.
    for corners, upper, lower in ((lm[[36, 39]], lm[[37, 38]], lm[[41, 40]]), (lm[[42, 45]], lm[[43, 44]], lm[[47, 46]])):
        centre = corners.mean(axis=0)
        half_w = 0.5 * np.linalg.norm(corners[1] - corners[0]) * 1.05
        half_h = 0.5 * (upper[:, 1].mean() - lower[:, 1].mean()) * 1.3 + 1.0
        up = half_h * recipe.eye_open
        down = half_h * max(0.15, min(1.0, recipe.eye_open) - recipe.lower_lid)
        dx = (xy[:, 0] - centre[0]) / half_w
        dy = xy[:, 1] - centre[1]
        lid = np.where(dy >= 0, up, down) * np.sqrt(np.clip(1 - dx ** 2, 0, 1))
        opening = (np.abs(dx) < 1) & (np.abs(dy) < lid) & (lid > 0.2)
        r = np.hypot(xy[:, 0] - centre[0], dy)
        iris_r = 0.42 * half_w
        eye = np.where((r < 0.4 * iris_r)[:, None], _PUPIL[None], np.where((r < iris_r)[:, None], identity.iris[None],
                                                                           _SCLERA[None]))
        albedo = np.where(opening[:, None], eye, albedo)
        specular = np.where(opening, 0.9, specular)
        lash = (np.abs(dx) < 1.05) & (dy >= 0) & (np.abs(dy - lid) < 0.9) & ~opening
        albedo = np.where(lash[:, None], _LASH[None], albedo)

    # Hairline: above it the scalp shows hair colour.
    brow_top = lm[17:27, 1].max()
    hairline = brow_top + identity.hairline_mm - 0.004 * xy[:, 0] ** 2  # recedes towards the temples
    hair = _smoothstep(hairline - 3, hairline + 3, xy[:, 1])
    side = _smoothstep(63.0, 70.0, np.abs(xy[:, 0])) * _smoothstep(lm[33, 1] - 12, lm[33, 1] + 4, xy[:, 1])
    hair = np.maximum(hair, side)
    albedo = _blend(albedo, identity.hair, hair)
    specular = specular * (1 - hair) + 0.15 * hair
    return np.clip(albedo, 0, 1).astype(np.float32), specular.astype(np.float32)
