"""The source images of an expand run: the dataset listing, and their decoding in DataLoader workers."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.record import FaceRecord
from augmenter.datasets.registry import DATASETS, read_dataset
from augmenter.datasets.splits import partition_by_split, record_split
from augmenter.errors import ImageDecodeError
from augmenter.image_dataset import ImageDataset, ImageRejected

SAMPLE_FOLDER = ".sample"
SAMPLE_IDENTITIES = 8
SAMPLE_LIGHTING = ("ambient", "flash04", "flash07", "flash09", "flash11", "flash13", "flash16")


def builtin_sample(folder: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Render (once) the small built-in sample that ``--dataset sample`` without ``--root`` expands:
    8 faces x 6 expressions x 7 lights at 64 px (336 images, about 20 s on 2 cores)."""
    from augmenter.sample.tree import SampleConfig, render_sample

    render_sample(folder, SampleConfig(identities=SAMPLE_IDENTITIES, lighting=SAMPLE_LIGHTING), progress=progress)
    return folder


def open_sources(dataset: str, root: str | None, csv: str | None, sample_folder: Path, limit: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> DatasetListing:
    """The listing of ``dataset`` at ``root`` (the built-in sample, rendered in ``sample_folder``, when
    ``sample`` has no root), cut to its first ``limit`` records."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    if root is None:
        if dataset != "sample":
            raise ValueError(f"--dataset {dataset} needs --root (the dataset's folder)")
        root = str(builtin_sample(sample_folder, progress))
    options = {"csv": csv} if dataset == "affectnet" and csv else {}
    listing = read_dataset(dataset, root, **options)
    if limit is not None:
        listing.records = listing.records[:limit]
    return listing


def training_sources(records: Sequence[FaceRecord], include_eval_splits: bool = False,
                     dataset: str = "the dataset") -> tuple[list[FaceRecord], str | None]:
    """``(sources, notice)``: the records to expand and a line saying what was done with evaluation splits.

    By default only training sources are expanded (the train split, and datasets without splits): a
    variant of a validation or test face that later joins a training set is a leak, and a manifest full
    of such variants invites it. ``include_eval_splits`` keeps them (e.g. to study the generator on
    held-out faces); their manifest rows then say ``source_split`` ``val`` / ``test`` and every trainer
    refuses them (:mod:`augmenter.datasets.leak`). ``notice`` is ``None`` when there are no evaluation
    sources. ``ValueError`` when every source is in an evaluation split and they are not included.
    """
    training, evaluation = partition_by_split(records)
    if not evaluation:
        return list(records), None
    counts = ", ".join(f"{split} {n}" for split, n in sorted(Counter(map(record_split, evaluation)).items()))
    if include_eval_splits:
        return list(records), (f"expanding {len(evaluation)} source image(s) of evaluation splits ({counts}) as "
                               "asked (--include-eval-splits): their rows say so in source_split, and trainers "
                               "refuse them")
    if not training:
        raise ValueError(f"all {len(evaluation)} source image(s) of {dataset} are in evaluation splits ({counts}): "
                         "their variants must not train a model; pass --include-eval-splits to expand them anyway")
    return training, (f"left out {len(evaluation)} source image(s) of evaluation splits ({counts}): variants of "
                      "evaluation faces must not train a model; --include-eval-splits expands them")


class SourceImages(ImageDataset):
    """The shared :class:`augmenter.image_dataset.ImageDataset` over the records' paths, refusing a face whose
    short side is under ``min_size`` (:class:`ImageRejected` ``"<path>: <w>x<h> px, under --min-size <m>"``)."""

    def __init__(self, records: Sequence[FaceRecord], size: int, min_size: int):
        super().__init__([str(r.path) for r in records], size)
        self.min_size = min_size

    def prepare(self, index: int, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        if min(h, w) < self.min_size:
            raise ImageRejected(self.paths[index], f"{w}x{h} px, under --min-size {self.min_size}")
        return super().prepare(index, image)


class ChunkImages(Dataset):
    """Item ``i`` is chunk ``chunks[i]`` decoded: ``(chunk_number, sources, images, failures)``.

    ``sources`` are the record indices that decoded, ``images`` their ``(n, 3, size, size)`` uint8
    tensor, ``failures`` ``[(record index, reason, message)]`` for the others (reason is a short
    category for the skip counts: ``"unreadable image"`` or ``"face too small"``).

    Unlike the other image datasets an item is a whole chunk, not one image: the expand engine writes,
    checkpoints and resumes by chunk, so a chunk's decoded sources and its failures must arrive together.
    Each source goes through the shared decode / resize / failure core (:class:`SourceImages`); what is
    kept here is the grouping and the failure category.
    """

    def __init__(self, records: Sequence[FaceRecord], chunks: Sequence[tuple[int, range]], size: int, min_size: int):
        self.sources = SourceImages(records, size, min_size)
        self.chunks = list(chunks)
        self.size, self.min_size = size, min_size

    @property
    def paths(self) -> list[str]:
        return self.sources.paths

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, i: int):
        number, sources = self.chunks[i]
        good, images, failures = [], [], []
        for s in sources:
            try:
                images.append(self.sources.image(s))
            except ImageDecodeError as err:
                failures.append((s, "unreadable image", str(err)))
                continue
            except ImageRejected as err:
                failures.append((s, "face too small", str(err)))
                continue
            good.append(s)
        batch = torch.stack(images) if images else torch.empty(0, 3, self.size, self.size, dtype=torch.uint8)
        return number, good, batch, failures
