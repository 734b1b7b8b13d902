"""Reading a labelled CSV as text, with its header checked and each row's line number kept.

Rows with too many fields are counted as skips (``"wrong field count"``) instead of stopping the
read; rows with too few get ``""`` in the missing cells, which the reader's own checks reject.
A file listed again (:data:`DUPLICATE`) is found by :func:`repeated_rows`.
"""
from __future__ import annotations

import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from augmenter.skips import SkipReport
from augmenter.errors import DatasetFormatError

WRONG_FIELDS = "wrong field count"
DUPLICATE = "duplicate row"
_SKIPPED_LINE = re.compile(r"Skipping line (\d+): (.*)")
_HEADER_BYTES = 1 << 16  # a longer first line is no header: do not read a binary file whole
_EXAMPLE_CHARS = 300


def shown(text: str, limit: int = 120) -> str:
    r"""``text`` as it may appear in a one-line message: non-printable characters escaped, at most
    ``limit`` characters (then ``...``).

    File content quoted in an error or a skip example goes through here, so a binary file or a
    stray control byte cannot break the line or drive the terminal.

    Example:
        >>> shown("a\tb\x00\x1b[2J")
        'a\\tb\\x00\\x1b[2J'
    """
    pieces, size = [], 0
    for c in text:
        piece = c if c.isprintable() else repr(c)[1:-1]
        if size + len(piece) > limit:
            return "".join(pieces) + "..."
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces)


def read_header(path: Path) -> list[str]:
    """The first line of ``path`` split on commas (BOM and surrounding spaces removed).

    Raises:
        DatasetFormatError: missing file, empty file, or a first line that is not UTF-8 text.
    """
    if not path.is_file():
        raise DatasetFormatError(path, "file does not exist" if not path.exists() else "not a file")
    with open(path, "rb") as f:
        first = f.readline(_HEADER_BYTES).splitlines()
    raw = first[0] if first else b""
    try:
        line = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        start = shown(raw.decode("utf-8", "backslashreplace"), 40)
        raise DatasetFormatError(path, f"not a UTF-8 text CSV (binary file?): its first line starts {start}") from None
    if not line:
        raise DatasetFormatError(path, "empty file: no header line")
    return [c.strip().strip('"') for c in line.split(",")]


def check_header(path: Path, expected: tuple[str, ...], *, any_order: bool = False) -> None:
    """:class:`DatasetFormatError` unless the header names exactly ``expected`` (in order unless ``any_order``)."""
    got = read_header(path)
    ok = sorted(got) == sorted(expected) if any_order else got == list(expected)
    if not ok:
        raise DatasetFormatError(path, f"wrong header: expected {','.join(expected)}; got {shown(','.join(got))}")


def read_rows(path: Path, skips: SkipReport, sep: str = ","):
    """``(DataFrame of str, line numbers)`` for the data rows of ``path``; header checked by the caller.

    Every cell is a string (``""`` when empty); ``lines[i]`` is the 1-based file line of row ``i``;
    column names are stripped of spaces and quotes. Rows with too many fields are counted as skips.
    """
    import pandas as pd  # imported here so that importing the readers stays cheap

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            df = pd.read_csv(
                path, sep=sep, dtype=str, keep_default_na=False, na_filter=False, skip_blank_lines=False,
                on_bad_lines="warn", encoding="utf-8-sig", encoding_errors="replace",
            )
        except (ValueError, pd.errors.ParserError) as e:  # e.g. an unterminated quote
            first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise DatasetFormatError(path, f"unreadable CSV: {shown(first_line, 200)}") from None
    bad: dict[int, str] = {}
    for w in caught:
        for m in _SKIPPED_LINE.finditer(str(w.message)):
            bad[int(m.group(1))] = m.group(2).strip()
    for line, why in sorted(bad.items()):
        skips.add(WRONG_FIELDS, f"{path.name} line {line}: {shown(why, _EXAMPLE_CHARS)}")
    # Data rows are lines 2, 3, ... minus the rejected ones (blank lines are kept as rows).
    lines = np.arange(2, 2 + len(df) + len(bad))
    if bad:
        lines = lines[~np.isin(lines, list(bad))]
    if len(lines) != len(df):  # pandas worded its warning differently: line numbers are approximate
        lines = np.arange(2, 2 + len(df))
    df.columns = [str(c).strip().strip('"') for c in df.columns]
    return df.reset_index(drop=True), lines


class RowFilter:
    """Which rows of a parsed file are still usable; each rejection is counted once per row.

    Example:
        >>> rows = RowFilter(3, "a.csv", np.array([2, 3, 4]), skips := SkipReport())
        >>> rows.reject(np.array([False, True, True]), "bad bbox", lambda i: f"row {i}")
        >>> rows.ok.tolist(), skips.examples["bad bbox"]
        ([True, False, False], ['a.csv line 3: row 1', 'a.csv line 4: row 2'])
    """

    def __init__(self, n: int, file_name: str, lines: np.ndarray, skips: SkipReport):
        self.ok = np.ones(n, bool)
        self.file_name, self.lines, self.skips = file_name, lines, skips

    def reject(self, bad, reason: str, describe) -> None:
        """Reject the still-usable rows where ``bad`` is true; ``describe(i)`` explains row ``i``
        (it may quote the file's cells: the example is escaped and shortened by :func:`shown`)."""
        bad = self.ok & np.asarray(bad, bool)
        where = np.flatnonzero(bad)
        examples = [f"{self.file_name} line {self.lines[i]}: {shown(describe(i), _EXAMPLE_CHARS)}"
                    for i in where[: self.skips.max_examples]]
        add_many(self.skips, reason, len(where), examples)
        self.ok &= ~bad


def add_many(skips: SkipReport, reason: str, count: int, examples: list[str]) -> None:
    """Count ``count`` skips of one reason at once, keeping the given (first few) examples."""
    if count:
        skips.merge(SkipReport(counts=Counter({reason: count}), examples={reason: examples[: skips.max_examples]}))


def repeated_rows(keys, usable: np.ndarray, where, seen: dict[str, str]) -> dict[int, str]:
    """Row index -> where its file was first listed, for each usable row whose key an earlier one had.

    ``keys[i]`` identifies row ``i``'s file (a normalised path), ``where(i)`` names the row (e.g.
    ``"training.csv line 7"``); ``seen`` maps each key kept so far, by this file or one read before,
    to where it was listed, and gains this file's new keys. Two records of one image would collide
    later (one output name for both), so only the first is kept.
    """
    earlier: dict[int, str] = {}
    for i in np.flatnonzero(usable).tolist():
        if keys[i] in seen:
            earlier[i] = seen[keys[i]]
        else:
            seen[keys[i]] = where(i)
    return earlier
