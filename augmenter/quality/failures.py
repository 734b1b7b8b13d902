"""The failure modes of face synthesis on real photos, at graded severity, for training and testing Q.

Each function damages an *aligned* face crop the way a generator does when it fails on real faces
(see issue "Q that agrees with people"): the landmarks are where :func:`augmenter.align.canonical_template`
puts them, so a mouth bar lands on the mouth and painted irises on the eyes.

Modes (:data:`FAILURE_MODES`, severity ``s`` in [0, 1], 0 = untouched):

* ``shading_mask``: a half-face shading mask painted on, as a relighting generator that only learned
  "darken one side" makes it: one side of the face darkened by up to ``0.85 s`` with a soft vertical
  edge near the nose, tinted blue or brown in the shade, no cast shadow.
* ``tint``: a colour cast over the face (blue, brown, green or magenta), strength ``0.45 s``; on a grey
  photo any colour at all is unnatural.
* ``teeth_bar``: a white bar (or a dark slit) pasted over the mouth, ``3 + 14 s`` px high at 128 px.
* ``painted_irises``: saturated blue discs painted over the irises, opacity ``s``.
* ``tile_shuffle``: the crop cut into 4 x 4 tiles of which a share ``s`` (at least two) swap places.
* ``seam``: a straight seam across the face: one side shifted by up to ``6 s`` px and brightened or
  darkened by ``50 s`` grey levels.

Every function takes and returns ``(H, W, 3)`` uint8 RGB; the randomness comes from ``rng`` and does not
depend on ``severity``, so one seed at growing severities gives the same failure, stronger.

Example:
    >>> rng = np.random.default_rng(0)
    >>> face = np.full((128, 128, 3), 128, np.uint8)
    >>> fail(face, "teeth_bar", 0.5, rng).shape
    (128, 128, 3)
"""
from __future__ import annotations

import cv2
import numpy as np

from augmenter.align import canonical_template

FAILURE_MODES: tuple[str, ...] = ("shading_mask", "tint", "teeth_bar", "painted_irises", "tile_shuffle", "seam")

_TINTS = np.array([[0.55, 0.75, 1.25], [1.25, 0.95, 0.65], [0.8, 1.2, 0.8], [1.2, 0.75, 1.2]], np.float32)


def fail(image: np.ndarray, mode: str, severity: float, rng: np.random.Generator) -> np.ndarray:
    """A copy of the aligned crop ``image`` with failure ``mode`` at ``severity`` (module docstring)."""
    from augmenter.quality.simulated import apply_damage

    return apply_damage(image, mode, severity, rng, _MODES, "failure mode")


def _landmarks(image: np.ndarray) -> np.ndarray:
    """The template's five points for this crop size (left eye, right eye, nose, mouth corners)."""
    return canonical_template(image.shape[1]) * np.array([1.0, image.shape[0] / image.shape[1]])


def _face_mask(image: np.ndarray) -> np.ndarray:
    """A soft ellipse over the face of an aligned crop, ``(H, W)`` float32 in [0, 1]."""
    h, w = image.shape[:2]
    pts = _landmarks(image)
    cx, cy = pts[2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = ((xx - cx) / (0.36 * w)) ** 2 + ((yy - cy * 0.95) / (0.48 * h)) ** 2
    return np.clip(1.5 - r, 0, 1).astype(np.float32)


def _blend(image: np.ndarray, target: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    out = image.astype(np.float32) * (1 - alpha[..., None]) + target * alpha[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _shading_mask(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    side = rng.choice([-1.0, 1.0])
    edge = _landmarks(image)[2, 0] + rng.uniform(-0.08, 0.08) * w
    xx = np.arange(w, dtype=np.float32)[None, :].repeat(h, 0)
    shade = 1 / (1 + np.exp(-side * (xx - edge) / (0.03 * w + 2)))
    alpha = shade * _face_mask(image)
    tint = _TINTS[rng.integers(2)]
    dark = image.astype(np.float32) * (1 - 0.85 * s) * (1 + (tint - 1) * s)
    return _blend(image, dark, alpha)


def _tint(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    tint = _TINTS[rng.integers(len(_TINTS))]
    cast = image.astype(np.float32) * (1 + (tint - 1) * 0.45 * s / 0.25)
    alpha = np.clip(_face_mask(image) * 1.2, 0, 1) * min(1.0, 0.25 + 0.75 * s)
    return _blend(image, cast, alpha)


def _teeth_bar(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    pts = _landmarks(image)
    (x0, y0), (x1, y1) = pts[3], pts[4]
    scale = w / 128
    half_h = (1.5 + 7 * s) * scale
    cy = (y0 + y1) / 2 + rng.uniform(-2, 2) * scale
    colour = (235.0, 235.0, 230.0) if rng.random() < 0.6 else (20.0, 12.0, 12.0)
    target = np.empty((h, w, 3), np.float32)
    target[:] = colour
    alpha = np.zeros((h, w), np.float32)
    alpha[int(round(cy - half_h)):int(round(cy + half_h)) + 1, int(round(x0 + 2 * scale)):int(round(x1 - 2 * scale)) + 1] = 1
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.6 * scale) * min(1.0, 0.4 + 0.6 * s)
    return _blend(image, target, alpha)


def _painted_irises(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    pts = _landmarks(image)
    alpha = np.zeros((h, w), np.float32)
    radius = max(1, int(round(w * 0.03)))
    for x, y in pts[:2]:
        cv2.circle(alpha, (int(round(x)), int(round(y))), radius, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 0.5) * s
    target = np.empty((h, w, 3), np.float32)
    target[:] = (40.0, 110.0, 255.0) if rng.random() < 0.7 else (60.0, 200.0, 255.0)
    return _blend(image, target, alpha)


def _tile_shuffle(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    k = 4
    th, tw = h // k, w // k
    order = rng.permutation(k * k)
    n = max(2, int(round(s * k * k)))
    chosen = order[:n]
    moved = np.roll(chosen, 1)
    out = image.copy()
    for src, dst in zip(chosen, moved):
        sy, sx = divmod(int(src), k)
        dy, dx = divmod(int(dst), k)
        out[dy * th:(dy + 1) * th, dx * tw:(dx + 1) * tw] = image[sy * th:(sy + 1) * th, sx * tw:(sx + 1) * tw]
    return out


def _seam(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    horizontal = rng.random() < 0.5
    out = image.astype(np.float32)
    shift = int(round(rng.choice([-1, 1]) * (1 + 5 * s) * w / 128))
    delta = rng.choice([-1, 1]) * 50 * s
    if horizontal:
        at = int(rng.uniform(0.35, 0.75) * h)
        out[at:] = np.roll(out[at:], shift, axis=1) + delta
    else:
        at = int(rng.uniform(0.35, 0.65) * w)
        out[:, at:] = np.roll(out[:, at:], shift, axis=0) + delta
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


_MODES = {"shading_mask": _shading_mask, "tint": _tint, "teeth_bar": _teeth_bar,
          "painted_irises": _painted_irises, "tile_shuffle": _tile_shuffle, "seam": _seam}
