"""Decoding face images for Q in DataLoader workers, with failures reported instead of raised.

The decoding, resizing, failure reporting and :func:`collate_faces` are the shared ones of
:mod:`augmenter.image_dataset`; Q's images need nothing more.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from augmenter.image_dataset import ImageDataset, collate_faces


class FaceImages(ImageDataset):
    """Item ``i``: ``(i, (3, size, size) uint8 tensor, "")`` or ``(i, empty tensor, "<path>: <reason>")``
    (:class:`augmenter.image_dataset.ImageDataset` over ``paths`` as strings)."""

    def __init__(self, paths: Sequence[str | Path], size: int):
        super().__init__([str(p) for p in paths], size)


__all__ = ["FaceImages", "collate_faces"]
