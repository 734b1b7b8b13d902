"""The append-only record of finished chunks that makes ``augment expand`` resumable.

One JSON line per finished chunk, appended (flushed and fsynced) only after the chunk's images are on
disk. A process killed mid-append leaves a torn last line: :meth:`ChunkJournal.read` drops it and cuts
the file back to the last complete line, so the chunk is simply redone (its images are rewritten
byte-identically; every image write is atomic).
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from augmenter.atomic import atomic_path
from augmenter.expand.files import naming_errors


class ChunkJournal:
    """``{"chunk": int, ...}`` entries, one per line, in the order they finished."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def read(self) -> dict[int, dict]:
        """Finished chunks by index; a torn or unparsable tail is cut off the file."""
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        entries: dict[int, dict] = {}
        good = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                entry = json.loads(line)
                number = int(entry["chunk"])
            except (ValueError, KeyError, TypeError):  # JSON or UTF-8 errors are ValueErrors
                break
            entries[number] = entry
            good += len(line)
        if good < len(data):
            with open(self.path, "r+b") as f:
                f.truncate(good)
        return entries

    def append(self, entry: dict) -> None:
        """Append ``entry`` as one line, on disk (fsynced) when this returns.

        An operating-system error (disk full...) is raised as an ``OSError`` naming the journal, after
        cutting the file back to its previous end, so the entry is either wholly there or not at all.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, separators=(",", ":"), allow_nan=True) + "\n").encode("utf-8")
        with naming_errors(self.path), open(self.path, "ab", buffering=0) as f:  # unbuffered: nothing left to flush
            end = f.seek(0, os.SEEK_END)
            try:
                rest = memoryview(line)
                while rest:
                    rest = rest[f.write(rest):]
                os.fsync(f.fileno())
            except OSError:
                with contextlib.suppress(OSError):
                    f.truncate(end)
                raise

    def drop(self, numbers: set[int]) -> None:
        """Rewrite the journal without the entries of chunks ``numbers`` (to be redone), atomically."""
        if not numbers or not self.path.exists():
            return
        kept = [line for line in self.path.read_bytes().splitlines(keepends=True)
                if json.loads(line)["chunk"] not in numbers]
        with naming_errors(self.path), atomic_path(self.path, fsync=True) as tmp:
            tmp.write_bytes(b"".join(kept))

