"""The leak guard: synthetic training rows must not be made from evaluation faces.

A variant of a validation or test face shares its identity, pose and background with a face the model is
then measured on, so adding it to training inflates the figure (the FER-2013 run that added 673 variants
of validation faces was measured that way). ``augment expand`` leaves evaluation splits out by default and
records each variant's ``source_split`` in its manifest; every trainer that takes synthetic rows checks
them again here, because a manifest may be older, made with ``--include-eval-splits``, or made from a data
set whose validation is the trainer's own hash hold-out.

:func:`check_synthetic_sources` is the one decision (pure): a row is refused when its ``source_split``
is an evaluation split, or when its ``source_path`` is one of the trainer's evaluation images
(:class:`EvaluationSources`). :func:`guard_synthetic_records` (rows read by
:func:`augmenter.datasets.manifest.manifest_records`) and :func:`guard_manifest_frame` (a manifest
DataFrame) apply it.

Example:
    >>> evaluation = EvaluationSources.of(["/data/fer/validation/happy/PublicTest_1.png"])
    >>> check = check_synthetic_sources(["validation/happy/PublicTest_1.png", "train/sad/Training_2.png"],
    ...                                 ["val", "train"], evaluation)
    >>> check.keep, check.refused
    ([False, True], 1)
"""
from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from augmenter.datasets.record import FaceRecord
from augmenter.datasets.splits import is_evaluation_split
from augmenter.skips import SkipReport

__all__ = ["EvaluationSources", "LeakCheck", "REFUSED", "check_synthetic_sources", "combine_checks",
           "guard_manifest_frame", "guard_synthetic_records"]

REFUSED = "synthetic row made from an evaluation face"
"""The skip reason refused rows are counted under."""


def _parts(path: str) -> tuple[str, ...]:
    """The components of ``path`` with ``/`` or ``\\`` separators, ``.``/``..`` resolved, no root."""
    text = posixpath.normpath(str(path).replace("\\", "/"))
    return tuple(p for p in text.split("/") if p and p != ".")


@dataclass(frozen=True)
class EvaluationSources:
    """The image files a trainer evaluates on, matched against a synthetic row's ``source_path``.

    ``augment expand`` writes ``source_path`` relative to the dataset root (``validation/happy/x.png``),
    other writers absolute. An absolute ``source_path`` matches an evaluation file with the same
    normalised absolute path; a relative one matches when it equals the trailing components of an
    evaluation file's path (the dataset root is not recorded in the manifest, and may be a csv
    extraction folder). A relative path of one component (a source directly under its root) therefore
    matches any evaluation file of that name: that errs toward refusing, which is the safe side.
    """

    paths: frozenset[str] = frozenset()
    tails: frozenset[str] = frozenset()

    @classmethod
    def of(cls, files: Iterable[str | os.PathLike]) -> "EvaluationSources":
        """The evaluation sources of these files (paths made absolute and normalised)."""
        paths, tails = set(), set()
        for file in files:
            parts = _parts(os.path.abspath(os.fspath(file)))
            paths.add("/".join(parts))
            tails.update("/".join(parts[i:]) for i in range(len(parts)))
        return cls(frozenset(paths), frozenset(tails))

    def __len__(self) -> int:
        return len(self.paths)

    def __contains__(self, source_path: object) -> bool:
        if not isinstance(source_path, (str, os.PathLike)) or not os.fspath(source_path):
            return False
        text = os.fspath(source_path)
        key = "/".join(_parts(text))
        return key in (self.paths if _is_absolute(text) else self.tails)


def _is_absolute(path: str) -> bool:
    """POSIX, UNC or drive-letter absolute (a manifest may come from another system)."""
    return path.startswith(("/", "\\")) or (len(path) > 2 and path[1] == ":" and path[2] in "/\\")


def _split_value(value) -> str | None:
    """A recorded ``source_split``, or ``None`` where there is none (no column, an empty cell, NaN)."""
    return value if isinstance(value, str) and value.strip() else None


@dataclass
class LeakCheck:
    """What :func:`check_synthetic_sources` decided, row by row and in total.

    Attributes:
        keep: one bool per row, ``False`` for a refused row.
        refused_split: rows refused because their ``source_split`` is an evaluation split.
        refused_file: the other refused rows: their source file is an evaluation image.
        no_split: rows without a ``source_split`` (a manifest written before it was recorded, or by a
            tool that does not record it); they were checked by source file only.
        examples: up to 5 refused ``source_path`` values, for the skip report.
    """

    keep: list[bool]
    refused_split: int = 0
    refused_file: int = 0
    no_split: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return self.refused_split + self.refused_file

    def line(self) -> str:
        """One line for the log: how many rows were refused and why, and how many could only be checked by file."""
        text = (f"refused {self.refused} of {len(self.keep)} synthetic row(s) whose source is in an evaluation split "
                f"({self.refused_split} by source_split, {self.refused_file} by source file)")
        if self.no_split:
            text += (f"; {self.no_split} row(s) have no source_split (an older manifest): checked by source "
                     "file only")
        return text


def check_synthetic_sources(source_paths: Sequence[str], source_splits: Sequence[str | None],
                            evaluation: EvaluationSources) -> LeakCheck:
    """Decide which synthetic rows a trainer may use: refuse every row made from an evaluation face.

    A row is refused when its ``source_split`` is an evaluation split (validation or test, under any
    name :func:`~augmenter.datasets.splits.is_evaluation_split` knows), or when its ``source_path`` is
    in ``evaluation`` (the trainer's validation and test images, its hash hold-out included): the
    split says what the expansion saw, the file check catches what it could not know (an older manifest,
    a hold-out drawn by the trainer). ``None`` for a split means the manifest has no ``source_split``
    column; ``"unknown"`` means the source's dataset has no splits (training data).

    Args:
        source_paths: each row's ``source_path`` as the manifest wrote it.
        source_splits: each row's ``source_split``, or ``None`` where the manifest does not say.
        evaluation: the evaluation images (:meth:`EvaluationSources.of`).

    Returns:
        A :class:`LeakCheck`; nothing is read from disk.
    """
    if len(source_paths) != len(source_splits):
        raise ValueError(f"{len(source_paths)} source paths but {len(source_splits)} source splits")
    check = LeakCheck(keep=[])
    for path, split in zip(source_paths, source_splits):
        by_split = split is not None and is_evaluation_split(split)
        by_file = not by_split and path in evaluation
        check.keep.append(not (by_split or by_file))
        check.refused_split += by_split
        check.refused_file += by_file
        check.no_split += split is None
        if (by_split or by_file) and len(check.examples) < 5:
            check.examples.append(str(path))
    return check


def combine_checks(checks: Iterable[LeakCheck]) -> LeakCheck:
    """One :class:`LeakCheck` for the rows of several manifests, in order, so a trainer reports one line."""
    total = LeakCheck(keep=[])
    for check in checks:
        total.keep += check.keep
        total.refused_split += check.refused_split
        total.refused_file += check.refused_file
        total.no_split += check.no_split
        total.examples += check.examples[:max(0, 5 - len(total.examples))]
    return total


def guard_synthetic_records(records: Sequence[FaceRecord], evaluation: EvaluationSources,
                            skips: SkipReport | None = None, label: str = "") -> tuple[list[FaceRecord], LeakCheck]:
    """``(kept records, check)`` for synthetic rows read by :func:`~augmenter.datasets.manifest.manifest_records`
    (their ``extra`` holds ``source_path`` and, when the manifest has the column, ``source_split``).
    Refused rows are counted in ``skips`` under :data:`REFUSED`, ``label`` (a manifest name) before each example."""
    check = check_synthetic_sources([r.extra.get("source_path", "") for r in records],
                                    [_split_value(r.extra.get("source_split")) for r in records], evaluation)
    if skips is not None:
        prefix = f"{label}: " if label else ""
        for record, keep in zip(records, check.keep):
            if not keep:
                skips.add(REFUSED, f"{prefix}{record.extra.get('source_path', '')} -> {record.path}")
    return [r for r, keep in zip(records, check.keep) if keep], check


def guard_manifest_frame(df: pd.DataFrame, evaluation: EvaluationSources) -> tuple[pd.DataFrame, LeakCheck]:
    """``(rows kept, check)`` of a manifest DataFrame (:func:`~augmenter.datasets.manifest.read_manifest`):
    a frame without a ``source_split`` column is checked by source file only. The index is reset."""
    column = df["source_split"].tolist() if "source_split" in df.columns else [None] * len(df)
    splits = [_split_value(s) for s in column]
    check = check_synthetic_sources(df["source_path"].astype(str).tolist(), splits, evaluation)
    return df[check.keep].reset_index(drop=True), check
