"""Triangles for the morphable basis, which ships vertices only.

A 2D Delaunay of the frontal projection fails (about 29% of its triangles span over 5 mm in 3D and
leave holes at the nose and the sides). What works: drop the vertices hidden behind another part of
the surface as seen from the head centre (nostril insides, backs of the ears), triangulate a
spherical unwrap (longitude, latitude about the head centre) of the rest, and drop the triangles
whose 3D edges exceed 4 mm (the unwrap's convex-hull fill). Triangles are then wound so their
normals point away from the head centre. About 97k triangles, 0.3 s, cached per process.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy.spatial import Delaunay, cKDTree

from augmenter.sample.basis import load_basis

HEAD_CENTRE_MM = np.array([0.0, 0.0, 20.0])
_HIDDEN_STEP_MM = 4.0
_MAX_EDGE_MM = 4.0


def triangulate(vertices: np.ndarray, centre: np.ndarray = HEAD_CENTRE_MM) -> np.ndarray:
    """``(T, 3)`` int32 triangles over ``(V, 3)`` vertices of one face surface, outward-wound."""
    v = np.asarray(vertices, np.float64)
    d = v - centre
    r = np.linalg.norm(d, axis=1)
    u = d / r[:, None]
    # Vertices with a neighbour in (almost) the same direction that lies clearly further out are hidden.
    pairs = cKDTree(u).query_pairs(0.9 / r.mean(), output_type="ndarray")
    dr = r[pairs[:, 0]] - r[pairs[:, 1]]
    hidden = np.zeros(len(v), bool)
    hidden[pairs[dr < -_HIDDEN_STEP_MM, 0]] = True
    hidden[pairs[dr > _HIDDEN_STEP_MM, 1]] = True
    keep = np.flatnonzero(~hidden)
    lon = np.arctan2(d[keep, 0], d[keep, 2])
    lat = np.arcsin(np.clip(u[keep, 1], -1.0, 1.0))
    tris = keep[Delaunay(np.c_[lon * np.cos(lat), lat]).simplices]
    p0, p1, p2 = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
    longest = np.max([np.linalg.norm(p1 - p0, axis=1), np.linalg.norm(p2 - p1, axis=1),
                      np.linalg.norm(p0 - p2, axis=1)], axis=0)
    tris = tris[longest <= _MAX_EDGE_MM]
    p0, p1, p2 = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
    inward = np.einsum("ij,ij->i", np.cross(p1 - p0, p2 - p0), (p0 + p1 + p2) / 3 - centre) < 0
    tris[inward] = tris[inward][:, ::-1]
    return tris.astype(np.int32)


@functools.lru_cache(maxsize=1)
def face_triangles() -> np.ndarray:
    """Triangles of the basis's mean face (shared by every identity and expression)."""
    return triangulate(load_basis().mean)


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(V, 3)`` float32 unit normals: area-weighted sums of the adjacent triangles' normals."""
    p0, p1, p2 = (vertices[triangles[:, i]] for i in range(3))
    face = np.cross(p1 - p0, p2 - p0)  # length = 2 x area, so the sum is area-weighted
    normals = np.zeros_like(vertices, dtype=np.float64)
    for i in range(3):
        np.add.at(normals, triangles[:, i], face)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    return normals.astype(np.float32)
