"""Folder walking shared by the readers: hidden files, layout checks, skips, the final listing.

Readers only list files and parse names; they never decode an image. Entries whose name starts
with ``.`` (``.DS_Store``, AppleDouble ``._x.jpg``, editors' temp files, the writers' hidden
``.<name>.tmp``) and the OS litter folders/files in :data:`IGNORED_NAMES` are ignored without
being counted: they are never part of a dataset.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.record import FaceRecord
from augmenter.skips import SkipReport
from augmenter.errors import DatasetFormatError
from augmenter.io import IMAGE_EXTENSIONS

IGNORED_NAMES = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini",
                           # the toolkit's own bookkeeping beside a dataset tree (augment align's and
                           # augment expand's outputs), so an aligned or expanded tree reads back cleanly
                           "align.json", "landmarks.csv", "expand.json", "expand.lock",
                           "manifest.parquet", "manifest.csv", "summary.json", "report.html"})

OUTSIDE_FOLDER = "file outside a class folder"
NESTED = "nested too deep"
NOT_IMAGE = "not an image"
BAD_NAME = "bad file name"


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_NAMES


def is_image_name(name: str) -> bool:
    """Whether ``name`` has an image suffix (:data:`augmenter.io.IMAGE_EXTENSIONS`, any case)."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def bad_name_reason(name: str) -> str:
    """The skip reason for a file whose name a format rejects: bad image name, or no image at all."""
    return BAD_NAME if is_image_name(name) else NOT_IMAGE


def absolute(path: str | os.PathLike) -> Path:
    """Absolute, normalised path; symlinks are kept (not resolved) so records show the user's paths."""
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def require_dir(root: str | os.PathLike, what: str = "dataset root") -> Path:
    """``root`` as an absolute path; :class:`DatasetFormatError` when it is missing or not a folder."""
    path = absolute(root)
    if not path.exists():
        raise DatasetFormatError(path, f"{what} does not exist")
    if not path.is_dir():
        raise DatasetFormatError(path, f"{what} is not a folder")
    return path


def entries(folder: str | os.PathLike) -> list[os.DirEntry]:
    """The non-hidden entries of ``folder``, sorted by name."""
    with os.scandir(folder) as it:
        return sorted((e for e in it if not is_hidden(e.name)), key=lambda e: e.name)


def rel(path: str | os.PathLike, root: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators, for skip examples."""
    return Path(os.path.relpath(path, root)).as_posix()


def skip_entry(entry: os.DirEntry, root: Path, skips: SkipReport, reason: str) -> None:
    """Count a rejected file, or every non-hidden file under a rejected folder, as ``reason``."""
    if not entry.is_dir():
        skips.add(reason, rel(entry.path, root))
        return
    for folder, dirs, files in os.walk(entry.path):
        dirs[:] = sorted(d for d in dirs if not is_hidden(d))
        for name in sorted(files):
            if not is_hidden(name):
                skips.add(reason, rel(os.path.join(folder, name), root))


def walk_class_folders(folder: Path, root: Path, skips: SkipReport) -> Iterator[tuple[str, os.DirEntry]]:
    """Yield ``(class folder name, file entry)`` for each file at ``folder/<class>/<file>``.

    Files directly in ``folder`` are counted as :data:`OUTSIDE_FOLDER`, anything below a class
    folder's own subfolders as :data:`NESTED`; skip examples are relative to ``root``.
    """
    for top in entries(folder):
        if not top.is_dir():
            skips.add(OUTSIDE_FOLDER, rel(top.path, root))
            continue
        for entry in entries(top.path):
            if entry.is_dir():
                skip_entry(entry, root, skips, NESTED)
            else:
                yield top.name, entry


def finish(records: list[FaceRecord], skips: SkipReport, dataset: str, root: Path) -> DatasetListing:
    """The listing, records sorted by path; :class:`DatasetFormatError` when none is usable."""
    if not records:
        detail = f" ({skips.total} skipped: {', '.join(sorted(skips.counts))})" if skips.total else ""
        raise DatasetFormatError(root, f"no usable images for {dataset}{detail}")
    records.sort(key=lambda r: str(r.path))
    return DatasetListing(records, skips, dataset, root)
