"""The ratings table of the quality model Q: reading it, splitting it, writing it back.

LEGAN's perceptual quality model Q is trained on face images that each carry three human
naturalness ratings on a 1-10 scale, labelled by their mean ``m`` and standard deviation ``s``.
Everywhere in the toolkit such a set is one pandas DataFrame, the *ratings table*:

==========  ==========  ==============================================================
column      dtype       meaning
==========  ==========  ==============================================================
``path``    str         absolute path of the image (normalised, symlinks not resolved)
``mean``    float64     mean rating, 1..10
``std``     float64     spread of the ratings, >= 0 (0 when the file has none, see below)
``source``  str         where the image comes from (generator, artifact...); ``"unknown"``
``split``   str         ``"train"``, ``"val"``, ``"test"`` or ``"unknown"``
...         str         every other column of the file, kept as the text it holds
==========  ==========  ==============================================================

The first five are :data:`RATING_COLUMNS`, in that order, then the file's other columns in file
order; the index is a fresh ``RangeIndex``. An extra column whose name is one of those five (or
``image``, the name :func:`write_ratings` gives the path column) is kept as ``<name>_original``.

A folder holding a perception study's ``img.csv`` and ``ans.csv`` (and no ratings file) is read by
:mod:`augmenter.quality.study` into the same table, one row per image (columns ``n_ratings``,
``synthetic``, ``img_id`` added).

Reading (:func:`read_ratings`): the file layout of the LEGAN Perceptual Dataset's list is not
known here, so the reader takes any CSV/TSV with a header, sniffs the separator (comma, tab or
semicolon) and finds its columns by name. Each column option names the column to use; left at
its default, the default *and* the usual alternatives below are tried (case-insensitive, first
match wins); given another name, only that name is tried:

* image path: ``image, path, file, filename, file_name, img, image_path, image_name, name``
* mean:       ``mean, mos, score, rating_mean, mean_rating, mean_score, avg, average``
* std:        ``std, sd, stdev, std_dev, rating_std, std_rating, std_score``
  (``std_col=None``: no std column, every std set to 0)
* source:     ``source, generator, method, model`` (optional; absent -> ``"unknown"``)
* split:      ``split, set, subset, partition`` (optional; absent -> ``"unknown"``; values
  ``train``/``training``, ``val``/``valid``/``validation``/``dev``, ``test``/``testing``,
  empty or ``unknown``, any case)

Rows that cannot be used are counted in the listing's :class:`~augmenter.skips.SkipReport`, each
with examples like ``"ratings.csv line 7: mean='eleven'"``: ``"blank line"``, ``"empty path"``,
``"bad mean"`` (not a number, or outside 1..10), ``"bad std"`` (not a number, or negative),
``"bad split"``, ``"duplicate image"`` (a path listed again: the first row is kept),
``"missing image"`` (``check_files``), and ``"wrong field count"`` (too many fields).

Splits (:func:`assign_splits`) are seeded and stratified by (source, rating bin), or assign whole
groups (e.g. identities); :func:`write_ratings` writes the table back as a CSV that
:func:`read_ratings` reads to the same table, so a run can be repeated on the same splits.

Example:
    >>> listing = read_ratings("/data/legan_perceptual", mean_col="mos")          # doctest: +SKIP
    >>> table = assign_splits(listing.table, seed=0)                              # doctest: +SKIP
    >>> write_ratings(table, "build/q/ratings.csv")                               # doctest: +SKIP
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from augmenter.atomic import write_text_atomic
from augmenter.datasets._csv import RowFilter, read_rows, shown
from augmenter.errors import DatasetFormatError
from augmenter.skips import SkipReport

__all__ = [
    "ALIASES", "RATING_COLUMNS", "RATINGS_NAMES", "SPLITS", "UNKNOWN",
    "ColumnNotFoundError", "RatingsListing", "assign_splits", "ratings_csv_text", "read_ratings", "write_ratings",
]

UNKNOWN = "unknown"
RATING_COLUMNS: tuple[str, ...] = ("path", "mean", "std", "source", "split")
"""The columns every ratings table starts with, in this order."""
SPLITS: tuple[str, ...] = ("train", "val", "test")
RATINGS_NAMES: tuple[str, ...] = ("ratings.csv", "ratings.tsv")
"""File names looked for, in this order, when :func:`read_ratings` is given a folder."""
MIN_RATING, MAX_RATING = 1.0, 10.0

ALIASES: dict[str, tuple[str, ...]] = {
    "path": ("image", "path", "file", "filename", "file_name", "img", "image_path", "image_name", "name"),
    "mean": ("mean", "mos", "score", "rating_mean", "mean_rating", "mean_score", "avg", "average"),
    "std": ("std", "sd", "stdev", "std_dev", "rating_std", "std_rating", "std_score"),
    "source": ("source", "generator", "method", "model"),
    "split": ("split", "set", "subset", "partition"),
}
"""Column names tried, in order, when a column option is left at its default."""

_DEFAULTS = {"path": "image", "mean": "mean", "std": "std", "source": "source", "split": "split"}
_WHAT = {"path": "image paths", "mean": "mean ratings", "std": "rating std", "source": "sources", "split": "splits"}
_SPLIT_NAMES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test",
    "": UNKNOWN, UNKNOWN: UNKNOWN,
}
_SEPARATORS = (",", "\t", ";")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_WRITE_PATH = "image"

BLANK, EMPTY_PATH, BAD_MEAN, BAD_STD, BAD_SPLIT, DUPLICATE, MISSING = (
    "blank line", "empty path", "bad mean", "bad std", "bad split", "duplicate image", "missing image",
)


class ColumnNotFoundError(DatasetFormatError):
    """A column :func:`read_ratings` needs is not in the file's header.

    The message names what is missing, the names tried and the header's columns, and ends with how
    to choose the column: ``option`` as a keyword of :func:`read_ratings` (``"path_col="``). A front
    end whose users choose it otherwise (a command-line flag) rewords that end with
    :meth:`naming_option`; the library itself knows only its keywords.

    Attributes:
        option: the :func:`read_ratings` keyword that names the column (``"path_col"``...).
        tried: the column names looked for, in order.
        columns: the file's header.
    """

    def __init__(self, path: str | os.PathLike, *, what: str, option: str, tried: Sequence[str],
                 columns: Sequence[str], how: str | None = None):
        self.what, self.option, self.tried, self.columns = what, option, tuple(tried), tuple(columns)
        if how is None:
            how = f"{option}=" + (", or std_col=None to set every std to 0" if option == "std_col" else "")
        super().__init__(path, f"no column for {what}: tried {', '.join(self.tried)}; "
                               f"the header has {shown(', '.join(self.columns))}; choose it with {how}")

    def naming_option(self, how: str) -> "ColumnNotFoundError":
        """The same error, its message saying to choose the column with ``how`` (e.g. ``"--path-col"``)."""
        return ColumnNotFoundError(self.path, what=self.what, option=self.option, tried=self.tried,
                                   columns=self.columns, how=how)


@dataclass
class RatingsListing:
    """What :func:`read_ratings` returns.

    Attributes:
        table: the ratings table (columns :data:`RATING_COLUMNS` then the file's extra columns).
        skips: rows that could not be used, counted by reason with examples.
        file: absolute path of the file that was read.
        answers: for a perception study (:mod:`augmenter.quality.study`), the individual answers the
            table summarises (:func:`~augmenter.quality.study.read_study_answers`); else ``None``.
    """

    table: pd.DataFrame
    skips: SkipReport = field(default_factory=SkipReport)
    file: Path | None = None
    answers: pd.DataFrame | None = None

    def __len__(self) -> int:
        return len(self.table)


# --------------------------------------------------------------------------- reading


def read_ratings(
    spec: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    path_col: str = "image",
    mean_col: str = "mean",
    std_col: str | None = "std",
    source_col: str | None = "source",
    split_col: str | None = "split",
    sep: str | None = None,
    check_files: bool = True,
) -> RatingsListing:
    """Read a ratings file into the ratings table (see the module docstring for the format).

    Args:
        spec: a CSV/TSV file, or a folder holding ``ratings.csv`` (else ``ratings.tsv``).
        root: folder that relative image paths are resolved under; default the file's folder.
        path_col, mean_col, std_col, source_col, split_col: column names; at their defaults the
            alternatives of :data:`ALIASES` are tried too. ``std_col=None`` reads no std and sets
            every std to 0 (a file of mean opinion scores only); ``source_col=None`` /
            ``split_col=None`` ignore those columns (they become ``"unknown"``).
        sep: field separator; ``None`` sniffs it from the header line (the most frequent of
            comma, tab, semicolon; comma when none occurs).
        check_files: count rows whose image file does not exist as ``"missing image"`` skips.

    Returns:
        :class:`RatingsListing` with the table in file order (skipped rows left out).

    A folder without ``ratings.csv``/``ratings.tsv`` that holds a perception study's ``img.csv``
    and ``ans.csv`` (:mod:`augmenter.quality.study`) gives
    :func:`~augmenter.quality.study.study_ratings_table` of it: the per-image mean and std of the
    people's answers, outliers excluded; the column options, ``root`` and ``sep`` do not apply there.

    Raises:
        ColumnNotFoundError: a required column not found, or a column option naming a column
            that is not there (a :class:`DatasetFormatError` listing the names tried, the header
            and the option that chooses the column).
        DatasetFormatError: missing file or folder, empty file, unreadable CSV, or no usable row.
    """
    if _study_folder(spec):
        from augmenter.quality.study import study_ratings_table

        return study_ratings_table(_absolute(spec), check_files=check_files)
    file = _ratings_file(spec)
    base = _absolute(root) if root is not None else file.parent
    header_line = _header_line(file)
    if sep is None:
        sep = _sniff_separator(header_line)
    skips = SkipReport()
    df, lines = read_rows(file, skips, sep=sep)
    columns = [str(c) for c in df.columns]
    found = _find_columns(file, columns, {"path": path_col, "mean": mean_col, "std": std_col,
                                          "source": source_col, "split": split_col})
    rows = RowFilter(len(df), file.name, lines, skips)
    values = _parse_values(df, found, rows)
    rel_paths = values["path"]
    base_text = str(base)
    paths = np.array([os.path.abspath(os.path.join(base_text, p)) if p else "" for p in rel_paths], dtype=object)
    _reject_duplicates(paths, rel_paths, rows)
    if check_files:
        missing = np.array([bool(k) and not os.path.isfile(p) for k, p in zip(rows.ok, paths)], bool)
        rows.reject(missing, MISSING, lambda i: f"no such file {rel_paths[i]}")

    keep = np.flatnonzero(rows.ok)
    if not len(keep):
        detail = f" ({skips.total} skipped: {', '.join(sorted(skips.counts))})" if skips.total else ""
        raise DatasetFormatError(file, f"no usable ratings rows{detail}")
    return RatingsListing(table=_ratings_table(paths, values, keep, df, found), skips=skips, file=file)


def _sniff_separator(header_line: str) -> str:
    """The most frequent of comma, tab and semicolon in ``header_line``; comma when none occurs."""
    counts = {s: header_line.count(s) for s in _SEPARATORS}
    return max(_SEPARATORS, key=lambda s: counts[s]) if any(counts.values()) else ","


def _find_columns(file: Path, columns: list[str], requested: dict[str, str | None]) -> dict[str, str | None]:
    """Key (``"path"``, ``"mean"``...) -> the file's column for it (None for an absent optional one);
    ``requested`` holds the column options by key."""
    return {key: _find_column(file, columns, key, requested[key], required=key in ("path", "mean", "std"))
            for key in RATING_COLUMNS}


def _parse_values(df: pd.DataFrame, found: dict[str, str | None], rows: RowFilter) -> dict[str, np.ndarray]:
    """The ``(N,)`` values of every file row by key of :data:`RATING_COLUMNS` (``path`` still as written,
    stripped; ``mean`` and ``std`` float, NaN when not a number); rejects blank lines, empty paths
    and bad means, stds and splits in ``rows``."""
    reject = rows.reject
    if len(df.columns):
        blank = (df == "").all(axis=1).to_numpy(bool)
        reject(blank, BLANK, lambda i: "no values")

    rel_paths = np.array([p.strip() for p in df[found["path"]].to_numpy(object)], dtype=object)
    reject(rel_paths == "", EMPTY_PATH, lambda i: f"{found['path']} is empty")

    raw_mean = df[found["mean"]].to_numpy(object)
    mean = np.array([_number(v) for v in raw_mean], float)
    good_mean = np.isfinite(mean) & (mean >= MIN_RATING) & (mean <= MAX_RATING)
    reject(~good_mean, BAD_MEAN, lambda i: f"{found['mean']}={raw_mean[i]!r}")

    if found["std"] is not None:
        raw_std = df[found["std"]].to_numpy(object)
        std = np.array([_number(v) for v in raw_std], float)
        reject(~(np.isfinite(std) & (std >= 0)), BAD_STD, lambda i: f"{found['std']}={raw_std[i]!r}")
    else:
        std = np.zeros(len(df), float)

    if found["source"] is not None:
        source = np.array([s.strip() or UNKNOWN for s in df[found["source"]].to_numpy(object)], dtype=object)
    else:
        source = np.full(len(df), UNKNOWN, dtype=object)

    if found["split"] is not None:
        raw_split = df[found["split"]].to_numpy(object)
        split = np.array([_SPLIT_NAMES.get(s.strip().lower(), "") for s in raw_split], dtype=object)
        reject(split == "", BAD_SPLIT, lambda i: f"{found['split']}={raw_split[i]!r}")
    else:
        split = np.full(len(df), UNKNOWN, dtype=object)
    return {"path": rel_paths, "mean": mean, "std": std, "source": source, "split": split}


def _reject_duplicates(paths: np.ndarray, rel_paths: np.ndarray, rows: RowFilter) -> None:
    """Reject each usable row whose absolute path an earlier usable row has (the first is kept)."""
    seen: set[str] = set()
    duplicate = np.zeros(len(paths), bool)
    for i in np.flatnonzero(rows.ok):
        if paths[i] in seen:
            duplicate[i] = True
        seen.add(paths[i])
    rows.reject(duplicate, DUPLICATE, lambda i: f"{rel_paths[i]} listed before")


def _ratings_table(paths: np.ndarray, values: dict[str, np.ndarray], keep: np.ndarray, df: pd.DataFrame,
                   found: dict[str, str | None]) -> pd.DataFrame:
    """The ratings table of the rows ``keep``: the absolute ``paths``, the other :data:`RATING_COLUMNS`
    from ``values``, then the file's unused columns as text (a reserved name gets ``_original``)."""
    table = pd.DataFrame({
        "path": pd.Series(paths[keep], dtype=object),
        "mean": values["mean"][keep].astype(np.float64),
        "std": values["std"][keep].astype(np.float64),
        "source": pd.Series(values["source"][keep], dtype=object),
        "split": pd.Series(values["split"][keep], dtype=object),
    })
    used = {c for c in found.values() if c is not None}
    reserved = set(RATING_COLUMNS) | {_WRITE_PATH}
    for c in (str(c) for c in df.columns):
        if c in used:
            continue
        name = f"{c}_original" if c in reserved else c
        table[name] = pd.Series(df[c].to_numpy(object)[keep], dtype=object)
    return table


def _absolute(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def _study_folder(spec: str | os.PathLike) -> bool:
    from augmenter.quality.study import is_study_folder

    path = _absolute(spec)
    return is_study_folder(path) and not any((path / name).is_file() for name in RATINGS_NAMES)


def _ratings_file(spec: str | os.PathLike) -> Path:
    path = _absolute(spec)
    if not path.exists():
        raise DatasetFormatError(path, "ratings file or folder does not exist")
    if path.is_dir():
        for name in RATINGS_NAMES:
            if (path / name).is_file():
                return path / name
        raise DatasetFormatError(path, f"folder holds no {' or '.join(RATINGS_NAMES)}, nor a perception "
                                       f"study's img.csv and ans.csv")
    if not path.is_file():
        raise DatasetFormatError(path, "not a file")
    return path


def _header_line(file: Path) -> str:
    with open(file, encoding="utf-8-sig", errors="replace", newline="") as f:
        line = f.readline().strip()
    if not line:
        raise DatasetFormatError(file, "empty file: no header line")
    return line


def _find_column(file: Path, columns: list[str], key: str, requested: str | None, *, required: bool) -> str | None:
    """The file's column for ``key`` (``"path"``, ``"mean"``...), or None when optional and absent."""
    if requested is None:
        return None
    default = _DEFAULTS[key]
    tried = ALIASES[key] if requested == default else (requested,)
    for name in tried:
        if name in columns:
            return name
    lower = {c.lower(): c for c in reversed(columns)}  # first column wins on a case clash
    for name in tried:
        if name.lower() in lower:
            return lower[name.lower()]
    if required or requested != default:
        raise ColumnNotFoundError(file, what=_WHAT[key], option=f"{key}_col", tried=tried, columns=columns)
    return None


def _number(text: str) -> float:
    """``float(text)`` (a decimal comma ``"7,5"`` accepted), NaN when it is not a number."""
    text = text.strip()
    if _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return math.nan


# --------------------------------------------------------------------------- splits


def assign_splits(
    table: pd.DataFrame,
    *,
    seed: int = 0,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    rating_bins: Sequence[float] = (1, 3, 5, 7, 10.01),
    group_col: str | None = None,
    overwrite: bool = False,
) -> pd.DataFrame:
    """A copy of ``table`` with its ``"unknown"`` splits set to train/val/test, seeded and stratified.

    Without ``group_col``: rows are put into strata by (``source``, bin of ``mean`` in
    ``rating_bins``; bins are ``[edge_i, edge_i+1)``, a mean outside them goes to the nearest end
    bin). Within a stratum the rows are sorted by path, shuffled by a numpy Generator seeded from
    ``(seed, source, bin)`` (a SHA-256 of them, so the result depends neither on the row order nor
    on which strata exist, nor on the pandas version), and cut by ``fractions`` with
    largest-remainder rounding. A stratum of 3 rows or more puts at least one row in every split
    whose fraction is above 0; a stratum of 1 or 2 rows goes to train.

    With ``group_col`` (e.g. ``"identity"``): whole groups are assigned, so no group appears in
    two splits. Groups are sorted by name, shuffled by a Generator seeded from ``(seed, "groups")``
    and each goes to the split furthest below its target number of rows; with 3 groups or more
    every split with a fraction above 0 gets at least one. Strata are not used. A row with an
    empty group value is a group of its own. A group of which some rows already have a split puts
    its unknown rows into that split (the most common one if they disagree).

    Args:
        table: a ratings table (``path`` and ``mean`` needed; ``source``/``split`` taken as
            ``"unknown"`` when absent).
        seed: the same table and seed give the same splits.
        fractions: train, val, test shares; non-negative, summing to 1, train above 0.
        rating_bins: increasing bin edges of the mean rating for the strata.
        group_col: column whose values must not be shared between splits.
        overwrite: reassign every row, including those that already have a split.

    Returns:
        A new DataFrame (same index and columns, ``split`` added when missing).
    """
    fractions = _check_fractions(fractions)
    edges = np.asarray(rating_bins, float)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.diff(edges) > 0):
        raise ValueError(f"rating_bins must be at least two increasing edges, not {tuple(rating_bins)}")
    for column in ("path", "mean"):
        if column not in table.columns:
            raise ValueError(f"the ratings table has no {column!r} column")

    out = table.copy()
    n = len(out)
    split = out["split"].astype(str).to_numpy(object).copy() if "split" in out.columns else np.full(n, UNKNOWN, object)
    todo = np.ones(n, bool) if overwrite else (split == UNKNOWN)
    paths = out["path"].astype(str).to_numpy(object)
    mean = out["mean"].to_numpy(float)

    if group_col is None:
        source = out["source"].astype(str).to_numpy(object) if "source" in out.columns else np.full(n, UNKNOWN, object)
        _split_strata(split, todo, paths, mean, source, edges, fractions, seed)
    else:
        if group_col not in out.columns:
            raise ValueError(f"the ratings table has no {group_col!r} column to group by")
        _split_groups(split, todo, _group_members(out[group_col].to_numpy(object), paths), fractions, seed)

    out["split"] = pd.Series(split, index=out.index, dtype=object)
    return out


def _split_strata(split: np.ndarray, todo: np.ndarray, paths: np.ndarray, mean: np.ndarray, source: np.ndarray,
                  edges: np.ndarray, fractions: np.ndarray, seed: int) -> None:
    """Set ``split[i]`` of every ``todo`` row (all ``(N,)`` arrays), stratum by stratum of (source,
    rating bin of ``mean`` between ``edges``); see :func:`assign_splits`."""
    bins = np.clip(np.searchsorted(edges, mean, side="right") - 1, 0, len(edges) - 2)
    strata: dict[tuple[str, int], list[int]] = {}
    for i in np.flatnonzero(todo):
        strata.setdefault((source[i], int(bins[i])), []).append(int(i))
    for (src, b), rows in strata.items():
        rows.sort(key=lambda i: (paths[i], mean[i]))
        rng = _rng(seed, "stratum", src, f"{edges[b]:g}-{edges[b + 1]:g}")
        order = np.asarray(rows)[rng.permutation(len(rows))]
        split[order] = np.repeat(np.array(SPLITS, object), _cut(len(rows), fractions))


def _group_members(raw: np.ndarray, paths: np.ndarray) -> dict[str, list[int]]:
    """Group name -> its row indices (in row order), from the ``(N,)`` group values ``raw``; a row
    with an empty value is a group of its own, named after its path."""
    members: dict[str, list[int]] = {}
    for i in range(len(raw)):
        name = f"\0row {paths[i]}" if _empty(raw[i]) else str(raw[i])
        members.setdefault(name, []).append(i)
    return members


def _split_groups(split: np.ndarray, todo: np.ndarray, members: dict[str, list[int]], fractions: np.ndarray,
                  seed: int) -> None:
    """Set ``split[i]`` of every ``todo`` row (``(N,)`` arrays) group by group: a group with preset
    splits joins its most common one, the other groups are shuffled and dealt by :func:`_assign_groups`."""
    fresh: list[str] = []
    for name, rows in members.items():
        rows_a = np.asarray(rows)
        pending = rows_a[todo[rows_a]]
        if not len(pending):
            continue
        preset = [s for s in split[rows_a[~todo[rows_a]]] if s != UNKNOWN]
        if preset:
            votes = Counter(preset)
            best = max(votes.values())
            split[pending] = next(s for s in (*SPLITS, *sorted(votes)) if votes.get(s) == best)
        else:
            fresh.append(name)
    fresh.sort()
    rng = _rng(seed, "groups")
    order = [fresh[j] for j in rng.permutation(len(fresh))]
    sizes = [int(todo[np.asarray(members[g])].sum()) for g in order]
    chosen = _assign_groups(sizes, fractions)
    for g, s in zip(order, chosen):
        rows_a = np.asarray(members[g])
        split[rows_a[todo[rows_a]]] = SPLITS[s]


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, float)
    if f.shape != (3,) or not np.all(np.isfinite(f)) or np.any(f < 0) or abs(f.sum() - 1) > 1e-6 or f[0] <= 0:
        raise ValueError(
            f"fractions must be three non-negative shares (train, val, test) summing to 1 with train > 0, "
            f"not {tuple(fractions)}"
        )
    return f / f.sum()


def _cut(n: int, fractions: np.ndarray) -> list[int]:
    """Rows per split for a stratum of ``n``: largest remainder, at least one per used split when n >= 3."""
    if n < 3:
        return [n, 0, 0]
    raw = n * fractions
    counts = np.floor(raw).astype(int)
    for j in sorted(range(3), key=lambda j: (-(raw[j] - counts[j]), j))[: n - counts.sum()]:
        counts[j] += 1
    for j in range(3):
        if fractions[j] > 0 and counts[j] == 0:
            counts[int(np.argmax(counts))] -= 1
            counts[j] = 1
    return counts.tolist()


def _assign_groups(sizes: list[int], fractions: np.ndarray) -> list[int]:
    """Split index for each group (in the given, already shuffled, order)."""
    if len(sizes) < 3:
        return [0] * len(sizes)
    target = fractions * sum(sizes)
    have = np.zeros(3)
    chosen = []
    for size in sizes:
        deficit = np.where(fractions > 0, target - have, -np.inf)
        s = int(np.argmax(deficit))  # first split on ties
        chosen.append(s)
        have[s] += size
    for j in range(3):  # every used split gets a group: take the smallest from the split with most groups
        if fractions[j] > 0 and j not in chosen:
            per = Counter(chosen)
            donor = max(range(3), key=lambda k: (per.get(k, 0), -k))
            k = min((i for i, c in enumerate(chosen) if c == donor), key=lambda i: (sizes[i], i))
            chosen[k] = j
    return chosen


def _rng(seed: int, *parts: object) -> np.random.Generator:
    """A Generator seeded from ``seed`` and ``parts`` through SHA-256 (stable across runs and versions)."""
    key = "\x1f".join([str(int(seed)), *map(str, parts)]).encode("utf-8")
    return np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:16], "little"))


def _empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


# --------------------------------------------------------------------------- writing


def write_ratings(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``table`` to the CSV ``path`` atomically, so that :func:`read_ratings` gives it back.

    Columns: ``image`` (the path, relative to the CSV's folder with ``/`` separators when it is
    under that folder, else absolute), ``mean``, ``std``, ``source``, ``split``, then the other
    columns in table order. Floats are written with ``repr`` (exact round trip); missing values
    (None, NaN) as empty cells; a ``source``/``split`` column missing from the table is written as
    ``"unknown"``.

    Returns:
        The absolute path written.

    Raises:
        ValueError: no ``path``/``mean``/``std`` column, or an extra column named ``image``.
    """
    path = _absolute(path)
    write_text_atomic(path, ratings_csv_text(table, path.parent))
    return path


def ratings_csv_text(table: pd.DataFrame, folder: str | os.PathLike) -> str:
    """The text :func:`write_ratings` writes for a CSV in ``folder`` (paths relative to it)."""
    folder = _absolute(folder)
    for column in ("path", "mean", "std"):
        if column not in table.columns:
            raise ValueError(f"the ratings table has no {column!r} column")
    extras = [str(c) for c in table.columns if c not in RATING_COLUMNS]
    if _WRITE_PATH in extras:
        raise ValueError(f"the ratings table has an extra column {_WRITE_PATH!r}: that name is the path column's in the file")
    n = len(table)
    columns = {
        _WRITE_PATH: [_relative(p, folder) for p in table["path"].to_numpy(object)],
        "mean": table["mean"].to_numpy(object),
        "std": table["std"].to_numpy(object),
        "source": table["source"].to_numpy(object) if "source" in table.columns else [UNKNOWN] * n,
        "split": table["split"].to_numpy(object) if "split" in table.columns else [UNKNOWN] * n,
    }
    for c in extras:
        columns[c] = table[c].to_numpy(object)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(columns))
    cells = [[_cell(v) for v in values] for values in columns.values()]
    writer.writerows(zip(*cells))
    return buffer.getvalue()


def _relative(p: object, folder: Path) -> str:
    full = _absolute(str(p))
    try:
        return full.relative_to(folder).as_posix()
    except ValueError:
        return str(full)


def _cell(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else repr(float(value))
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)
