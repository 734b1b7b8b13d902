"""File-system traps for the folder walkers' tests: entries that are neither a folder nor a regular file.

Each trap carries an image name, so a walker that looks at names only would take it for an image.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

#: What :func:`add_traps` puts in a folder, as the skip reasons the walkers count.
TRAP_REASONS = {
    "unreadable entry (symlink loop)": 1,
    "broken symlink": 1,
    "not a regular file": 1,
    "unreadable entry (name too long)": 1,
}


def add_traps(folder: Path) -> dict[str, int]:
    """A symlink loop, a dangling symlink, a FIFO and a symlink whose target name is over the system
    limit (ENAMETOOLONG), all named ``*.jpg``; returns the skip counts they must give."""
    folder.mkdir(parents=True, exist_ok=True)
    os.symlink("loop.jpg", folder / "loop.jpg")
    os.symlink("missing.jpg", folder / "gone.jpg")
    os.mkfifo(folder / "pipe.jpg")
    os.symlink("x" * 300 + ".jpg", folder / "long.jpg")
    return dict(TRAP_REASONS)


def deny_scandir(monkeypatch, folder: Path) -> None:
    """Make listing ``folder`` fail with "permission denied" (as a chmod 000 folder does for a non-root user)."""
    real = os.scandir
    denied = os.path.abspath(folder)

    def scandir(path="."):
        if os.path.abspath(os.fspath(path)) == denied:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
