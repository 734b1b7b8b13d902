"""Decoding face images for Q in DataLoader workers, with failures reported instead of raised.

Workers decode and resize; the main process gets ``uint8`` batches (a quarter of float32's transfer
cost) and converts them on the model's device with :func:`to_model_input`.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from augmenter.errors import ImageDecodeError
from augmenter.tensors import load_face



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

