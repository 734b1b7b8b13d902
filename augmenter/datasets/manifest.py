"""The one manifest schema (Parquet + CSV) for every dataset the toolkit writes.

Every augmented (or copied) dataset has a manifest: one row per image, written twice beside each
other as ``<stem>.parquet`` (typed, the exact copy) and ``<stem>.csv`` (for people and spreadsheets).
Readers accept either file as input.

Columns, in order (:data:`MANIFEST_COLUMNS`, dtypes in :data:`MANIFEST_DTYPES`):

==================  =======  =====================================================================
``out_path``        str      written image, relative to the manifest's folder (or absolute)
``source_path``     str      image it was made from (itself for real rows)
``identity``        str      subject id, kept as text (``"0000045"`` keeps its zeros)
``dataset``         str      source dataset name (``"casia"``, ``"multipie"``...)
``lighting``        str      lighting name of the written image
``expression``      str      expression name of the written image
``q_score``         float64  Q's predicted mean rating / 10 in [0, 1]; NaN when not scored
``kept``            bool     whether Q's threshold kept it
``seed``            int64    random seed that produced it
``generator_hash``  str      :func:`file_sha256` of the generator checkpoint; ``""`` for real rows
``toolkit_version`` str      ``augmenter.__version__`` of the writer
==================  =======  =====================================================================

Extra columns (``variant_index``, ``target_lighting``...) are kept, after the required ones, on
read and write. In CSV their type is inferred by pandas (empty cell -> NaN) unless the column is
registered in :data:`OPTIONAL_DTYPES`; the Parquet copy keeps every type exactly.

Example:
    >>> from augmenter import __version__
    >>> df = new_manifest([dict(out_path="img/0.png", source_path="/src/0.jpg", identity="0000045",
    ...     dataset="casia", lighting="flash07", expression="neutral", q_score=0.81, kept=True,
    ...     seed=3, generator_hash="1f2e3d4c5b6a7980", toolkit_version=__version__)])
    >>> parquet_path, csv_path = write_manifest(df, "out/manifest")  # doctest: +SKIP
    >>> records, skips = manifest_records("out/manifest.parquet")     # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import math
import numbers
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from augmenter.atomic import atomic_path
from augmenter.datasets._csv import DUPLICATE, shown
from augmenter.datasets.record import UNKNOWN, FaceRecord
from augmenter.skips import SkipReport
from augmenter.errors import DatasetFormatError

MANIFEST_COLUMNS: tuple[str, ...] = (
    "out_path",
    "source_path",
    "identity",
    "dataset",
    "lighting",
    "expression",
    "q_score",
    "kept",
    "seed",
    "generator_hash",
    "toolkit_version",
)
"""Required columns, in the order they are written."""

MANIFEST_DTYPES: dict[str, str] = {
    "out_path": "str",
    "source_path": "str",
    "identity": "str",
    "dataset": "str",
    "lighting": "str",
    "expression": "str",
    "q_score": "float64",
    "kept": "bool",
    "seed": "int64",
    "generator_hash": "str",
    "toolkit_version": "str",
}
"""Column -> dtype name (``"str"`` is pandas' default string dtype)."""

OPTIONAL_DTYPES: dict[str, str] = {
    # augment expand: its target tag and the source's own labels (text even when they look like numbers);
    # its variant_index is a plain extra column, inferred as an integer from CSV
    "target": "str",
    "source_lighting": "str",
    "source_expression": "str",
    # augment expand: the canonical split of the source ("train", "val", "test", "unknown" for a dataset
    # without splits); absent in manifests written before it was recorded (see augmenter.datasets.leak)
    "source_split": "str",
    # augment expand: what the tear check did to Q's score, in words ("" when nothing, or no check)
    "q_note": "str",
}
"""Optional columns whose dtype is fixed (``"str"``, ``"float64"``, ``"bool"``, ``"int64"``).

Issues that add an optional column register it here, so that a CSV manifest gives it back with
that dtype instead of pandas' guess; absent optional columns are not an error.
"""

_STRING_NA = ("", "NaN", "nan")
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class _SchemaError(ValueError):
    """A manifest that breaks the schema; ``str()`` is the one-line reason."""


# --------------------------------------------------------------------------------------------- #
# validation and coercion


def _row_label(csv: bool) -> Callable[[int], str]:
    if csv:
        return lambda i: f"row {i + 1} (line {i + 2})"
    return lambda i: f"row {i + 1}"


def _is_missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _bad(column: str, i: int, value, why: str, label: Callable[[int], str]) -> _SchemaError:
    return _SchemaError(f"column {column!r}, {label(i)}: {shown(repr(value))} {why}")


def _first_true(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _coerce_str(s: pd.Series, column: str, label, allow_empty: bool = True) -> pd.Series:
    if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object and not s.isna().any():
        if not allow_empty and (i := _first_true((s == "").to_numpy())) is not None:
            raise _bad(column, i, "", "is empty", label)
        return s.astype("str")
    out = []
    for i, v in enumerate(s.tolist()):
        if isinstance(v, os.PathLike):
            v = os.fspath(v)
        if not isinstance(v, str):
            raise _bad(column, i, v, "is not a string", label)
        if not allow_empty and not v:
            raise _bad(column, i, v, "is empty", label)
        out.append(v)
    return pd.Series(out, index=s.index, dtype="str")


def _coerce_float(s: pd.Series, column: str, label, unit_range: bool = False) -> pd.Series:
    out_of_range = "is outside [0, 1] (Q's mean rating / 10; empty or NaN when not scored)"
    if s.dtype in (np.float32, np.float64) or (pd.api.types.is_float_dtype(s.dtype) and not s.isna().any()):
        arr = s.to_numpy(dtype="float64")
        if unit_range and (i := _first_true(~np.isnan(arr) & ~((arr >= 0.0) & (arr <= 1.0)))) is not None:
            raise _bad(column, i, float(arr[i]), out_of_range, label)
        return pd.Series(arr, index=s.index, dtype="float64")
    out = np.empty(len(s), dtype="float64")
    for i, v in enumerate(s.tolist()):
        if _is_missing(v) or (isinstance(v, str) and v.strip() in _STRING_NA):
            out[i] = np.nan
            continue
        if isinstance(v, (bool, np.bool_)):
            raise _bad(column, i, v, "is not a number", label)
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise _bad(column, i, v, "is not a number", label) from None
        if unit_range and not math.isnan(x) and not (0.0 <= x <= 1.0):
            raise _bad(column, i, v, out_of_range, label)
        out[i] = x
    return pd.Series(out, index=s.index, dtype="float64")


def _coerce_bool(s: pd.Series, column: str, label) -> pd.Series:
    if pd.api.types.is_bool_dtype(s.dtype) and not s.isna().any():
        return s.astype("bool")
    out = np.empty(len(s), dtype="bool")
    for i, v in enumerate(s.tolist()):
        if isinstance(v, (bool, np.bool_)):
            out[i] = bool(v)
        elif isinstance(v, numbers.Integral) and int(v) in (0, 1):
            out[i] = bool(int(v))
        elif isinstance(v, float) and v in (0.0, 1.0):
            out[i] = bool(v)
        elif isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
            out[i] = v.strip().lower() in _TRUE
        else:
            raise _bad(column, i, v, "is not a boolean (True/False/1/0)", label)
    return pd.Series(out, index=s.index, dtype="bool")


def _coerce_int(s: pd.Series, column: str, label) -> pd.Series:
    if pd.api.types.is_integer_dtype(s.dtype) and not s.isna().any():
        return s.astype("int64")
    out = np.empty(len(s), dtype="int64")
    lo, hi = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    for i, v in enumerate(s.tolist()):
        x = None
        if isinstance(v, (bool, np.bool_)):
            x = None
        elif isinstance(v, numbers.Integral):
            x = int(v)
        elif isinstance(v, float) and v.is_integer():
            x = int(v)
        elif isinstance(v, str):
            try:
                x = int(v.strip())
            except ValueError:
                x = None
        if x is None or not (lo <= x <= hi):
            raise _bad(column, i, v, "is not a 64-bit integer", label)
        out[i] = x
    return pd.Series(out, index=s.index, dtype="int64")


def _coerce_column(s: pd.Series, column: str, dtype: str, label) -> pd.Series:
    if dtype == "str":
        return _coerce_str(s, column, label, allow_empty=column != "out_path")
    if dtype == "float64":
        return _coerce_float(s, column, label, unit_range=column == "q_score")
    if dtype == "bool":
        return _coerce_bool(s, column, label)
    if dtype == "int64":
        return _coerce_int(s, column, label)
    raise ValueError(f"unsupported manifest dtype {dtype!r} for column {column!r}")


def _coerce(df: pd.DataFrame, *, csv: bool = False) -> pd.DataFrame:
    """Check required columns and values; return a new frame with schema dtypes and order."""
    columns = [str(c) for c in df.columns]
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise _SchemaError(f"duplicate column(s) {shown(', '.join(map(repr, dupes)))}")
    missing = [c for c in MANIFEST_COLUMNS if c not in columns]
    if missing:
        raise _SchemaError(
            f"missing column(s) {', '.join(map(repr, missing))}; a manifest needs {', '.join(MANIFEST_COLUMNS)}"
        )
    df = df.reset_index(drop=True)
    label = _row_label(csv)
    out = {}
    for column in MANIFEST_COLUMNS:
        out[column] = _coerce_column(df[column], column, MANIFEST_DTYPES[column], label)
    for column in columns:
        if column in MANIFEST_DTYPES:
            continue
        if column in OPTIONAL_DTYPES:
            out[column] = _coerce_column(df[column], column, OPTIONAL_DTYPES[column], label)
        else:
            out[column] = df[column]
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


def new_manifest(rows: Iterable[Mapping]) -> pd.DataFrame:
    """Build a validated manifest frame from row dicts (one per image).

    Every row needs every column of :data:`MANIFEST_COLUMNS`; other keys become extra columns.
    Values are coerced (``Path`` -> str, ``"1"``/``1`` -> True for ``kept``, ``None`` -> NaN for
    ``q_score``); a bad value raises ``ValueError`` naming the column and the row (counted from 1).

    Example:
        >>> df = new_manifest([dict(out_path="a.png", source_path="a.png", identity="007",
        ...     dataset="casia", lighting="ambient", expression="neutral", q_score=None,
        ...     kept=True, seed=0, generator_hash="", toolkit_version="0.1.0")])
        >>> df["identity"][0], bool(df["q_score"].isna()[0])
        ('007', True)
    """
    rows = list(rows)
    for i, row in enumerate(rows):
        missing = [c for c in MANIFEST_COLUMNS if c not in row]
        if missing:
            raise _SchemaError(f"row {i + 1}: missing column(s) {', '.join(map(repr, missing))}")
    if not rows:
        df = pd.DataFrame({c: pd.Series([], dtype=MANIFEST_DTYPES[c]) for c in MANIFEST_COLUMNS})
    else:
        # object columns: no early inference (identity "007" must not become 7)
        keys = list(dict.fromkeys(k for row in rows for k in row))
        df = pd.DataFrame({k: pd.Series([row.get(k) for row in rows], dtype=object) for k in keys})
    return _coerce(df)


# --------------------------------------------------------------------------------------------- #
# writing


def _stem(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix in (".parquet", ".csv"):
        return path.with_suffix("")
    return path


def write_manifest(df: pd.DataFrame, path: str | os.PathLike) -> tuple[Path, Path]:
    """Validate ``df`` and write ``<stem>.parquet`` and ``<stem>.csv``; return both paths.

    ``path`` may be the stem (``out/manifest``) or either file (``out/manifest.parquet``). Each file
    is written to a temp file in the same folder then moved into place, so a reader never sees a
    half-written manifest. A frame that breaks the schema raises ``ValueError``.
    """
    df = _coerce(df)
    stem = _stem(path)
    parquet_path = stem.with_name(stem.name + ".parquet")
    csv_path = stem.with_name(stem.name + ".csv")

    def write_parquet(tmp: Path) -> None:
        try:
            df.to_parquet(tmp, index=False, engine="pyarrow")
        except (TypeError, ValueError, NotImplementedError) as e:  # pyarrow's Arrow*Error derive from these
            raise ValueError(f"{parquet_path}: cannot write manifest to parquet: {str(e).splitlines()[0]}") from e

    with atomic_path(parquet_path) as tmp:
        write_parquet(tmp)
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    return parquet_path, csv_path


# --------------------------------------------------------------------------------------------- #
# reading


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return shown(text.splitlines()[0], 300) if text else type(e).__name__


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise DatasetFormatError(path, "empty file, expected a manifest CSV header") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DatasetFormatError(path, f"unreadable CSV: {_first_line(e)}") from None
    columns = [str(c) for c in header.columns]
    # required columns and str-typed optional ones are read as text, parsed by _coerce;
    # other extras get pandas' inference with empty cells -> NaN
    as_text = [c for c in columns if c in MANIFEST_DTYPES or c in OPTIONAL_DTYPES]
    inferred = [c for c in columns if c not in as_text]
    na_values = {c: list(_STRING_NA) for c in inferred}
    try:
        return pd.read_csv(
            path,
            dtype={c: str for c in as_text},
            keep_default_na=False,
            na_values=na_values,
            encoding="utf-8",
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DatasetFormatError(path, f"unreadable CSV: {_first_line(e)}") from None


def manifest_file(path: str | os.PathLike) -> Path:
    """The manifest file that ``path`` names: itself, or for a stem ``<stem>.parquet`` else ``<stem>.csv``."""
    path = Path(path)
    if path.suffix not in (".parquet", ".csv"):
        for suffix in (".parquet", ".csv"):
            candidate = path.with_name(path.name + suffix)
            if candidate.is_file():
                return candidate
        raise DatasetFormatError(path, "manifest not found (expected <stem>.parquet or <stem>.csv)")
    return path


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a ``.parquet`` or ``.csv`` manifest (a stem tries ``.parquet`` first).

    CSV text is parsed with the schema, not pandas' guesses: identities stay strings
    (``"0000045"``), ``kept`` accepts ``True/False/1/0``, an empty ``q_score`` is NaN. Required
    columns come back with :data:`MANIFEST_DTYPES`, extras after them.

    Raises:
        DatasetFormatError: missing or unreadable file, missing column, or a bad value (the message
            names the column and the first bad row).
    """
    path = manifest_file(path)
    if not path.is_file():
        raise DatasetFormatError(path, "manifest not found")
    if path.suffix == ".parquet":
        try:
            df = pd.read_parquet(path, engine="pyarrow")
        except Exception as e:  # pyarrow raises ArrowInvalid, OSError... on a corrupt file
            raise DatasetFormatError(path, f"unreadable parquet: {_first_line(e)}") from None
        csv = False
    else:
        df = _read_csv(path)
        csv = True
    try:
        return _coerce(df, csv=csv)
    except _SchemaError as e:
        raise DatasetFormatError(path, str(e)) from None


def _extra_text(value) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (np.integer, np.bool_)):
        return str(value.item())
    return str(value)


def manifest_records(path: str | os.PathLike, kept_only: bool = True) -> tuple[list[FaceRecord], SkipReport]:
    """The manifest's images as :class:`FaceRecord` (``dataset="manifest"``), with skips counted.

    ``record.path`` is ``out_path`` resolved against the manifest's folder. ``record.extra`` keeps
    ``source_path``, ``source_dataset``, ``q_score`` (``""`` when NaN), ``seed``,
    ``generator_hash``, ``kept`` and every extra column, as strings. Rows whose image is missing are
    counted in the :class:`SkipReport` as ``"missing file"``, rows whose image an earlier row already
    gave as ``"duplicate row"`` (the first is kept: two records of one file would collide downstream);
    with ``kept_only`` rows that Q rejected are dropped without being counted. An empty result is
    not an error here (a run may keep nothing); ``read_dataset("manifest", ...)`` refuses it.
    """
    path = manifest_file(path)
    df = read_manifest(path)
    base = path.parent.absolute()
    extras = [c for c in df.columns if c not in MANIFEST_DTYPES]
    records: list[FaceRecord] = []
    skips = SkipReport()
    first_row: dict[Path, int] = {}  # image -> the row that gave it first
    columns = list(df.columns)
    for i, values in enumerate(zip(*(df[c].tolist() for c in columns))):
        row = dict(zip(columns, values))
        if kept_only and not row["kept"]:
            continue
        image = Path(os.path.normpath(base / row["out_path"]))
        if not image.is_file():
            skips.add("missing file", f"{path.name} row {i + 1}: {shown(str(image), 300)}")
            continue
        first = first_row.setdefault(image, i)
        if first != i:
            skips.add(DUPLICATE,
                      f"{path.name} row {i + 1}: {shown(row['out_path'], 300)} already listed on row {first + 1}")
            continue
        extra = {
            "source_path": row["source_path"],
            "source_dataset": row["dataset"],
            "q_score": _extra_text(row["q_score"]),
            "seed": str(int(row["seed"])),
            "generator_hash": row["generator_hash"],
            "kept": str(bool(row["kept"])),
        }
        for c in extras:
            extra[c] = _extra_text(row[c])
        records.append(
            FaceRecord(
                path=image,
                dataset="manifest",
                identity=row["identity"] or UNKNOWN,
                lighting=row["lighting"] or UNKNOWN,
                expression=row["expression"] or UNKNOWN,
                extra=extra,
            )
        )
    return records, skips


def file_sha256(path: str | os.PathLike, length: int = 16) -> str:
    """The first ``length`` hex digits of the file's sha256, read in 1 MiB chunks.

    Used for ``generator_hash``: which generator checkpoint produced a row.

    Example:
        >>> file_sha256("checkpoints/legan.pt")  # doctest: +SKIP
        '9f86d081884c7d65'
    """
    if not 1 <= length <= 64:
        raise ValueError(f"length must be 1..64, got {length}")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:length]
