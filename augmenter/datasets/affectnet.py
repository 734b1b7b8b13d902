"""AffectNet reader (manually annotated part): the two file-list CSVs and their image folder.

Layout::

    root/Manually_Annotated_file_lists/training.csv      split "train"
    root/Manually_Annotated_file_lists/validation.csv    split "val"
    root/Manually_Annotated_Images/689/737db2...ca.jpg   (or the images directly under root)

CSV header, exactly::

    subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal
    689/737db2483489148d783ef278f43f486c0a97e140fc4b6b61b84363ca.jpg,134,134,899,899,181.64;530.91;...,1,0.785714,-0.055556

``facial_landmarks`` holds 136 numbers separated by ``;`` (68 ``x;y`` pairs) -> ``record.landmarks``;
``(face_x, face_y, face_width, face_height)`` -> ``record.bbox``; ``expression`` codes map through
:data:`augmenter.attributes.AFFECTNET_CODES` (0 neutral ... 7 contempt). ``extra`` keeps
``emotion_code``, ``valence`` and ``arousal`` as written.

Skipped and counted, each under its own reason, with ``"<csv> line <n>: ..."`` examples: rows with
too many fields, an empty path, a bad bbox (non-numeric, ``w <= 0``, ``h <= 0``, ``x < 0`` or
``y < 0``), an unknown expression code, codes 8 / 9 / 10 (none / uncertain / no-face, always
excluded), contempt when it is dropped, valence/arousal that are not finite numbers (``inf`` and
``nan`` too), landmarks that are not 136 numbers, a non-image path, (unless ``check_files=False``) a
missing image, and an image listed again (``"duplicate row"``, in the same CSV or the other one: the
first usable row is kept, so no two records name one file).

Cost, measured on a synthetic 290K-row training.csv (2-core machine): about 5-7 s with
``landmarks=False`` and more with landmarks, which are kept as one float32 buffer (544 bytes per
record). Pass ``landmarks=False`` when only paths and labels are needed.

Example:
    >>> listing = read_affectnet("/data/AffectNet", classes=7)                 # doctest: +SKIP
    >>> listing.skips.counts["contempt excluded (classes=7)"]                   # doctest: +SKIP
    3750
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from augmenter.attributes import AFFECTNET_CODES, AFFECTNET_EXCLUDED_CODES
from augmenter.datasets._csv import DUPLICATE, RowFilter, check_header, read_rows, repeated_rows
from augmenter.datasets._tree import NOT_IMAGE, absolute, finish, is_image_name, require_dir
from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.record import FaceRecord
from augmenter.datasets.splits import canonical_split
from augmenter.skips import SkipReport

COLUMNS: tuple[str, ...] = (
    "subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
    "facial_landmarks", "expression", "valence", "arousal",
)
FILE_LISTS = "Manually_Annotated_file_lists"
IMAGES = "Manually_Annotated_Images"
SPLIT_FILES: dict[str, str] = {"train": "training.csv", "val": "validation.csv"}
N_LANDMARKS = 68
CONTEMPT = 7
_BBOX = ("face_x", "face_y", "face_width", "face_height")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_LANDMARKS = rf"\s*{_NUMBER}(?:\s*;\s*{_NUMBER}){{{2 * N_LANDMARKS - 1}}}\s*"


def read_affectnet(
    root: str | os.PathLike,
    *,
    csv: str | os.PathLike | None = None,
    images_dir: str | os.PathLike | None = None,
    splits: tuple[str, ...] = ("train", "val"),
    include_contempt: bool = True,
    classes: int | None = None,
    landmarks: bool = True,
    check_files: bool = True,
    dataset: str = "affectnet",
) -> DatasetListing:
    """List AffectNet's manually annotated images (format in the module docstring).

    Args:
        root: the AffectNet folder; a path to one of its CSVs is taken as ``csv=`` (the root is then
            the folder above ``Manually_Annotated_file_lists``, or the CSV's folder).
        csv: read only this CSV (relative to ``root`` or absolute) instead of ``splits``; its split
            is ``"train"`` for ``training.csv``, ``"val"`` for ``validation.csv``, ``"test"`` for
            ``test.csv`` (any name of :data:`augmenter.datasets.splits.SPLIT_NAMES`), else unknown.
        images_dir: the image folder (relative to ``root`` or absolute); default
            ``root/Manually_Annotated_Images`` when it exists, else ``root``.
        splits: which of ``"train"``, ``"val"`` to read; each one's CSV is required.
        include_contempt, classes: contempt (code 7) is kept unless ``include_contempt=False`` or
            ``classes=7`` (the 7-class setting); dropped rows are counted.
        landmarks: parse ``facial_landmarks`` into ``record.landmarks`` (else left ``None``).
        check_files: skip rows whose image is missing (one directory listing per subfolder).

    Raises:
        DatasetFormatError: missing root, CSV or image folder, wrong header, or no usable row.
    """
    drop_contempt = _drop_contempt(include_contempt, classes)
    start = absolute(root)
    if csv is None and start.is_file():
        csv = start
        start = start.parent.parent if start.parent.name == FILE_LISTS else start.parent
    root = require_dir(start)
    if csv is not None:
        path = absolute(root / csv)
        csvs = [(path, canonical_split(path.stem))]  # training.csv -> train, validation.csv -> val
    else:
        unknown = [s for s in splits if s not in SPLIT_FILES]
        if unknown or not splits:
            raise ValueError(f"AffectNet splits must be among {sorted(SPLIT_FILES)}, got {list(splits)}")
        csvs = [(root / FILE_LISTS / SPLIT_FILES[s], s) for s in splits]
    for path, _ in csvs:  # every header before any long parse: fail fast
        check_header(path, COLUMNS)
    images = _images_dir(root, images_dir)
    files = _FileIndex(images) if check_files else None
    skips = SkipReport()
    records: list[FaceRecord] = []
    listed: dict[str, str] = {}  # image -> the row that listed it first, across the CSVs
    for path, split in csvs:
        records += _read_csv(path, split, images, skips, drop_contempt, landmarks, files, dataset, listed)
    return finish(records, skips, dataset, root)


def _drop_contempt(include_contempt: bool, classes: int | None) -> bool:
    if classes not in (None, 7, 8):
        raise ValueError(f"AffectNet classes must be 7 or 8, got {classes!r}")
    if classes == 8 and not include_contempt:
        raise ValueError("classes=8 keeps contempt; it contradicts include_contempt=False")
    return classes == 7 or not include_contempt


def _images_dir(root: Path, images_dir: str | os.PathLike | None) -> Path:
    if images_dir is not None:
        return require_dir(root / images_dir, "AffectNet image folder")
    default = root / IMAGES
    return default if default.is_dir() else root


class _FileIndex:
    """Existence checks through one ``os.listdir`` per image subfolder (cheap for 300K rows)."""

    def __init__(self, images: Path):
        self.images = images
        self.listed: dict[str, frozenset[str]] = {}

    def __contains__(self, relative: str) -> bool:
        folder, name = os.path.split(relative)
        names = self.listed.get(folder)
        if names is None:
            try:
                names = frozenset(os.listdir(self.images / folder))
            except OSError:
                names = frozenset()
            self.listed[folder] = names
        return name in names


def _read_csv(path, split, images, skips, drop_contempt, with_landmarks, files, dataset, listed) -> list[FaceRecord]:
    import pandas as pd

    df, lines = read_rows(path, skips)
    rows = RowFilter(len(df), path.name, lines, skips)
    reject, ok = rows.reject, rows.ok  # rows.ok is updated in place by reject

    col = {c: df[c] if c == "facial_landmarks" else df[c].str.strip() for c in COLUMNS}
    rel = col["subDirectory_filePath"].to_numpy(object)
    reject(rel == "", "missing path", lambda i: "empty subDirectory_filePath")

    num = {c: pd.to_numeric(col[c], errors="coerce").to_numpy(float) for c in _BBOX}
    x, y, w, h = (num[c] for c in _BBOX)
    fine = {
        "face_x": np.isfinite(x) & (x >= 0), "face_y": np.isfinite(y) & (y >= 0),
        "face_width": np.isfinite(w) & (w > 0), "face_height": np.isfinite(h) & (h > 0),
    }

    def bbox_problem(i: int) -> str:
        c = next(c for c in _BBOX if not fine[c][i])
        return f"{c}={df[c].iat[i] or '(empty)'}"

    reject(~np.logical_and.reduce(list(fine.values())), "bad bbox", bbox_problem)

    code = pd.to_numeric(col["expression"], errors="coerce").to_numpy(float)
    known = np.isfinite(code) & (code == np.round(code)) & (code >= 0) & (code <= max(AFFECTNET_EXCLUDED_CODES))
    code = np.where(known, code, -1).astype(int)
    reject(~known, "unknown expression", lambda i: f"expression={df['expression'].iat[i]!r}")
    for c, name in AFFECTNET_EXCLUDED_CODES.items():
        reject(code == c, f"expression {c} ({name}) excluded", lambda i: f"expression={c}")
    if drop_contempt:
        reject(code == CONTEMPT, "contempt excluded (classes=7)", lambda i: f"expression={CONTEMPT}")

    for c in ("valence", "arousal"):
        finite = np.isfinite(pd.to_numeric(col[c], errors="coerce").to_numpy(float))
        reject(~finite, "bad valence/arousal", lambda i, c=c: f"{c}={df[c].iat[i]!r}")

    reject(np.array([not is_image_name(p) for p in rel], bool), NOT_IMAGE, lambda i: rel[i])

    points = None
    if with_landmarks:
        parsed, points = _landmarks(col["facial_landmarks"], ok)
        reject(~parsed, "bad landmarks", lambda i: _landmark_problem(df["facial_landmarks"].iat[i]))
    if files is not None:
        reject(np.array([bool(k) and rel[i] not in files for i, k in enumerate(ok)], bool),
               "missing file", lambda i: f"{rel[i]} not in {images}")
    def where(i: int) -> str:
        return f"{path.name} line {lines[i]}"

    earlier = repeated_rows([os.path.normpath(p) if p else p for p in rel], ok, where, listed)
    reject(np.isin(np.arange(len(df)), list(earlier)), DUPLICATE, lambda i: f"{rel[i]} already listed on {earlier[i]}")

    keep = np.flatnonzero(ok)
    base = str(images)
    xs, ys, ws, hs, codes = (a[keep].tolist() for a in (x, y, w, h, code))
    paths, valence, arousal, raw_code = (
        a[keep].tolist() for a in (rel, *(col[c].to_numpy(object) for c in ("valence", "arousal", "expression")))
    )
    marks = [points[i] for i in keep.tolist()] if points is not None else [None] * len(keep)
    return [
        FaceRecord(
            path=Path(os.path.join(base, paths[k])),
            dataset=dataset,
            expression=AFFECTNET_CODES[codes[k]],
            split=split,
            bbox=(xs[k], ys[k], ws[k], hs[k]),
            landmarks=marks[k],
            extra={"emotion_code": raw_code[k], "valence": valence[k], "arousal": arousal[k]},
        )
        for k in range(len(keep))
    ]


def _landmark_problem(cell: str) -> str:
    parts = cell.split(";")
    if len(parts) != 2 * N_LANDMARKS:
        return f"facial_landmarks has {len(parts)} values, expected {2 * N_LANDMARKS}"
    bad = next((p for p in parts if not _is_finite(p)), "?")
    return f"facial_landmarks value {bad.strip()!r} is not a finite number"


def _is_finite(text: str) -> bool:
    try:
        return bool(np.isfinite(float(text)))
    except ValueError:
        return False


def _landmarks(text, rows: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Parse the ``facial_landmarks`` of ``rows``: (which parsed, row index -> (68, 2) float32 array)."""
    parsed = np.zeros(len(rows), bool)
    points: dict[int, np.ndarray] = {}
    wanted = np.flatnonzero(rows)
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        values = _parse_chunk(text.iloc[chunk].tolist())
        finite = np.isfinite(values).all(axis=1)
        parsed[chunk[finite]] = True
        block = values[finite].astype(np.float32).reshape(-1, N_LANDMARKS, 2)  # one buffer, per-row views
        points.update(zip(chunk[finite].tolist(), block))
    return parsed, points


_CHUNK = 20_000


def _parse_chunk(cells: list[str]) -> np.ndarray:
    """``(len(cells), 136)`` floats, a row of NaN where a cell is not 136 numbers.

    Vectorised: each cell's ``;`` count is read off the joined bytes, then ``np.fromstring`` parses
    all well-shaped cells at once; only if that fails (a bad token) are they parsed one by one.
    """
    n = 2 * N_LANDMARKS
    values = np.full((len(cells), n), np.nan)
    joined = "\n".join(cells)
    raw = np.frombuffer(joined.encode("utf-8", "replace"), np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    if len(ends) == len(cells) - 1:  # no newline inside a cell, so the byte counts are per cell
        bounds = np.concatenate([[-1], ends, [len(raw)]])
        semis = np.searchsorted(np.flatnonzero(raw == ord(";")), bounds)
        shaped = np.diff(semis) == n - 1
    else:
        shaped = np.array([c.count(";") == n - 1 for c in cells], bool)
    good = [c for c, ok in zip(cells, shaped) if ok]
    if not good:
        return values
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns (not raises) on a token it cannot read
        try:
            flat = np.fromstring(";".join(good), dtype=float, sep=";")
        except (ValueError, DeprecationWarning):
            flat = None
    if flat is not None and flat.size == n * len(good):
        values[shaped] = flat.reshape(-1, n)
        return values
    for k in np.flatnonzero(shaped).tolist():  # a bad token somewhere: find it row by row
        try:
            values[k] = [float(v) for v in cells[k].split(";")]
        except ValueError:
            pass
    return values
