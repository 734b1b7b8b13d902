"""CASIA-WebFace reader: one folder per identity, numbered JPEGs.

Layout::

    root/0000045/001.jpg
    root/0000045/002.jpg
    root/0000099/001.jpg

``identity`` is the folder name (all digits, zeros kept). Skipped and counted: files directly under
``root`` or in deeper subfolders, folders whose name is not all digits, files not named
``<digits>.jpg`` (any case) or ``<digits>_<target>.jpg`` (the variants ``augment expand`` writes, so an
expanded tree reads back as CASIA). Trees with other names or formats: use the ``"folder"`` reader.

Example:
    >>> listing = read_casia("/data/CASIA-WebFace")                     # doctest: +SKIP
    >>> listing.records[0].identity                                     # doctest: +SKIP
    '0000045'
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.record import FaceRecord
from augmenter.skips import SkipReport
from augmenter.datasets._tree import bad_name_reason, finish, rel, require_dir, walk_class_folders

_IDENTITY = re.compile(r"\d+")
_FILE = re.compile(r"\d+(_[A-Za-z0-9+_-]+)?\.jpg", re.IGNORECASE)  # 001.jpg, or 001_L-flash07.jpg from expand


def read_casia(root: str | os.PathLike, *, dataset: str = "casia") -> DatasetListing:
    """List a CASIA-WebFace tree (see module docstring); raises ``DatasetFormatError`` when unusable."""
    root = require_dir(root)
    skips = SkipReport()
    records: list[FaceRecord] = []
    for folder, entry in walk_class_folders(root, root, skips):
        if not _IDENTITY.fullmatch(folder):
            skips.add("bad identity folder", rel(entry.path, root))
        elif not _FILE.fullmatch(entry.name):
            skips.add(bad_name_reason(entry.name), rel(entry.path, root))
        else:
            records.append(FaceRecord(path=Path(entry.path), dataset=dataset, identity=folder))
    return finish(records, skips, dataset, root)
