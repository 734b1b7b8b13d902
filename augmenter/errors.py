"""Typed errors of the toolkit. Each names the file it is about, in one line."""
from __future__ import annotations

from pathlib import Path


class AugmenterError(Exception):
    """Base class: every error the toolkit raises on bad input derives from it."""


class FileError(AugmenterError):
    """An error about one file: ``str(err)`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ImageDecodeError(FileError):
    """A file that is missing, corrupt, truncated, too large or not an image."""


class DatasetFormatError(FileError):
    """A dataset file or folder that does not follow its format (bad header, empty folder...)."""


class CheckpointError(FileError):
    """A checkpoint that is unreadable, unsafe, of the wrong kind or of the wrong shape."""


class RunConflictError(FileError):
    """An output folder that holds another run's outputs (different settings or models)."""


class DeviceError(AugmenterError):
    """A ``--device`` that names no device, or a GPU this machine does not have."""
