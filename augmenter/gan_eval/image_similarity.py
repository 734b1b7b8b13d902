"""Full-reference similarity of two images of the same size: SSIM and PSNR.

Both take uint8 (or float) arrays ``(H, W)`` or ``(H, W, C)`` with data range 0..255.

* :func:`psnr` = ``10 log10(255^2 / MSE)`` in dB; identical images give ``inf``.
* :func:`ssim`: Wang et al. 2004 with the usual constants (``K1 = 0.01``, ``K2 = 0.03``), an 11x11
  Gaussian window of sigma 1.5 and statistics over the window's valid positions (as scikit-image
  does with ``gaussian_weights=True``); channels are averaged.

Example:
    >>> a = np.zeros((16, 16), np.uint8); b = a.copy(); b[0, 0] = 16
    >>> round(psnr(a, b), 2)          # MSE = 16^2 / 256 = 1
    48.13
    >>> ssim(a, a)
    1.0
"""
from __future__ import annotations

import math

import cv2
import numpy as np

_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim not in (2, 3):
        raise ValueError(f"need two images of one shape (H, W) or (H, W, C), got {a.shape} and {b.shape}")
    return a, b


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio in dB (``inf`` for identical images)."""
    a, b = _pair(a, b)
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def _ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    blur = lambda t: cv2.GaussianBlur(t, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)[5:-5, 5:-5]  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2, blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + _C1) * (2 * cov + _C2)) / ((mu_a ** 2 + mu_b ** 2 + _C1) * (var_a + var_b + _C2))
    return float(s.mean())


def ssim(a, b) -> float:
    """Structural similarity in [-1, 1] (1 for identical images); images of at least 11x11 pixels."""
    a, b = _pair(a, b)
    if min(a.shape[:2]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {a.shape[:2]}")
    if a.ndim == 2:
        return _ssim_channel(a, b)
    return float(np.mean([_ssim_channel(a[..., c], b[..., c]) for c in range(a.shape[2])]))
