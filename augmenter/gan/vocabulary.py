"""Checking target names against a generator checkpoint's lighting / expression vocabulary."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from augmenter.attributes import unknown_names
from augmenter.errors import CheckpointError


def require_in_vocabulary(checkpoint: Path, kind: str, names: Sequence[str], vocabulary: Sequence[str],
                          hint: str = "") -> None:
    """Raise :class:`~augmenter.errors.CheckpointError` unless every name is in ``vocabulary``.

    The message names the checkpoint, every missing name and the whole vocabulary, then ``hint``:
    ``<checkpoint>: has no expression 'smirk', 'pout' in its vocabulary (happy, surprise)<hint>``.
    ``kind`` is ``"lighting"`` or ``"expression"``; aliases are the caller's to resolve first.
    """
    missing = unknown_names(names, vocabulary)
    if missing:
        raise CheckpointError(checkpoint, f"has no {kind} {', '.join(map(repr, missing))} in its vocabulary "
                                          f"({', '.join(vocabulary)}){hint}")
