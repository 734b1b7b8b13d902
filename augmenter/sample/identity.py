"""Seeded synthetic identities: a face shape and the colours painted on it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_SHAPE = 40

# sRGB albedos, light to dark; an identity's skin is drawn between neighbouring entries.
_SKIN = np.array([[0.96, 0.80, 0.69], [0.90, 0.71, 0.58], [0.80, 0.60, 0.46], [0.64, 0.45, 0.32],
                  [0.47, 0.32, 0.22], [0.36, 0.24, 0.17]])
_HAIR = np.array([[0.09, 0.07, 0.06], [0.20, 0.13, 0.08], [0.38, 0.25, 0.14], [0.66, 0.52, 0.32],
                  [0.55, 0.53, 0.52], [0.30, 0.12, 0.06]])
_IRIS = np.array([[0.25, 0.15, 0.08], [0.12, 0.08, 0.05], [0.30, 0.42, 0.55], [0.35, 0.42, 0.25]])


@dataclass(frozen=True)
class Identity:
    """One synthetic person. Colours are sRGB albedos in [0, 1]; lengths in mm.

    Example:
        >>> a, b = make_identity(0, 3), make_identity(0, 3)
        >>> a.name, bool((a.shape == b.shape).all())
        ('s004', True)
    """

    name: str
    index: int
    shape: np.ndarray  # (40,) shape coefficients in std units
    skin: np.ndarray   # (3,)
    hair: np.ndarray
    iris: np.ndarray
    lips: np.ndarray
    brows: np.ndarray
    hairline_mm: float  # hairline height above the brows
    hair_volume: float  # 0..1 scales the hair cap


def make_identity(seed: int, index: int) -> Identity:
    """The ``index``-th identity of ``seed``: same arguments, same person (platform independent)."""
    rng = np.random.default_rng([int(seed), int(index), 7])
    shape = np.clip(rng.normal(0.0, 1.0, N_SHAPE), -2.5, 2.5).astype(np.float32)
    skin = _mix(_SKIN, rng.uniform(0, len(_SKIN) - 1))
    hair = _HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.85, 1.15)
    lips = skin * np.array([0.86, 0.58, 0.58]) + np.array([0.06, 0.0, 0.0])
    brows = np.minimum(hair, skin * 0.45) * 0.9
    return Identity(
        name=f"s{index + 1:03d}",
        index=int(index),
        shape=shape,
        skin=skin,
        hair=np.clip(hair, 0, 1),
        iris=_IRIS[rng.integers(len(_IRIS))],
        lips=np.clip(lips, 0, 1),
        brows=brows,
        hairline_mm=float(rng.uniform(22.0, 38.0)),
        hair_volume=float(rng.uniform(0.0, 1.0)),
    )


def _mix(palette: np.ndarray, t: float) -> np.ndarray:
    i = min(int(t), len(palette) - 2)
    f = t - i
    return palette[i] * (1 - f) + palette[i + 1] * f
