"""One process per output folder: the lock file of an expand run.

A single-process run holds ``<out>/expand.lock``; shard ``i`` of ``N`` holds
``<out>/.expand/parts/<part>/expand.lock`` instead, so the shards of one run go side by side (they write
disjoint images and their own journals) while two processes of the same part cannot. The file is
created with ``O_CREAT | O_EXCL`` (only one process can create it) and holds
``{"pid": ..., "host": ...}``; it is removed when the run ends, also on an error or Ctrl-C.

A lock whose holder is alive, or that was taken on another host (whose processes this one cannot
see), is refused with one line naming the lock, the pid and the host. A lock taken on this host by a
process that no longer exists (a ``kill -9``, a crash, a power cut) is stale: it is taken over, with a
notice. The dataset readers ignore files named ``expand.lock``, so the lock never shows up as a skip.
``rebalance-affectnet`` holds the same kind of lock, in its hidden ``<out>/.rebalance/`` folder.
"""
from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from augmenter.errors import RunConflictError
from augmenter.expand.files import naming_errors

LOCK_NAME = "expand.lock"


def _holder() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _read(path: Path) -> dict | None:
    """The lock's holder, ``None`` when the file is gone; a garbled file reads as an unknown holder."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        return {"pid": int(data["pid"]), "host": str(data["host"])}
    except (ValueError, KeyError, TypeError):
        return {"pid": None, "host": None}


def _create(path: Path) -> bool:
    """Create the lock holding this process; ``False`` when it exists already."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        with naming_errors(path):
            os.write(fd, (json.dumps(_holder()) + "\n").encode())
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
    return True


def _take_over(path: Path, stale: dict) -> bool:
    """Remove the stale lock ``stale`` unless another process replaced it meanwhile (then ``False``)."""
    aside = path.with_name(f".{path.name}.{os.getpid()}.stale")
    try:
        os.rename(path, aside)  # atomic: of two processes taking over, one gets the file
    except FileNotFoundError:
        return False
    if _read(aside) != stale:  # a fresh lock was made between our read and the rename: give it back
        if not path.exists():
            os.rename(aside, path)
        else:
            aside.unlink(missing_ok=True)
        return False
    aside.unlink(missing_ok=True)
    return True


def acquire(path: Path, log: Callable[[str], None], command: str = "augment expand") -> None:
    """Create the lock at ``path`` (its folder must exist), taking over a stale one; ``RunConflictError``
    when a live process (or one on another host) holds it. ``command``: what holds such locks, for the
    messages."""
    host = socket.gethostname()
    for _ in range(10):
        if _create(path):
            return
        holder = _read(path)
        if holder is None:  # released between our tries
            continue
        pid, where = holder["pid"], holder["host"]
        if pid is None:
            raise RunConflictError(path, "is held by an unknown process (the file is not a lock this toolkit "
                                         f"wrote); remove it if no {command} is running on this folder")
        if where != host or _alive(pid):
            hint = (f"if that process is gone, remove {path.name}" if where != host
                    else f"remove {path.name} only if pid {pid} is no {command}")
            raise RunConflictError(path, f"another {command} (pid {pid} on {where}) is running on this folder; "
                                         f"wait for it to end or use another --out ({hint})")
        if _take_over(path, holder):
            log(f"{path}: taking over the stale lock of pid {pid} on {where} (that process is gone)")
    raise RunConflictError(path, "could not be taken (other processes keep replacing it)")


def release(path: Path) -> None:
    """Remove the lock if this process still holds it."""
    if _read(path) == _holder():
        path.unlink(missing_ok=True)


@contextmanager
def holding(path: Path, log: Callable[[str], None], command: str = "augment expand") -> Iterator[None]:
    """Hold the lock at ``path`` for the ``with`` block (released on any exit, Ctrl-C included)."""
    acquire(path, log, command)
    try:
        yield
    finally:
        release(path)
