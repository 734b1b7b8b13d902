"""The append-only record of finished chunks that makes ``augment expand`` resumable.

One JSON line per finished chunk, appended (flushed and fsynced) only after the chunk's images are on
disk. A process killed mid-append leaves a torn last line: :meth:`ChunkJournal.read` drops it and cuts
the file back to the last complete line, so the chunk is simply redone (its images are rewritten
byte-identically; every image write is atomic).
"""
from __future__ import annotations

import json
import os
from pathlib import Path


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, separators=(",", ":"), allow_nan=True) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
