"""Atomic file replacement: a reader sees either the old file or the complete new one, never half.

Every file the toolkit writes (images, manifests, CSVs, checkpoints) goes through
:func:`atomic_path`, so an interrupted job never leaves a truncated output behind.
"""
from __future__ import annotations

import errno
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = False) -> Iterator[Path]:
    """Yield a hidden temp path beside ``path``; on success it replaces ``path``, on error it is removed.

    Args:
        path: the destination; parent folders are created.
        fsync: flush the temp file to disk before the rename (checkpoints and logs that must
            survive a power cut, not just an interrupted process).

    Example:
        >>> with atomic_path("out/summary.json") as tmp:          # doctest: +SKIP
        ...     tmp.write_text("{}")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(path)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_writable(path: str | os.PathLike) -> None:
    """Make sure a file can be written at ``path`` before a long job produces it; creates its parent folders.

    Raises an ``OSError`` whose ``filename`` is the path at fault: ``path`` is a folder, a parent is
    a file, or the folder cannot be written (permission denied, read-only file system, disk full).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; name the file to write", str(path))
    for parent in path.parents:
        if os.path.lexists(parent):
            if not parent.is_dir():
                what = "is a file, not a folder" if parent.is_file() else "is not a folder"
                raise NotADirectoryError(errno.ENOTDIR, what, str(parent))
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.unlink(_create_temp(path))
    except OSError as err:  # report the folder, not the random temp name
        raise type(err)(err.errno, err.strerror, str(path.parent)) from None


def _create_temp(path: Path) -> Path:
    """Create a new empty ``.<name>.<random>.tmp`` beside ``path``.

    Created with mode 0o666 so that the kernel applies the process umask, as for any new file. (The
    process umask is never read or changed here: ``os.umask`` can only be read by setting it, which
    races with the other writer threads.)
    """
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(errno.EEXIST, f"no free temporary name for {path.name}", str(path.parent))


def write_text_atomic(path: str | os.PathLike, text: str, fsync: bool = False) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (newlines written as given)."""
    with atomic_path(path, fsync=fsync) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)


def read_json_object(path: str | os.PathLike) -> dict:
    """The JSON object saved in ``path`` (a run's settings file); ``ValueError`` naming what is wrong when
    it is not JSON or not an object, ``OSError`` when unreadable. Callers word the error for their file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data
