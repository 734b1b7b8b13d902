"""Foundation: the one image Dataset of the toolkit — decode a file, fit it to ``S x S``, report a failure
instead of raising — and the one collate that drops the failures. Imports no feature module.

Every Dataset that feeds a network face images by path builds on it (:class:`augmenter.quality.images.FaceImages`,
:class:`augmenter.datasets.labelled.LabelledFaces`, :class:`augmenter.expand.sources.ChunkImages`,
:class:`recognition.data.FaceSamples`, :class:`evaluation.ijbb.AlignedCrops`), so they all decode the same way
(:func:`augmenter.io.decode_image`: RGB, grey replicated), resize the same way (:func:`augmenter.tensors.fit_face`
unless a dataset prepares its crop otherwise) and word a failure the same way.

An item is ``(index, image, error)``: ``image`` a ``(3, S, S)`` uint8 tensor and ``error`` ``""``, or an empty
uint8 tensor and ``error`` the one line ``"<path>: <reason>"``. Workers decode and resize; the main process gets
``uint8`` batches (a quarter of float32's transfer cost) and converts them on the model's device with
:func:`augmenter.tensors.to_model_input`.

Example:
    >>> loader = DataLoader(ImageDataset(paths, 112), batch_size=64, collate_fn=collate_faces)  # doctest: +SKIP
    >>> indices, images, failures = next(iter(loader))                                          # doctest: +SKIP
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from augmenter.errors import ImageDecodeError
from augmenter.io import decode_image
from augmenter.tensors import fit_face

Prepare = Callable[[np.ndarray], np.ndarray]
"""Decoded ``(H, W, 3)`` uint8 RGB -> the ``(S, S, 3)`` uint8 crop a dataset yields (may raise :class:`ImageRejected`)."""


class ImageRejected(Exception):
    """An image that decoded but that a dataset refuses (e.g. a face under the minimum size): ``str(err)`` is
    ``"<path>: <reason>"`` with ``path`` as given."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


def empty_image() -> torch.Tensor:
    """The image of a failed item: an empty uint8 tensor."""
    return torch.empty(0, dtype=torch.uint8)


def image_tensor(path: str | os.PathLike, prepare: Prepare) -> torch.Tensor:
    """``(3, S, S)`` uint8 tensor of the file ``path``, decoded and passed through ``prepare``.

    Raises :class:`ImageDecodeError` (unreadable file) or :class:`ImageRejected` (refused by ``prepare``)."""
    image = np.ascontiguousarray(prepare(decode_image(path)))
    return torch.from_numpy(image).permute(2, 0, 1).contiguous()


def image_item(index: int, path: str | os.PathLike, prepare: Prepare) -> tuple[int, torch.Tensor, str]:
    """``(index, (3, S, S) uint8, "")`` or ``(index, empty, "<path>: <reason>")``: :func:`image_tensor` with its
    failure reported instead of raised."""
    try:
        return index, image_tensor(path, prepare), ""
    except (ImageDecodeError, ImageRejected) as err:
        return index, empty_image(), str(err)


class ImageDataset(Dataset):
    """Item ``i``: ``(i, (3, size, size) uint8 tensor, "")`` or ``(i, empty tensor, "<path>: <reason>")`` for
    ``paths[i]`` (kept as given).

    Subclasses change the crop by overriding :meth:`prepare` (e.g. to augment it, or to refuse an image by
    raising :class:`ImageRejected`), and add their own fields to the item around :meth:`__getitem__`."""

    def __init__(self, paths: Sequence[str | os.PathLike], size: int):
        self.paths = list(paths)
        self.size = size

    def __len__(self) -> int:
        return len(self.paths)

    def prepare(self, index: int, image: np.ndarray) -> np.ndarray:
        """The ``(size, size, 3)`` uint8 crop of item ``index`` from its decoded image: :func:`fit_face`."""
        return fit_face(image, self.size)

    def image(self, index: int) -> torch.Tensor:
        """Item ``index``'s ``(3, size, size)`` uint8 tensor; raises :class:`ImageDecodeError` / :class:`ImageRejected`."""
        return image_tensor(self.paths[index], lambda image: self.prepare(index, image))

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor, str]:
        return image_item(index, self.paths[index], lambda image: self.prepare(index, image))


def partition_failures(batch: Sequence[tuple], error_at: int = 2) -> tuple[list[tuple], list[tuple[int, str]]]:
    """``(good items, failures [(index, message)])`` of a batch of items ``(index, image, ...)`` whose error
    message is field ``error_at`` (``""`` when the item decoded)."""
    good = [item for item in batch if not item[error_at]]
    failures = [(item[0], item[error_at]) for item in batch if item[error_at]]
    return good, failures


def stack_images(good: Sequence[tuple]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(indices (B,) int64, images (B, 3, S, S) uint8)`` of decoded items ``(index, image, ...)``;
    ``(empty, (0, 3, 0, 0))`` for none."""
    if not good:
        return torch.empty(0, dtype=torch.long), torch.empty(0, 3, 0, 0, dtype=torch.uint8)
    return torch.tensor([item[0] for item in good], dtype=torch.long), torch.stack([item[1] for item in good])


def collate_faces(batch: Sequence[tuple[int, torch.Tensor, str]]):
    """``(indices (B,) int64, images (B, 3, S, S) uint8, failures [(index, message)])``, failures dropped."""
    good, failures = partition_failures(batch)
    indices, images = stack_images(good)
    return indices, images, failures


__all__ = ["ImageDataset", "ImageRejected", "Prepare", "collate_faces", "empty_image", "image_item", "image_tensor",
           "partition_failures", "stack_images"]
