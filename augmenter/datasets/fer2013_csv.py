"""Extracting the original ``fer2013.csv`` into FER-2013's folder layout, once.

CSV format (header names exactly these three, in any order; the original order is shown)::

    emotion,pixels,Usage
    0,70 80 82 72 58 ... (2304 grey values of a 48x48 face, row by row),Training

``emotion`` codes index :data:`augmenter.attributes.FER_CSV_CODES` (0 anger, 1 disgust, 2 fear,
3 happy, 4 sad, 5 surprise, 6 neutral); ``Usage`` is ``Training`` / ``PublicTest`` /
``PrivateTest`` -> split ``train`` / ``val`` / ``test``.

Row on CSV line ``n`` is written as ``out_root/<split folder>/<emotion folder>/<Usage>_<n>.png``
(lossless grey PNG; folders as :mod:`augmenter.datasets.fer2013` reads them, e.g.
``validation/angry/PublicTest_28711.png``). A file already there is reused without decoding its
row again, so a second run only re-reads the CSV (this assumes the same CSV). Rows with a bad
code, usage or pixel string (not 2304 values of 0-255) are counted as skips.

Example:
    >>> listing = extract_fer2013_csv("/data/fer2013/fer2013.csv", "/data/fer2013_images")  # doctest: +SKIP
    >>> listing.records[0].path.name                                                   # doctest: +SKIP
    'Training_00002.png'
"""
from __future__ import annotations

import os

import numpy as np

from augmenter.attributes import FER_CSV_CODES, FER_NAMES
from augmenter.datasets._csv import RowFilter, check_header, read_rows
from augmenter.datasets._tree import absolute, finish
from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.record import FaceRecord
from augmenter.skips import SkipReport
from augmenter.errors import DatasetFormatError
from augmenter.io import write_image_atomic

COLUMNS: tuple[str, ...] = ("emotion", "pixels", "Usage")
USAGE_SPLITS: dict[str, str] = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SIDE = 48
_SPLIT_FOLDER = {"train": "train", "val": "validation", "test": "test"}
_EMOTION_FOLDER = {expression: folder for folder, expression in FER_NAMES.items()}  # "anger" -> "angry"
_PIXELS = rf"\s*\d{{1,3}}(?:\s+\d{{1,3}}){{{SIDE * SIDE - 1}}}\s*"
BAD_PIXELS = "bad pixels"


def extract_fer2013_csv(
    csv_path: str | os.PathLike,
    out_root: str | os.PathLike,
    *,
    dataset: str = "fer2013",
) -> DatasetListing:
    """Write the CSV's faces under ``out_root`` (reusing existing files) and list them.

    The listing's ``root`` is ``out_root``; records carry ``extra["emotion_code"]`` and
    ``extra["usage"]`` as written in the CSV.

    Raises:
        DatasetFormatError: missing CSV, wrong header, ``out_root`` is a file, or no usable row.
    """
    csv_path, out_root = absolute(csv_path), absolute(out_root)
    check_header(csv_path, COLUMNS, any_order=True)
    if out_root.exists() and not out_root.is_dir():
        raise DatasetFormatError(out_root, "FER-2013 output folder is a file")
    skips = SkipReport()
    df, lines = read_rows(csv_path, skips)
    code_text, usage, pixels = (df[c].str.strip() for c in ("emotion", "Usage", "pixels"))
    rows = RowFilter(len(df), csv_path.name, lines, skips)
    reject, ok = rows.reject, rows.ok  # rows.ok is updated in place by reject

    known = code_text.isin([str(i) for i in range(len(FER_CSV_CODES))]).to_numpy(bool)
    reject(~known, "unknown emotion code", lambda i: f"emotion={code_text.iat[i]!r}")
    reject(~usage.isin(list(USAGE_SPLITS)).to_numpy(bool), "unknown usage", lambda i: f"Usage={usage.iat[i]!r}")
    shaped = pixels.str.fullmatch(_PIXELS).fillna(False).to_numpy(bool)
    reject(~shaped, BAD_PIXELS, lambda i: f"{len(pixels.iat[i].split())} values, expected {SIDE * SIDE} numbers 0-255")

    records: list[FaceRecord] = []
    for i in np.flatnonzero(ok).tolist():
        expression = FER_CSV_CODES[int(code_text.iat[i])]
        split = USAGE_SPLITS[usage.iat[i]]
        target = out_root / _SPLIT_FOLDER[split] / _EMOTION_FOLDER[expression] / f"{usage.iat[i]}_{lines[i]:05d}.png"
        if not target.is_file():
            face = np.array(pixels.iat[i].split(), dtype=np.int64)
            if face.max() > 255:
                skips.add(BAD_PIXELS, f"{csv_path.name} line {lines[i]}: value {face.max()} > 255")
                continue
            write_image_atomic(target, face.astype(np.uint8).reshape(SIDE, SIDE))
        records.append(FaceRecord(path=target, dataset=dataset, expression=expression, split=split,
                                  extra={"emotion_code": code_text.iat[i], "usage": usage.iat[i]}))
    return finish(records, skips, dataset, out_root)
