"""Metrics of the GAN evaluation: pure functions on numpy arrays.

* Distribution distances between two sets of features (e.g. Inception or face-embedding features of
  real and translated images): :func:`frechet_distance` (FID, Heusel et al. 2017, computed as the
  reference ``pytorch-fid`` does) and :func:`kernel_distance` (KID, Binkowski et al. 2018, computed as
  ``torch-fidelity`` does: same kernel, same unbiased estimator, same subset drawing for a seed).
* Per-image agreement with the ground truth: :func:`l1_error` (uint8 images on the 0-1 scale) and
  :func:`cosine_similarity_rows` (e.g. identity embeddings of output and input).
* Did the output reach its target: :func:`target_accuracy` (a classifier's predicted index against the
  target index) and :func:`within_one_accuracy` (lighting names; a flash also counts when the
  prediction is one of its nearest neighbouring flashes, see :data:`LIGHTING_NEIGHBOURS`).

Conventions: everything is computed in float64. Inputs of different lengths, NaN or inf features, or a
set of fewer than 2 feature rows raise ``ValueError``; an empty input to a per-item metric
(:func:`l1_error`, :func:`target_accuracy`, :func:`within_one_accuracy`) gives ``NaN`` (written as
``null`` by :func:`augmenter.gan_eval.report.write_gan_report`).

Example:
    >>> a = np.array([[0.0], [2.0]]); b = a + 3.0
    >>> round(frechet_distance(a, b), 6)          # same spread, means 3 apart
    9.0
    >>> within_one_accuracy(["flash06", "flash09", "ambient"], ["flash07", "flash07", "ambient"])
    0.6666666666666666
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import linalg

from augmenter.attributes import LIGHTING, lighting_neighbours


__all__ = [
    "FID_EPS", "IMAG_TOL", "LIGHTING_NEIGHBOURS",
    "cosine_similarity_rows", "feature_stats", "frechet_distance", "frechet_distance_from_stats",
    "kernel_distance", "l1_error", "lighting_neighbours", "target_accuracy", "within_one_accuracy",
]

FID_EPS = 1e-6
"""Added to the covariance diagonals when ``sqrtm(Sa Sb)`` fails on a singular product (pytorch-fid's value)."""

IMAG_TOL = 1e-3
"""Largest imaginary part on the diagonal of ``sqrtm(Sa Sb)`` that is discarded as round-off (pytorch-fid's)."""



# --------------------------------------------------------------------------------------------- #
# distribution distances


def _features(name: str, feats) -> np.ndarray:
    a = np.asarray(feats, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]  # N scalars = N one-dimensional features
    if a.ndim != 2:
        raise ValueError(f"{name} must be (N, D) features, not shape {a.shape}")
    if a.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 feature rows, got {a.shape[0]}")
    if a.shape[1] < 1:
        raise ValueError(f"{name} has no feature dimension: shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or inf")
    return a


def _same_dim(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")


def feature_stats(feats) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and covariance ``(D, D)`` (``ddof=1``, as ``np.cov``) of ``(N, D)`` features, float64.

    Compute the real set's statistics once and pass them to :func:`frechet_distance_from_stats`.
    """
    a = _features("feats", feats)
    return a.mean(axis=0), np.atleast_2d(np.cov(a, rowvar=False))


def frechet_distance_from_stats(mu_a, sigma_a, mu_b, sigma_b, *, eps: float = FID_EPS) -> float:
    """``||mu_a - mu_b||^2 + Tr(Sa + Sb - 2 sqrtm(Sa Sb))``, the Fréchet distance of two Gaussians.

    As pytorch-fid's ``calculate_frechet_distance``: when ``sqrtm(Sa Sb)`` is not finite, or scipy
    reports the product singular, it is recomputed as ``sqrtm((Sa + eps I)(Sb + eps I))``; an
    imaginary part is dropped when every diagonal entry's is within :data:`IMAG_TOL` of 0.

    Raises:
        ValueError: shapes that do not match, NaN or inf, or a large imaginary part of the matrix
            square root (the covariances are not valid, e.g. not positive semi-definite).
    """
    mu_a, mu_b = np.atleast_1d(np.asarray(mu_a, np.float64)), np.atleast_1d(np.asarray(mu_b, np.float64))
    sigma_a, sigma_b = np.atleast_2d(np.asarray(sigma_a, np.float64)), np.atleast_2d(np.asarray(sigma_b, np.float64))
    d = mu_a.shape[0]
    if mu_a.shape != (d,) or mu_b.shape != (d,) or sigma_a.shape != (d, d) or sigma_b.shape != (d, d):
        raise ValueError(f"mismatched statistics: means {mu_a.shape}, {mu_b.shape}; "
                         f"covariances {sigma_a.shape}, {sigma_b.shape}")
    for name, value in (("mu_a", mu_a), ("mu_b", mu_b), ("sigma_a", sigma_a), ("sigma_b", sigma_b)):
        if not np.isfinite(value).all():
            raise ValueError(f"{name} holds NaN or inf")

    diff = mu_a - mu_b
    covmean, singular = _sqrtm(sigma_a @ sigma_b)
    if singular or not np.isfinite(covmean).all():
        offset = np.eye(d) * eps
        covmean, _ = _sqrtm((sigma_a + offset) @ (sigma_b + offset))
        if not np.isfinite(covmean).all():
            raise ValueError("the matrix square root of the covariance product is not finite, even with eps added")
    if np.iscomplexobj(covmean):
        imag = np.abs(np.diagonal(covmean).imag).max()
        if imag > IMAG_TOL:
            raise ValueError(f"the matrix square root of the covariance product has an imaginary part of {imag:.3g} "
                             "(covariances not positive semi-definite?)")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean))


def _sqrtm(m: np.ndarray) -> tuple[np.ndarray, bool]:
    """``scipy.linalg.sqrtm(m)`` and whether scipy warned that ``m`` is singular (warning swallowed)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        root = linalg.sqrtm(m)
    singular = any(issubclass(w.category, linalg.LinAlgWarning) for w in caught)
    return np.asarray(root), singular


def frechet_distance(feats_a, feats_b, *, eps: float = FID_EPS) -> float:
    """FID between two feature sets ``(N, D)`` and ``(M, D)`` (1-D input = N scalar features).

    Symmetric, 0 for identical sets (up to round-off), and for ``D = 1`` equal to
    ``(mean_a - mean_b)^2 + (std_a - std_b)^2`` with ``ddof=1`` standard deviations.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(500, 4))
        >>> abs(frechet_distance(x, x)) < 1e-6
        True
    """
    a, b = _features("feats_a", feats_a), _features("feats_b", feats_b)
    _same_dim(a, b)
    return frechet_distance_from_stats(*feature_stats(a), *feature_stats(b), eps=eps)


def _polynomial_mmd(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the kernel ``(x.y / D + 1)^3`` between two equal-size sets."""
    d = x.shape[1]
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    m = x.shape[0]
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def kernel_distance(feats_a, feats_b, *, subsets: int = 10, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
    """KID: mean and standard deviation (``ddof=0``) of the unbiased polynomial-kernel MMD^2 over subsets.

    Each of the ``subsets`` rounds draws ``m = min(N, M, subset_size)`` rows of each set without
    replacement (``np.random.RandomState(seed)``, set A then set B, as torch-fidelity does, so the same
    seed gives torch-fidelity's value) and computes the unbiased MMD^2 estimate with the kernel
    ``k(x, y) = (x.y / D + 1)^3``. Being unbiased it can be slightly negative; for identical sets it is
    about 0 (of order ``1/m``).

    Example:
        >>> x = np.random.default_rng(0).normal(size=(200, 8))
        >>> mean, std = kernel_distance(x, x + 1.0, subsets=5, subset_size=100)
        >>> mean > 0.1
        True
    """
    a, b = _features("feats_a", feats_a), _features("feats_b", feats_b)
    _same_dim(a, b)
    if int(subsets) < 1 or int(subset_size) < 2:
        raise ValueError(f"need subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    m = min(a.shape[0], b.shape[0], int(subset_size))
    rng = np.random.RandomState(seed)
    mmds = np.empty(int(subsets))
    for i in range(int(subsets)):
        xa = a[rng.choice(a.shape[0], m, replace=False)]
        xb = b[rng.choice(b.shape[0], m, replace=False)]
        mmds[i] = _polynomial_mmd(xa, xb)
    return float(mmds.mean()), float(mmds.std())


# --------------------------------------------------------------------------------------------- #
# per-image agreement


def l1_error(a, b) -> float:
    """Mean absolute difference of two uint8 images (or stacks of the same shape), on the 0-1 scale.

    ``NaN`` for empty arrays.

    Example:
        >>> l1_error(np.full((2, 2, 3), 255, np.uint8), np.zeros((2, 2, 3), np.uint8))
        1.0
    """
    a, b = np.asarray(a), np.asarray(b)
    for name, arr in (("a", a), ("b", b)):
        if arr.dtype != np.uint8:
            raise TypeError(f"{name} must be uint8, not {arr.dtype}")
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return float("nan")
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(dtype=np.float64) / 255.0)


def cosine_similarity_rows(a, b, *, eps: float = 1e-8) -> np.ndarray:
    """``(N,)`` cosine similarity of row ``i`` of ``a`` with row ``i`` of ``b`` (both ``(N, D)``), float64.

    As ``torch.nn.functional.cosine_similarity``: each norm is clamped to at least ``eps``, so a zero
    row gives 0. A 1-D pair is one row (a shape ``(1,)`` result).
    """
    a, b = np.atleast_2d(np.asarray(a, np.float64)), np.atleast_2d(np.asarray(b, np.float64))
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"need two (N, D) arrays of the same shape, got {a.shape} and {b.shape}")
    norms = np.maximum(np.linalg.norm(a, axis=1), eps) * np.maximum(np.linalg.norm(b, axis=1), eps)
    return np.einsum("ij,ij->i", a, b) / norms


# --------------------------------------------------------------------------------------------- #
# target reached


def target_accuracy(pred_idx, target_idx) -> float:
    """Share of items whose predicted class index equals the target index (``NaN`` when empty)."""
    pred, target = np.asarray(pred_idx).ravel(), np.asarray(target_idx).ravel()
    if pred.shape != target.shape:
        raise ValueError(f"lengths differ: {pred.size} predictions, {target.size} targets")
    if pred.size == 0:
        return float("nan")
    return float(np.mean(pred == target))


LIGHTING_NEIGHBOURS: dict[str, frozenset[str]] = {name: lighting_neighbours(name) for name in LIGHTING}
"""Lighting name -> its nearest other flashes (:func:`lighting_neighbours`); ``"ambient"`` -> none."""


def within_one_accuracy(pred_names: Sequence[str], target_names: Sequence[str]) -> float:
    """Share of items whose predicted lighting is the target or one of its :data:`LIGHTING_NEIGHBOURS`.

    ``"ambient"`` matches only itself, and so does a name outside :data:`~augmenter.attributes.LIGHTING`
    (binned or raw Yale B labels have no neighbour table). ``NaN`` when empty.
    """
    pred, target = [str(p) for p in pred_names], [str(t) for t in target_names]
    if len(pred) != len(target):
        raise ValueError(f"lengths differ: {len(pred)} predictions, {len(target)} targets")
    if not pred:
        return float("nan")
    hits = sum(p == t or p in LIGHTING_NEIGHBOURS.get(t, ()) for p, t in zip(pred, target))
    return hits / len(pred)
