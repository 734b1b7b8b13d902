"""LFW-format pair lists (``pairs.txt``, ``pairsDevTrain.txt``, ``pairsDevTest.txt``).

Format: a header line, either ``<folds> <pairs per fold per kind>`` (``10 300`` in ``pairs.txt``) or
``<pairs per kind>`` (``1100`` in the dev files); then, per fold, the "same" pairs ``name n1 n2`` followed
by the "different" pairs ``name1 n1 name2 n2`` (tab or space separated). Image ``n`` of ``name`` is
``<root>/<name>/<name>_<nnnn>.jpg``.

For other datasets (Yale B's file names are not numbered), a ``.csv`` pair list with the header
``first,second,same[,fold]`` (paths relative to ``root`` or absolute, ``same`` 1/0) is read by the same
:func:`read_pairs`.

Example:
    >>> pairs = read_pairs("lfw/pairs.txt", "lfw/lfw-deepfunneled")   # doctest: +SKIP
    >>> len(pairs), pairs[0].same, pairs[0].fold                        # doctest: +SKIP
    (6000, True, 0)
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from augmenter.errors import DatasetFormatError


@dataclass(frozen=True)
class Pair:
    first: Path
    second: Path
    same: bool
    fold: int


def lfw_image(root: Path, name: str, number: int, suffix: str = ".jpg") -> Path:
    return root / name / f"{name}_{number:04d}{suffix}"


def read_pairs(path: str | os.PathLike, root: str | os.PathLike, suffix: str = ".jpg") -> list[Pair]:
    """Every pair of the list, in file order, with its fold; a malformed file raises
    :class:`DatasetFormatError` naming the file and line. Image files are not checked here."""
    path, root = Path(path), Path(root)
    if path.suffix.lower() == ".csv":
        return read_pair_csv(path, root)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetFormatError(path, f"unreadable pairs file ({err.__class__.__name__})") from None
    lines = [(i + 1, line.split()) for i, line in enumerate(lines) if line.strip()]
    if not lines:
        raise DatasetFormatError(path, "empty pairs file")
    header_line, header = lines[0]
    try:
        numbers = [int(v) for v in header]
    except ValueError:
        raise DatasetFormatError(path, f"line {header_line}: header {' '.join(header)!r} is not '<folds> <pairs>' "
                                       "or '<pairs>'") from None
    if len(numbers) not in (1, 2) or min(numbers) < 1:
        raise DatasetFormatError(path, f"line {header_line}: header {' '.join(header)!r} is not '<folds> <pairs>'")
    folds, per_kind = (1, numbers[0]) if len(numbers) == 1 else numbers
    body = lines[1:]
    if len(body) != 2 * folds * per_kind:
        raise DatasetFormatError(path, f"the header promises {2 * folds * per_kind} pairs ({folds} fold(s) x "
                                       f"{per_kind} same + {per_kind} different), the file has {len(body)}")
    pairs = []
    for k, (number, fields) in enumerate(body):
        fold, same = k // (2 * per_kind), (k % (2 * per_kind)) < per_kind
        try:
            if same and len(fields) == 3:
                a = lfw_image(root, fields[0], int(fields[1]), suffix)
                b = lfw_image(root, fields[0], int(fields[2]), suffix)
            elif not same and len(fields) == 4:
                a = lfw_image(root, fields[0], int(fields[1]), suffix)
                b = lfw_image(root, fields[2], int(fields[3]), suffix)
            else:
                raise ValueError
        except ValueError:
            kind = "'name n1 n2' (same person)" if same else "'name1 n1 name2 n2' (different people)"
            raise DatasetFormatError(path, f"line {number}: {' '.join(fields)!r} is not {kind}") from None
        pairs.append(Pair(a, b, same, fold))
    return pairs


def write_pairs(path: str | os.PathLike, folds: list[tuple[list[tuple[str, int, int]], list[tuple[str, int, str, int]]]]) -> Path:
    """Write folds of ``(same pairs, different pairs)`` in the LFW format (all folds the same size)."""
    per_kind = len(folds[0][0])
    if any(len(same) != per_kind or len(diff) != per_kind for same, diff in folds):
        raise ValueError("every fold needs the same number of same and different pairs")
    lines = [f"{len(folds)}\t{per_kind}"]
    for same, diff in folds:
        lines += [f"{n}\t{a}\t{b}" for n, a, b in same] + [f"{n1}\t{a}\t{n2}\t{b}" for n1, a, n2, b in diff]
    from augmenter.atomic import write_text_atomic

    write_text_atomic(path, "\n".join(lines) + "\n")
    return Path(path)


def read_pair_csv(path: Path, root: Path) -> list[Pair]:
    """A ``first,second,same[,fold]`` CSV pair list (see the module docstring)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetFormatError(path, f"unreadable pairs file ({err.__class__.__name__})") from None
    if not rows or [c.strip() for c in rows[0][:3]] != ["first", "second", "same"]:
        raise DatasetFormatError(path, "expected the header first,second,same[,fold]")
    has_fold = len(rows[0]) > 3
    pairs = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        try:
            same = {"1": True, "0": False, "true": True, "false": False}[row[2].strip().lower()]
            fold = int(row[3]) if has_fold else 0
            pairs.append(Pair(root / row[0].strip(), root / row[1].strip(), same, fold))
        except (IndexError, KeyError, ValueError):
            raise DatasetFormatError(path, f"line {number}: {','.join(row)!r} is not first,second,same(1/0)"
                                           f"{',fold' if has_fold else ''}") from None
    if not pairs:
        raise DatasetFormatError(path, "no pairs")
    return pairs


def write_pair_csv(path: str | os.PathLike, pairs: list[Pair], root: Path) -> Path:
    """Write ``pairs`` as a ``first,second,same,fold`` CSV with paths relative to ``root``."""
    import csv
    import io

    from augmenter.atomic import write_text_atomic

    def rel(p: Path) -> str:
        return os.path.relpath(p, root).replace(os.sep, "/")

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["first", "second", "same", "fold"])
    writer.writerows([rel(p.first), rel(p.second), int(p.same), p.fold] for p in pairs)
    write_text_atomic(path, buffer.getvalue())
    return Path(path)
