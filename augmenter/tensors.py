"""Foundation: face images as arrays and tensors — the one uint8 <-> model-input conversion pair
(images 0..255 <-> float32 in [-1, 1]) and the one way each kind is resized. Imports no feature module.

Every network in the toolkit (Q, the generators, the attribute classifier, the recognition nets)
takes ``(B, 3, S, S)`` float images in [-1, 1]; data moves as ``uint8`` (a quarter of float32's
transfer cost) and is converted on the model's device. ``x / 127.5 - 1`` forward; the inverse
clamps to [-1, 1] and *rounds* to the nearest level, so ``to_uint8_images(to_model_input(u))``
gives back ``u`` exactly.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from augmenter.io import decode_image


def to_model_input(images: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 ``(B, 3, S, S)`` in 0..255 -> float32 in [-1, 1] on ``device``."""
    return images.to(device, non_blocking=True).float().div_(127.5).sub_(1.0)


def faces_to_input(faces: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(N, S, S, 3)`` uint8 RGB faces -> ``(N, 3, S, S)`` float32 in [-1, 1] on ``device``."""
    return to_model_input(torch.from_numpy(np.ascontiguousarray(faces)).permute(0, 3, 1, 2), device)


def to_uint8_images(images: torch.Tensor) -> np.ndarray:
    """Model output ``(B, 3, S, S)`` in [-1, 1] -> ``(B, S, S, 3)`` uint8 RGB on the CPU (the inverse of
    :func:`to_model_input`, values clamped)."""
    return ((images.detach().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def grey_images(images: torch.Tensor) -> torch.Tensor:
    """``(n,)`` bool: which ``(n, 3, H, W)`` images have three equal channels (a grey photo, bit for bit)."""
    return (images.amax(1) == images.amin(1)).flatten(1).all(1)


def resize_square(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of ``(B, C, H, W)`` to ``size x size``, antialiased when it shrinks; differentiable."""
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=h > size or w > size)


def fit_face(image: np.ndarray, size: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(size, size, 3)`` uint8: area-resized when shrinking, linear when growing."""
    if image.shape[:2] == (size, size):
        return image
    interpolation = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def load_face(path: str | Path, size: int) -> np.ndarray:
    """``(size, size, 3)`` uint8 RGB: decoded (grey replicated to RGB) and resized by :func:`fit_face`."""
    return fit_face(decode_image(path), size)
