"""Generic two-level trees: one folder per class or per identity, images inside.

Layout (any suffix of :data:`augmenter.io.IMAGE_EXTENSIONS`, any case)::

    root/smile/img_001.png          read_class_folders: expression "smile"
    root/happy_kids/a.jpg           read_class_folders: extra["class"] = "happy_kids"
    root/alice/1.jpg                read_identity_folders: identity "alice"

:func:`read_class_folders` sets ``expression`` to the folder name when that name is one of
:data:`augmenter.attributes.EXPRESSIONS` (exact, lower case); any other class name leaves
``expression`` unknown. Either way ``extra["class"]`` keeps the folder name and ``identity`` is
unknown. Skipped and counted: files directly under ``root``, files in deeper subfolders, files
without an image suffix.

Example:
    >>> [r.expression for r in read_class_folders("/data/faces").records][:2]   # doctest: +SKIP
    ['smile', 'smile']
"""
from __future__ import annotations

import os
from pathlib import Path

from augmenter.attributes import EXPRESSIONS
from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.record import UNKNOWN, FaceRecord
from augmenter.skips import SkipReport
from augmenter.datasets._tree import NOT_IMAGE, finish, is_image_name, rel, require_dir, walk_class_folders


def _images(root: Path, skips: SkipReport):
    for folder, entry in walk_class_folders(root, root, skips):
        if is_image_name(entry.name):
            yield folder, Path(entry.path)
        else:
            skips.add(NOT_IMAGE, rel(entry.path, root))


def read_class_folders(root: str | os.PathLike, *, dataset: str = "class-folder") -> DatasetListing:
    """List ``root/<class>/<image>``; the class is an expression when it names one (module docstring)."""
    root = require_dir(root)
    skips = SkipReport()
    records = [
        FaceRecord(
            path=path,
            dataset=dataset,
            expression=folder if folder in EXPRESSIONS else UNKNOWN,
            extra={"class": folder},
        )
        for folder, path in _images(root, skips)
    ]
    return finish(records, skips, dataset, root)


def read_identity_folders(root: str | os.PathLike, *, dataset: str = "folder") -> DatasetListing:
    """List ``root/<identity>/<image>``; ``identity`` is the folder name."""
    root = require_dir(root)
    skips = SkipReport()
    records = [FaceRecord(path=path, dataset=dataset, identity=folder) for folder, path in _images(root, skips)]
    return finish(records, skips, dataset, root)
