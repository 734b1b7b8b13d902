"""FER-2013 reader: the class-folder layout, or the original ``fer2013.csv`` (extracted first).

Folder layout (as on Kaggle and in ``augmenter.datasets.fer2013_csv``'s output)::

    root/train/angry/Training_10118481.jpg        split "train", expression "anger"
    root/validation/happy/PublicTest_123.jpg      split "val"
    root/test/sad/PrivateTest_456.png             split "test"

Split folders go by the common names of :data:`SPLIT_FOLDERS` (any case): ``train`` / ``training``;
``val`` / ``valid`` / ``validation`` / ``PublicTest``; ``test`` / ``PrivateTest``. Each maps to
the canonical record split of :data:`augmenter.datasets.record.SPLITS` (``"train"``, ``"val"``,
``"test"``), the names the trainers compare with. Any other folder at the root is
refused with a :class:`DatasetFormatError` (a misnamed split must not quietly leave its images out
of a run), as are two folders of one split (``val`` and ``validation``). Emotion folders are the keys
of :data:`augmenter.attributes.FER_NAMES` (any case; ``angry`` is stored as ``"anger"``). ``extra``
keeps the folder name as ``emotion``; ``identity`` and ``lighting`` are unknown. Skipped and
counted: files directly under ``root``, unknown emotion folders (each of their files), files outside
an emotion folder or deeper, non-image files.

Example:
    >>> listing = read_fer2013("/data/fer2013")                           # doctest: +SKIP
    >>> listing = read_fer2013("/data/fer2013.csv")   # extracts to /data/fer2013_images  # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path

from augmenter.attributes import FER_NAMES
from augmenter.datasets._tree import (
    NOT_IMAGE, absolute, entries, finish, is_image_name, rel, require_dir, walk_class_folders,
)
from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.record import FaceRecord
from augmenter.datasets.splits import SPLIT_NAMES
from augmenter.errors import DatasetFormatError
from augmenter.skips import SkipReport

SPLIT_FOLDERS: dict[str, str] = SPLIT_NAMES
"""Split folder name, lower case (any case on disk) -> record split (the toolkit's one table of split names)."""
_ACCEPTED = "train/training, val/valid/validation/PublicTest, test/PrivateTest (any case)"


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
    for folder, split in _split_folders(root, skips):
        for emotion, entry in walk_class_folders(folder, root, skips):
            expression = FER_NAMES.get(emotion.lower())
            if expression is None:
                skips.add("unknown emotion folder", rel(entry.path, root))
            elif not is_image_name(entry.name):
                skips.add(NOT_IMAGE, rel(entry.path, root))
            else:
                records.append(FaceRecord(path=Path(entry.path), dataset=dataset, expression=expression,
                                          split=split, extra={"emotion": emotion}))
    return finish(records, skips, dataset, root)


def _split_folders(root: Path, skips: SkipReport) -> list[tuple[Path, str]]:
    """``(folder, record split)`` of each split folder under ``root``; files beside them are counted.

    Raises:
        DatasetFormatError: a folder that is no split folder, or a second folder of one split.
    """
    found: dict[str, Path] = {}
    for entry in entries(root, root, skips):
        if not entry.is_dir():
            skips.add("file outside a split folder", rel(entry.path, root))
            continue
        folder = Path(entry.path)
        split = SPLIT_FOLDERS.get(entry.name.lower())
        if split is None:
            raise DatasetFormatError(folder, f"not a FER-2013 split folder; expected {_ACCEPTED}")
        if split in found:
            raise DatasetFormatError(folder, f"the same split ({split!r}) as {found[split]}; keep one of the two")
        found[split] = folder
    return [(folder, split) for split, folder in found.items()]
