"""Readers of the IJB-B 1:1 meta files (insightface's ``IJBB/meta`` layout) into numpy arrays.

Files in the meta folder (whitespace-separated fields, one record a line, blank lines ignored):

* ``ijbb_face_tid_mid.txt``: ``image tid mid``: the loose crop's file name, its template id and its media id
  (integers), e.g. ``1.jpg 1 69544``. IJB-B: 227,630 images, 12,115 templates, 83,238 (template, media).
* ``ijbb_template_pair_label.txt``: ``tid1 tid2 label``, label 1 genuine / 0 impostor, e.g. ``1 11065 1``.
  IJB-B: 8,010,270 pairs (10,270 genuine).
* ``ijbb_name_5pts_score.txt`` (needed for detector scores and to align images): ``image x1 y1 ... x5 y5
  score``: five landmarks in the image's pixels (left eye, right eye, nose tip, left and right mouth
  corners) and the face detector's score (0..1), e.g. ``1.jpg 46.06 62.72 ... 0.999``.

The files are parsed by numpy's / pandas' C parsers (the 8M-line pair file in about a second). When the
fast parse fails or finds a bad value, the file is scanned line by line and the first malformed line is
reported: ``DatasetFormatError("<file>: line N: ...")``. Cross-file errors name what is missing: a pair's
template id that no image has (with how many such ids), an image without a 5-point line (with the count).

Example:
    >>> meta = read_meta("IJB_release/IJBB/meta")        # doctest: +SKIP
    >>> meta.n_images, meta.n_templates, len(meta.labels)  # doctest: +SKIP
    (227630, 12115, 8010270)
"""
from __future__ import annotations

import csv
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augmenter.errors import DatasetFormatError

TID_MID = "ijbb_face_tid_mid.txt"
PAIRS = "ijbb_template_pair_label.txt"
FIVE_POINTS = "ijbb_name_5pts_score.txt"

_INT, _FLOAT, _NAME, _LABEL = "integer", "number", "name", "label (0 or 1)"
_TID_MID_FIELDS = (("image", _NAME), ("tid", _INT), ("mid", _INT))
_PAIR_FIELDS = (("tid1", _INT), ("tid2", _INT), ("label", _LABEL))
_FIVE_POINT_FIELDS = (("image", _NAME),) + tuple((f"{a}{i}", _FLOAT) for i in range(1, 6) for a in "xy") \
    + (("score", _FLOAT),)


def _field_ok(text: str, kind: str) -> bool:
    if kind == _NAME:
        return True
    if kind == _LABEL:
        return text in ("0", "1")
    try:
        value = int(text) if kind == _INT else float(text)
    except ValueError:
        return False
    return (-2**63 <= value < 2**63) if kind == _INT else bool(np.isfinite(value))


def first_bad_line(path: str | os.PathLike, fields: tuple[tuple[str, str], ...]) -> str | None:
    """The first malformed line of ``path`` as ``"line N: <what>"`` (fields ``(name, kind)``), or None."""
    layout = " ".join(name for name, _ in fields)
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != len(fields):
                return f"line {number}: expected {len(fields)} fields ({layout}), got {len(parts)}: {line.strip()!r}"
            for text, (name, kind) in zip(parts, fields):
                if not _field_ok(text, kind):
                    return f"line {number}: {name} is not a valid {kind}: {text!r}"
    return None


def _malformed(path: Path, fields, cause: str) -> DatasetFormatError:
    return DatasetFormatError(path, first_bad_line(path, fields) or f"could not be parsed ({cause})")


def _require(path: Path) -> Path:
    if not path.is_file():
        raise DatasetFormatError(path, "file not found")
    return path


def _read_table(path: Path, fields):
    """A whitespace-separated table with a name column first and numeric columns after, checked."""
    import pandas as pd

    try:
        table = pd.read_csv(_require(path), sep=r"\s+", header=None, dtype={0: str}, engine="c",
                            na_filter=False, quoting=csv.QUOTE_NONE, skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise DatasetFormatError(path, "no records") from None
    except (ValueError, pd.errors.ParserError) as err:
        raise _malformed(path, fields, str(err).strip()) from None
    numeric = [np.int64 if kind == _INT else np.float64 for _, kind in fields[1:]]
    ok = table.shape[1] == len(fields) and all(
        table[i].dtype == np.int64 if want is np.int64 else pd.api.types.is_numeric_dtype(table[i])
        for i, want in enumerate(numeric, start=1))
    if ok and numeric[0] is np.float64:
        ok = bool(np.isfinite(table.iloc[:, 1:].to_numpy(np.float64)).all())
    if not ok:
        raise _malformed(path, fields, "bad values")
    return table


def read_tid_mid(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(names, tids, mids)``: ``(N,)`` str image names, int64 template and media ids, in file order."""
    table = _read_table(Path(path), _TID_MID_FIELDS)
    return table[0].to_numpy(dtype=str), table[1].to_numpy(np.int64), table[2].to_numpy(np.int64)


def read_five_points(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(names, landmarks, scores)``: ``(M,)`` str, ``(M, 5, 2)`` float64 (x, y) pixels, ``(M,)`` float64."""
    table = _read_table(Path(path), _FIVE_POINT_FIELDS)
    values = table.iloc[:, 1:].to_numpy(np.float64)
    return table[0].to_numpy(dtype=str), values[:, :10].reshape(-1, 5, 2), values[:, 10].copy()


def read_pairs(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(tid1, tid2, labels)``: ``(P,)`` int64 template ids and int8 labels (1 genuine, 0 impostor)."""
    path = _require(Path(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)   # "input contained no data"
            table = np.loadtxt(path, dtype=np.int64, ndmin=2, comments=None, encoding="utf-8")
    except (ValueError, UnicodeDecodeError) as err:
        raise _malformed(path, _PAIR_FIELDS, str(err)) from None
    if table.size == 0:
        raise DatasetFormatError(path, "no pairs")
    if table.shape[1] != 3 or not np.logical_or(table[:, 2] == 0, table[:, 2] == 1).all():
        raise _malformed(path, _PAIR_FIELDS, "bad values")
    return table[:, 0].copy(), table[:, 1].copy(), table[:, 2].astype(np.int8)


@dataclass
class IJBBMeta:
    """The meta files of one IJB-B release, as arrays.

    Attributes:
        meta_dir: the folder read.
        names: ``(N,)`` str image names, ``ijbb_face_tid_mid.txt`` order (N = 227,630 for IJB-B).
        templates: ``(N,)`` int64 template id of each image.
        medias: ``(N,)`` int64 media id of each image.
        template_ids: ``(T,)`` int64 sorted distinct template ids (T = 12,115).
        template_index: ``(N,)`` int64 index of each image's template in ``template_ids``.
        pairs: ``(P, 2)`` int64 indices into ``template_ids`` of each pair's two templates, file order.
        labels: ``(P,)`` int8, 1 genuine / 0 impostor.
        landmarks: ``(N, 5, 2)`` float64 five points of each image, or None without the 5-point file.
        detector_scores: ``(N,)`` float64, or None without the 5-point file.
    """

    meta_dir: Path
    names: np.ndarray
    templates: np.ndarray
    medias: np.ndarray
    template_ids: np.ndarray
    template_index: np.ndarray
    pairs: np.ndarray
    labels: np.ndarray
    landmarks: np.ndarray | None = None
    detector_scores: np.ndarray | None = None

    @property
    def n_images(self) -> int:
        return len(self.names)

    @property
    def n_templates(self) -> int:
        return len(self.template_ids)

    @property
    def n_media(self) -> int:
        """Distinct (template, media) groups."""
        order = np.lexsort((self.medias, self.template_index))
        t, m = self.template_index[order], self.medias[order]
        return int(np.count_nonzero(np.r_[True, (t[1:] != t[:-1]) | (m[1:] != m[:-1])]))


def pair_template_indices(template_ids: np.ndarray, tid1: np.ndarray, tid2: np.ndarray,
                          path: Path) -> np.ndarray:
    """``(P, 2)`` int64 indices of the pairs' template ids in sorted ``template_ids``;
    :class:`DatasetFormatError` on ``path`` naming an unknown id, how many such ids there are and the first
    pair that has one."""
    out = np.empty((len(tid1), 2), dtype=np.int64)
    unknown = np.zeros(len(tid1), dtype=bool)
    lo, span = int(template_ids[0]), int(template_ids[-1]) - int(template_ids[0])
    lookup = None
    if span < 1 << 26:    # ids in a modest range: a dense lookup table (IJB-B: ~20K ids) beats searchsorted
        lookup = np.full(span + 1, -1, dtype=np.int64)
        lookup[template_ids - lo] = np.arange(len(template_ids))
    for col, tids in enumerate((tid1, tid2)):
        if lookup is not None:
            offset = tids - lo
            idx = lookup[np.clip(offset, 0, span)]
            idx[(offset < 0) | (offset > span)] = -1
            unknown |= idx < 0
        else:
            idx = np.minimum(np.searchsorted(template_ids, tids), len(template_ids) - 1)
            unknown |= template_ids[idx] != tids
        out[:, col] = idx
    if unknown.any():
        bad = np.setdiff1d(np.r_[tid1[unknown], tid2[unknown]], template_ids)
        first = int(np.flatnonzero(unknown)[0])
        raise DatasetFormatError(path, f"{len(bad)} template id(s) of the pairs have no image in {TID_MID}, "
                                       f"e.g. {int(bad[0])} (first in pair {first + 1}: "
                                       f"{int(tid1[first])} {int(tid2[first])})")
    return out


def read_meta(meta_dir: str | os.PathLike, five_points: bool | None = None) -> IJBBMeta:
    """Read and cross-check the meta folder (see the module docstring). The 5-point file is read when
    ``five_points`` is True (then it must exist), skipped when False, read when present when None; its names
    must be unique and every image must have a 5-point line."""
    meta_dir = Path(meta_dir)
    if not meta_dir.is_dir():
        raise DatasetFormatError(meta_dir, "meta folder not found")
    names, templates, medias = read_tid_mid(meta_dir / TID_MID)
    template_ids, template_index = np.unique(templates, return_inverse=True)
    tid1, tid2, labels = read_pairs(meta_dir / PAIRS)
    pairs = pair_template_indices(template_ids, tid1, tid2, meta_dir / PAIRS)
    del tid1, tid2
    meta = IJBBMeta(meta_dir, names, templates, medias, template_ids, template_index.astype(np.int64), pairs, labels)
    five = meta_dir / FIVE_POINTS
    if five_points or (five_points is None and five.is_file()):
        points_names, landmarks, scores = read_five_points(_require(five))
        rows = match_names(points_names, names, five, what="5-point line")
        meta.landmarks, meta.detector_scores = landmarks[rows], scores[rows]
    return meta


def match_names(keys: np.ndarray, wanted: np.ndarray, path: Path, what: str) -> np.ndarray:
    """``(len(wanted),)`` int64 row of each ``wanted`` name among ``keys`` (unique); DatasetFormatError on
    ``path`` naming a duplicate key, or the first wanted name without ``what`` and how many lack it."""
    import pandas as pd

    index = pd.Index(keys)
    if not index.is_unique:
        dup = index[index.duplicated()]
        raise DatasetFormatError(path, f"{len(dup.unique())} image name(s) appear more than once, e.g. {dup[0]!r}")
    rows = index.get_indexer(wanted)
    missing = rows < 0
    if missing.any():
        lacking = np.unique(np.asarray(wanted)[missing])
        raise DatasetFormatError(path, f"{len(lacking)} image(s) of {TID_MID} have no {what}, "
                                       f"e.g. {str(np.asarray(wanted)[missing][0])!r}")
    return rows.astype(np.int64)
