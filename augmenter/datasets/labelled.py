"""Labelled face images as a torch Dataset: image plus lighting / expression / identity indices.

An attribute the record does not label (or whose value is not in the vocabulary) has index -1,
the "unknown" marker that losses mask out (StarGAN's mask-vector idea).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from augmenter.datasets.record import FaceRecord
from augmenter.image_dataset import ImageDataset, partition_failures, stack_images

UNLABELLED = -1


def label_index(value: str, vocabulary: Sequence[str]) -> int:
    """Index of ``value`` in ``vocabulary``, or -1 when absent (unknown or another vocabulary)."""
    try:
        return list(vocabulary).index(value)
    except ValueError:
        return UNLABELLED


class LabelledFaces(ImageDataset):
    """Item: ``(index, image (3, S, S) uint8, lighting, expression, identity, error)``.

    The shared :class:`augmenter.image_dataset.ImageDataset` item with the record's three label indices
    inserted before the error. A record whose image cannot be decoded yields an empty image and its one-line
    error (the collate function :func:`collate_labelled` drops it and passes the error on).
    """

    def __init__(self, records: Sequence[FaceRecord], size: int, lighting: Sequence[str],
                 expression: Sequence[str], identities: Sequence[str] | None = None):
        self.records = list(records)
        super().__init__([r.path for r in self.records], size)
        self.lighting = torch.tensor([label_index(r.lighting, lighting) for r in self.records])
        self.expression = torch.tensor([label_index(r.expression, expression) for r in self.records])
        ids = list(identities) if identities is not None else []
        self.identity = torch.tensor([label_index(f"{r.dataset}/{r.identity}", ids) for r in self.records])

    def __getitem__(self, i: int):
        i, image, error = super().__getitem__(i)
        return i, image, int(self.lighting[i]), int(self.expression[i]), int(self.identity[i]), error


def collate_labelled(batch):
    """``(indices, images uint8 (B,3,S,S), lighting (B,), expression (B,), identity (B,), errors)``."""
    good, failures = partition_failures(batch, error_at=5)
    indices, images = stack_images(good)
    lighting, expression, identity = (torch.tensor([item[k] for item in good], dtype=torch.long) for k in (2, 3, 4))
    return indices, images, lighting, expression, identity, [message for _, message in failures]
