"""Decoding face images for Q in DataLoader workers, with failures reported instead of raised.

Workers decode and resize; the main process gets ``uint8`` batches (a quarter of float32's transfer
cost) and converts them on the model's device with :func:`to_model_input`.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from augmenter.errors import ImageDecodeError
from augmenter.io import decode_image


def fit_face(image: np.ndarray, size: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(size, size, 3)`` uint8: area-resized when shrinking, linear when growing."""
    if image.shape[:2] == (size, size):
        return image
    interpolation = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def load_face(path: str | Path, size: int) -> np.ndarray:
    """``(size, size, 3)`` uint8 RGB: decoded (grey replicated to RGB) and resized by :func:`fit_face`."""
    return fit_face(decode_image(path), size)


class FaceImages(Dataset):
    """Item ``i``: ``(i, (3, size, size) uint8 tensor, "")`` or ``(i, empty tensor, "<path>: <reason>")``."""

    def __init__(self, paths: Sequence[str | Path], size: int):
        self.paths = [str(p) for p in paths]
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int):
        try:
            image = load_face(self.paths[index], self.size)
        except ImageDecodeError as err:
            return index, torch.empty(0, dtype=torch.uint8), str(err)
        return index, torch.from_numpy(image).permute(2, 0, 1).contiguous(), ""


def collate_faces(batch):
    """``(indices (B,) int64, images (B, 3, S, S) uint8, failures [(index, message)])``, failures dropped."""
    good = [(i, img) for i, img, err in batch if not err]
    failures = [(i, err) for i, _, err in batch if err]
    if not good:
        return torch.empty(0, dtype=torch.long), torch.empty(0, 3, 0, 0, dtype=torch.uint8), failures
    indices = torch.tensor([i for i, _ in good], dtype=torch.long)
    return indices, torch.stack([img for _, img in good]), failures


def to_model_input(images: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 ``(B, 3, S, S)`` in 0..255 -> float32 in [-1, 1] on ``device``."""
    return images.to(device, non_blocking=True).float().div_(127.5).sub_(1.0)


def to_uint8_images(images: torch.Tensor) -> "np.ndarray":
    """Model output ``(B, 3, S, S)`` in [-1, 1] -> ``(B, S, S, 3)`` uint8 RGB on the CPU (the inverse of
    :func:`to_model_input`, values clamped)."""
    return ((images.detach().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
