"""A vectorised z-buffer triangle rasterizer in numpy (orthographic views).

Pixel ``(row i, column j)`` has its centre at ``(x, y) = (j, i)``. A pixel belongs to a triangle when
its centre lies inside it (barycentric weights all >= 0); the nearest triangle (largest depth) wins.
Only triangles that face the viewer (counter-clockwise on screen with y pointing down, i.e. a
positive normal z in the right-handed scene frame) are drawn.

Triangles are grouped by the size of their pixel bounding box so every group is handled as one
``(triangles, k * k)`` array: most of a face's ~97k triangles cover 1-4 pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Raster:
    """Which triangle covers each pixel and where inside it.

    Attributes:
        triangle: ``(H, W)`` int32 triangle index, -1 for background.
        weights: ``(H, W, 3)`` float32 barycentric weights of the triangle's three vertices (0 on background).
        depth: ``(H, W)`` float32 interpolated depth (``-inf`` on background).
    """

    triangle: np.ndarray
    weights: np.ndarray
    depth: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        return self.triangle >= 0

    def interpolate(self, triangles: np.ndarray, values: np.ndarray, background=0.0) -> np.ndarray:
        """Per-pixel values ``(H, W, C)`` from per-vertex ``values`` ``(V, C)``."""
        h, w = self.triangle.shape
        out = np.empty((h, w, values.shape[1]), np.float32)
        out[...] = background
        m = self.mask
        corners = triangles[self.triangle[m]]  # (P, 3)
        wts = self.weights[m]
        out[m] = (values[corners[:, 0]] * wts[:, :1] + values[corners[:, 1]] * wts[:, 1:2]
                  + values[corners[:, 2]] * wts[:, 2:3])
        return out


def rasterize(xy: np.ndarray, depth: np.ndarray, triangles: np.ndarray, height: int, width: int) -> Raster:
    """Rasterize triangles given screen positions.

    Args:
        xy: ``(V, 2)`` vertex positions in pixels (x right, y down).
        depth: ``(V,)`` vertex depth, larger is nearer the viewer.
        triangles: ``(T, 3)`` vertex indices, counter-clockwise in a right-handed frame (y up).
        height, width: output size in pixels.
    """
    p = xy[triangles].astype(np.float64)  # (T, 3, 2)
    # Screen y points down, so a front-facing (CCW with y up) triangle has a negative signed area here.
    area = ((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
            - (p[:, 2, 0] - p[:, 0, 0]) * (p[:, 1, 1] - p[:, 0, 1]))
    lo = np.ceil(p.min(axis=1)).astype(np.int64)
    hi = np.floor(p.max(axis=1)).astype(np.int64)
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [width - 1, height - 1])
    live = (area < -1e-12) & (hi[:, 0] >= lo[:, 0]) & (hi[:, 1] >= lo[:, 1])
    extent = np.max(hi - lo + 1, axis=1)

    pix_all, tri_all, wts_all, z_all = [], [], [], []
    k = 1
    remaining = live.copy()
    while remaining.any():
        group = np.flatnonzero(remaining & (extent <= k))
        remaining[group] = False
        if len(group):
            dy, dx = np.divmod(np.arange(k * k), k)
            px = lo[group, 0:1] + dx  # (G, k*k)
            py = lo[group, 1:2] + dy
            q = p[group]
            inv = 1.0 / area[group][:, None]
            w0 = ((q[:, 1, 0:1] - px) * (q[:, 2, 1:2] - py) - (q[:, 2, 0:1] - px) * (q[:, 1, 1:2] - py)) * inv
            w1 = ((q[:, 2, 0:1] - px) * (q[:, 0, 1:2] - py) - (q[:, 0, 0:1] - px) * (q[:, 2, 1:2] - py)) * inv
            w2 = 1.0 - w0 - w1
            inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (px <= hi[group, 0:1]) & (py <= hi[group, 1:2])
            g_idx, c_idx = np.nonzero(inside)
            tri = group[g_idx]
            wts = np.stack([w0[g_idx, c_idx], w1[g_idx, c_idx], w2[g_idx, c_idx]], axis=1)
            z = (depth[triangles[tri]] * wts).sum(axis=1)
            pix_all.append(py[g_idx, c_idx] * width + px[g_idx, c_idx])
            tri_all.append(tri)
            wts_all.append(wts)
            z_all.append(z)
        k *= 2

    triangle = np.full(height * width, -1, np.int32)
    weights = np.zeros((height * width, 3), np.float32)
    zbuf = np.full(height * width, -np.inf, np.float32)
    if pix_all:
        pix, tri, wts, z = (np.concatenate(a) for a in (pix_all, tri_all, wts_all, z_all))
        order = np.lexsort((-z, pix))  # by pixel, nearest first
        first = order[np.r_[True, pix[order][1:] != pix[order][:-1]]]
        triangle[pix[first]] = tri[first]
        weights[pix[first]] = wts[first]
        zbuf[pix[first]] = z[first]
    return Raster(triangle.reshape(height, width), weights.reshape(height, width, 3), zbuf.reshape(height, width))
