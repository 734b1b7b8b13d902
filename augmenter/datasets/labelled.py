"""Labelled face images as a torch Dataset: image plus lighting / expression / identity indices.

An attribute the record does not label (or whose value is not in the vocabulary) has index -1,
the "unknown" marker that losses mask out (StarGAN's mask-vector idea).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from augmenter.datasets.record import FaceRecord
from augmenter.errors import ImageDecodeError
from augmenter.tensors import load_face

UNLABELLED = -1


def label_index(value: str, vocabulary: Sequence[str]) -> int:
    """Index of ``value`` in ``vocabulary``, or -1 when absent (unknown or another vocabulary)."""
    try:
        return list(vocabulary).index(value)
    except ValueError:
        return UNLABELLED


class LabelledFaces(Dataset):
    """Item: ``(index, image (3, S, S) uint8, lighting, expression, identity, error)``.

    A record whose image cannot be decoded yields an empty image and its one-line error (the
    collate function :func:`collate_labelled` drops it and passes the error on).
    """

    def __init__(self, records: Sequence[FaceRecord], size: int, lighting: Sequence[str],
                 expression: Sequence[str], identities: Sequence[str] | None = None):
        self.records = list(records)
        self.size = size
        self.lighting = torch.tensor([label_index(r.lighting, lighting) for r in self.records])
        self.expression = torch.tensor([label_index(r.expression, expression) for r in self.records])
        ids = list(identities) if identities is not None else []
        self.identity = torch.tensor([label_index(f"{r.dataset}/{r.identity}", ids) for r in self.records])

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int):
        try:
            image = torch.from_numpy(load_face(self.records[i].path, self.size)).permute(2, 0, 1).contiguous()
            error = ""
        except ImageDecodeError as err:
            image, error = torch.empty(0, dtype=torch.uint8), str(err)
        return i, image, int(self.lighting[i]), int(self.expression[i]), int(self.identity[i]), error


def collate_labelled(batch):
    """``(indices, images uint8 (B,3,S,S), lighting (B,), expression (B,), identity (B,), errors)``."""
    good = [b for b in batch if not b[5]]
    errors = [b[5] for b in batch if b[5]]
    if not good:
        empty = torch.empty(0, dtype=torch.long)
        return empty, torch.empty(0, 3, 0, 0, dtype=torch.uint8), empty, empty, empty, errors
    cols = list(zip(*good))
    return (torch.tensor(cols[0]), torch.stack(cols[1]), torch.tensor(cols[2]), torch.tensor(cols[3]),
            torch.tensor(cols[4]), errors)
