"""Render synthetic faces: identity x expression x lighting -> an aligned face image.

Pipeline for one (identity, expression), shared by all its lights: posed vertices from the basis
(``expressions``), per-vertex albedo painted on the neutral face (``paint``), a hair cap (an
ellipsoid behind the face mesh), framing by a scale + translation that puts the neutral face's five
landmarks (eye centres, nose tip, mouth corners) on the toolkit's canonical alignment template, and
one rasterization at 2x the output size. Per light: a shadow map, per-vertex shading, interpolation,
the mouth cavity where the lips have parted, conversion to sRGB and an area downsample.

The output therefore looks like the crops ``augment align`` makes. Speed: see the README.

Example:
    >>> from augmenter.sample.identity import make_identity
    >>> img = FaceRenderer(size=64).render(make_identity(0, 0), "smile", "flash07")   # doctest: +SKIP
    >>> img.shape, img.dtype                                                            # doctest: +SKIP
    ((64, 64, 3), dtype('uint8'))
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from augmenter.align import canonical_template
from augmenter.sample.basis import load_basis
from augmenter.sample.expressions import RECIPES, expression_vertices
from augmenter.sample.identity import Identity
from augmenter.sample.mesh import face_triangles, vertex_normals
from augmenter.sample.paint import paint_albedo
from augmenter.sample.raster import rasterize
from augmenter.sample.shading import SPECULAR_GAIN, lighting_vector, shade_vertices, shadow_visibility

BACKGROUND = np.array([0.42, 0.43, 0.45], np.float32)  # sRGB, a grey backdrop like Multi-PIE's
MOUTH_PARTS = ("teeth", "cavity", "tongue")
_MOUTH_COLOURS = np.array([[0.80, 0.78, 0.70], [0.16, 0.05, 0.05], [0.55, 0.22, 0.22]], np.float32)  # sRGB


def _to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.power(np.clip(srgb, 0, 1), 2.2)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    return np.power(np.clip(linear, 0, 1), 1 / 2.2)


def five_points(vertices: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``(5, 3)``: left eye centre, right eye centre, nose tip, left and right mouth corner."""
    lm = vertices[landmarks]
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]])


def template_framing(neutral: np.ndarray, landmarks: np.ndarray, res: int) -> tuple[float, np.ndarray]:
    """Scale and offset mapping (x, -y) of the neutral face's five points onto the template (least squares)."""
    src = five_points(neutral, landmarks)[:, :2] * np.array([1.0, -1.0])
    dst = canonical_template(res)
    src_c, dst_c = src - src.mean(0), dst - dst.mean(0)
    scale = float((src_c * dst_c).sum() / (src_c ** 2).sum())
    return scale, dst.mean(0) - scale * src.mean(0)


def _ellipsoid(centre: np.ndarray, radii: np.ndarray, min_lat: float, n_lat: int = 28, n_lon: int = 56):
    """Vertices, outward triangles and normals of an ellipsoid cap above latitude ``min_lat`` (radians)."""
    lat = np.linspace(min_lat, np.pi / 2 - 1e-3, n_lat)
    lon = np.linspace(-np.pi, np.pi, n_lon, endpoint=False)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    unit = np.stack([np.cos(la) * np.sin(lo), np.sin(la), np.cos(la) * np.cos(lo)], -1).reshape(-1, 3)
    verts = centre + unit * radii
    normals = unit / radii
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    i, j = np.meshgrid(np.arange(n_lat - 1), np.arange(n_lon), indexing="ij")
    a, b = i * n_lon + j, i * n_lon + (j + 1) % n_lon
    c, d = a + n_lon, b + n_lon
    tris = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([b, d, c], -1).reshape(-1, 3)])
    return verts.astype(np.float32), tris.astype(np.int32), normals.astype(np.float32)


class FaceRenderer:
    """Renders aligned synthetic faces of ``size`` x ``size`` pixels (64 or 128; any size >= 32 works).

    Deterministic: the same identity, expression and lighting give the same pixels.
    """

    def __init__(self, size: int = 128, supersample: int = 2):
        if size < 32:
            raise ValueError(f"size must be at least 32 px, not {size}")
        self.size = int(size)
        self.supersample = int(supersample)
        self.basis = load_basis()
        self.triangles = face_triangles()

    def render(self, identity: Identity, expression: str, lighting: str) -> np.ndarray:
        """One ``(size, size, 3)`` uint8 sRGB image."""
        return self.render_lights(identity, expression, [lighting])[0]

    def render_lights(self, identity: Identity, expression: str, lightings: Sequence[str]) -> list[np.ndarray]:
        """One image per lighting name, sharing the geometry (about 3x faster than one by one)."""
        lights = [lighting_vector(name) for name in lightings]  # validates names before any work
        neutral, posed = expression_vertices(self.basis, identity.shape, expression)
        cap_v, cap_t, cap_n = self._hair_cap(neutral, identity)
        n_face = len(posed)
        verts = np.concatenate([posed, cap_v])
        tris = np.concatenate([self.triangles, cap_t + n_face])
        normals = np.concatenate([vertex_normals(posed, self.triangles), cap_n])

        res = self.size * self.supersample
        scale, offset = template_framing(neutral, self.basis.landmarks, res)
        xy = np.c_[verts[:, 0] * scale + offset[0], -verts[:, 1] * scale + offset[1]]
        raster = rasterize(xy, verts[:, 2], tris, res, res)
        albedo, strength = self._paint_pixels(raster, tris, identity, expression, neutral, n_face)
        mouth = mouth_pixels(self.triangles, self.basis.landmarks, raster, neutral, posed, xy)

        images = []
        for light in lights:
            visibility = None if light is None else shadow_visibility(verts, tris, light)
            irradiance, highlight = shade_vertices(normals, light, visibility)
            lit = raster.interpolate(tris, np.c_[irradiance, highlight])
            image = _to_srgb(albedo * lit[..., :1] + SPECULAR_GAIN * strength * lit[..., 1:])
            image[~raster.mask] = BACKGROUND
            if mouth is not None:
                pixels, part = mouth
                brightness = 0.5 if light is None else 0.35 + 0.65 * max(float(light[2]), 0.0)
                image[pixels] = _MOUTH_COLOURS[part] * brightness
            small = cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)
            images.append(np.clip(np.rint(small * 255), 0, 255).astype(np.uint8))
        return images

    def _paint_pixels(self, raster, tris, identity, expression, neutral, n_face):
        """Linear albedo ``(H, W, 3)`` and specular strength ``(H, W, 1)`` painted per pixel."""
        h, w = raster.triangle.shape
        albedo = np.zeros((h, w, 3), np.float32)
        strength = np.zeros((h, w, 1), np.float32)
        on_face = raster.mask.copy()
        on_face[on_face] = raster.triangle[on_face] < len(self.triangles)
        albedo[raster.mask & ~on_face] = _to_linear(identity.hair)
        strength[raster.mask & ~on_face] = 0.12
        source = np.zeros((len(tris) and tris.max() + 1, 2), np.float32)
        source[:n_face] = neutral[:, :2]
        points = raster.interpolate(tris, source)[on_face]
        colour, spec = paint_albedo(identity, points, neutral[self.basis.landmarks], RECIPES[expression])
        albedo[on_face] = _to_linear(colour)
        strength[on_face, 0] = spec
        return albedo, strength

    def _hair_cap(self, neutral: np.ndarray, identity: Identity):
        """An ellipsoid behind the face mesh: visible above the forehead and beside the ears only.

        Its front at eye height stays about 10 mm behind the outer eye corners, so it never shows
        through the recessed eye sockets.
        """
        lm = neutral[self.basis.landmarks]
        top = neutral[:, 1].max()
        vol = identity.hair_volume
        front = min(lm[36, 2], lm[45, 2]) - 10.0
        centre = np.array([0.0, top - 62.0, -6.0], np.float32)
        radii = np.array([90.0 + 6 * vol, 72.0 + 10 * vol, front - centre[2]], np.float32)
        return _ellipsoid(centre, radii, min_lat=np.radians(-35.0))


def mouth_pixels(triangles: np.ndarray, landmarks: np.ndarray, raster, neutral: np.ndarray, posed: np.ndarray,
                 xy: np.ndarray, teeth_share: float = 0.3) -> tuple[np.ndarray, np.ndarray] | None:
    """Pixels of triangles stretched across parted lips, and which part of the open mouth each shows.

    Returns ``(pixels, part)``: a ``(H, W)`` bool mask of the raster and ``(P,)`` indices into
    :data:`MOUTH_PARTS` (teeth in the top ``teeth_share`` of the opening, then the cavity, the tongue
    near the lower lip), or None when the lips are closed.
    """
    tris = triangles
    lm = landmarks
    edge = lambda v: np.max([np.linalg.norm(v[tris[:, k]] - v[tris[:, (k + 1) % 3]], axis=1)  # noqa: E731
                             for k in range(3)], axis=0)
    inner = neutral[lm[60:68]]
    centroid = neutral[tris].mean(axis=1)
    near_mouth = (np.abs(centroid[:, 0] - inner[:, 0].mean()) < 1.1 * np.ptp(inner[:, 0]) / 2 + 2) & \
                 (np.abs(centroid[:, 1] - inner[:, 1].mean()) < 8)
    stretched = near_mouth & (edge(posed) > np.maximum(2.0, 1.8 * edge(neutral)))
    if not stretched.any():
        return None
    pixels = raster.mask & np.isin(raster.triangle, np.flatnonzero(stretched))
    if not pixels.any():
        return None
    upper, lower = xy[lm[62], 1], xy[lm[66], 1]  # screen y of the inner lips' middles
    rows = np.nonzero(pixels)[0].astype(np.float32)
    f = np.clip((rows - upper) / max(lower - upper, 1.0), 0, 1)
    return pixels, np.where(f < teeth_share, 0, np.where(f > max(0.75, teeth_share), 2, 1))
