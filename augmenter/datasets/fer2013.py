"""FER-2013 reader: the class-folder layout, or the original ``fer2013.csv`` (extracted first).

Folder layout (as on Kaggle and in ``augmenter.datasets.fer2013_csv``'s output)::

    root/train/angry/Training_10118481.jpg        split "train", expression "anger"
    root/validation/happy/PublicTest_123.jpg      split "val"
    root/test/sad/PrivateTest_456.png             split "test"

Split folders are exactly :data:`SPLIT_FOLDERS`; emotion folders are the keys of
:data:`augmenter.attributes.FER_NAMES` (any case; ``angry`` is stored as ``"anger"``). ``extra``
keeps the folder name as ``emotion``; ``identity`` and ``lighting`` are unknown. Skipped and
counted: unknown split or emotion folders (each of their files), files outside an emotion folder or
deeper, non-image files.

Example:
    >>> listing = read_fer2013("/data/fer2013")                           # doctest: +SKIP
    >>> listing = read_fer2013("/data/fer2013.csv")   # extracts to /data/fer2013_images  # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path

from augmenter.attributes import FER_NAMES
from augmenter.datasets._tree import (
    NOT_IMAGE, absolute, entries, finish, is_image_name, rel, require_dir, skip_entry, walk_class_folders,
)
from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.record import FaceRecord
from augmenter.skips import SkipReport

SPLIT_FOLDERS: dict[str, str] = {"train": "train", "validation": "val", "test": "test"}
"""Split folder name -> record split."""


def read_fer2013(
    root: str | os.PathLike,
    *,
    out_root: str | os.PathLike | None = None,
    dataset: str = "fer2013",
) -> DatasetListing:
    """List FER-2013 from its folder layout, or from ``fer2013.csv`` when ``root`` is that file.

    For the CSV, images are written once to ``out_root`` (default ``<csv folder>/fer2013_images``)
    by :func:`augmenter.datasets.fer2013_csv.extract_fer2013_csv`; files already there are reused.
    """
    path = absolute(root)
    if path.is_file() or path.suffix.lower() == ".csv":
        from augmenter.datasets.fer2013_csv import extract_fer2013_csv

        target = out_root if out_root is not None else path.parent / "fer2013_images"
        return extract_fer2013_csv(path, target, dataset=dataset)
    return read_fer2013_folders(path, dataset=dataset)


def read_fer2013_folders(root: str | os.PathLike, *, dataset: str = "fer2013") -> DatasetListing:
    """List ``root/<split>/<emotion>/<image>`` (see module docstring)."""
    root = require_dir(root)
    skips = SkipReport()
    records: list[FaceRecord] = []
    for split in entries(root):
        if not split.is_dir():
            skips.add("file outside a split folder", rel(split.path, root))
        elif split.name not in SPLIT_FOLDERS:
            skip_entry(split, root, skips, "unknown split folder")
        else:
            for emotion, entry in walk_class_folders(Path(split.path), root, skips):
                expression = FER_NAMES.get(emotion.lower())
                if expression is None:
                    skips.add("unknown emotion folder", rel(entry.path, root))
                elif not is_image_name(entry.name):
                    skips.add(NOT_IMAGE, rel(entry.path, root))
                else:
                    records.append(FaceRecord(path=Path(entry.path), dataset=dataset, expression=expression,
                                              split=SPLIT_FOLDERS[split.name], extra={"emotion": emotion}))
    return finish(records, skips, dataset, root)
