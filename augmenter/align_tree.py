"""Align every image of a folder tree into a mirror tree: the library behind ``augment align SRC DST``.

What :func:`align_tree` writes under ``dst``:

* one aligned crop per source image with a face, at the same relative path as the source.
  The suffix is kept for formats that hold an RGB crop well (``.jpg .jpeg .png .ppm .bmp
  .webp .tif .tiff``, any case; JPEG/WebP at quality 95). Sources in other formats
  (``.pgm``, grey-only, and ``.pnm``) are written as ``.png``: ``a/b.pgm`` -> ``a/b.png``,
  or ``a/b.pgm.png`` if another source already maps to ``a/b.png``. The crop is always
  ``(S, S, 3)`` RGB, even from a grey source.
* ``landmarks.csv``: one row per decoded source image (with or without a face), sorted by
  ``path``, columns :data:`CSV_COLUMNS`:

  ``path``       source path relative to ``src``, ``/``-separated;
  ``found``      ``True``/``False``;
  ``score``      detection probability (6 decimals; when not found, the best score below
                 ``min_score``, 0 when nothing was detected);
  ``n_faces``    detections with score >= ``min_score``;
  ``x1 y1 x2 y2`` the selected face's box, source pixels (3 decimals; empty when not found);
  ``lx0 ly0 .. lx4 ly4`` its 5 landmarks in source pixels, in template order: 0 left eye,
                 1 right eye (as seen in the image), 2 nose, 3 left mouth corner,
                 4 right mouth corner (empty when not found);
  ``out_path``   the crop, relative to ``dst`` (empty when not found).

  Files that cannot be decoded get no row: they are counted in the summary's
  :class:`~augmenter.skips.SkipReport` and are tried again on a rerun. So are the entries of
  ``src`` that are not regular files or folders (broken symlinks, symlink loops, FIFOs...) and
  the folders that cannot be listed (see :func:`augmenter.datasets._tree.walk_files`).
* ``align.json``: the settings that shape the output (size, template, min_score, select,
  detector settings). A rerun with different settings into the same ``dst`` is refused
  unless ``overwrite=True``.

Resuming: rows are appended (flushed and fsync-ed) after each batch, after that batch's crops
are in place. A rerun reads ``landmarks.csv`` and skips every source already recorded (and
whose crop, if any, still exists), so an interrupted job (Ctrl-C, kill) continues where it
stopped; a rerun of a finished job aligns nothing and leaves every file byte-identical. A
truncated last row (a kill during a write) is dropped and redone. Rows of sources that
have since disappeared from ``src`` are kept. ``overwrite=True`` starts over (crops are
rewritten in place; files from older runs at other paths are not deleted).

Example:
    >>> from augmenter.align_tree import AlignConfig, align_tree
    >>> summary = align_tree(Path("yale"), Path("yale_aligned"), AlignConfig(image_size=128))  # doctest: +SKIP
    >>> summary.aligned, summary.no_face, summary.skipped                                   # doctest: +SKIP
    (2410, 4, 0)
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np

from augmenter.align import _SELECT, AlignResult, FaceAligner
from augmenter.atomic import read_json_object, write_text_atomic
from augmenter.datasets._tree import skip_counts, walk_files
from augmenter.skips import SkipReport
from augmenter.errors import DatasetFormatError
from augmenter.io import IMAGE_EXTENSIONS, iter_images, write_image_atomic

__all__ = ["AlignConfig", "AlignSummary", "align_tree", "CSV_COLUMNS", "CSV_NAME", "SETTINGS_NAME"]

CSV_NAME = "landmarks.csv"
SETTINGS_NAME = "align.json"
#: Column order of ``landmarks.csv``.
CSV_COLUMNS: tuple[str, ...] = (
    ("path", "found", "score", "n_faces", "x1", "y1", "x2", "y2")
    + tuple(f"l{axis}{i}" for i in range(5) for axis in "xy")
    + ("out_path",)
)
#: Source suffixes whose crops keep the suffix; every other image suffix is written as .png.
KEEP_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".webp", ".tif", ".tiff"})
_JPEG_QUALITY = 95


@dataclass
class AlignConfig:
    """Settings of :func:`align_tree`.

    Attributes:
        image_size {int} -- Side of the square crops; the ArcFace template is scaled by
            ``image_size / 112``. (default: {128})
        device {str} -- Where MTCNN runs: "cpu", "cuda", "cuda:1"... (default: {"cpu"})
        min_score {float} -- Detections below it are not faces. (default: {0.9})
        batch_size {int} -- Images decoded, detected and recorded together; also the unit
            of resumption. (default: {16})
        select {str} -- "largest" or "best" (highest probability) face. (default: {"largest"})
        overwrite {bool} -- Ignore earlier results in ``dst`` and start over. (default: {False})
        min_face_size {int} -- MTCNN's smallest face, pixels. (default: {20})
        detect_pad {float} -- Black border (fraction of the longer side) added around each
            image for detection; see :class:`~augmenter.align.FaceAligner`. (default: {0.25})
        retry {bool} -- Detect the images missed on the original again on brightness-normalised
            copies (harsh light; see :class:`~augmenter.align.FaceAligner`). (default: {True})
    """

    image_size: int = 128
    device: str = "cpu"
    min_score: float = 0.9
    batch_size: int = 16
    select: str = "largest"
    overwrite: bool = False
    min_face_size: int = 20
    detect_pad: float = 0.25
    retry: bool = True

    def __post_init__(self) -> None:
        if self.select not in _SELECT:  # the message FaceAligner gives (augment align --select is a click.Choice)
            raise ValueError(f"select must be one of {_SELECT}, got {self.select!r}")


@dataclass
class AlignSummary:
    """What :func:`align_tree` did. ``seen == aligned + no_face + skipped + resumed``.

    Attributes:
        seen {int} -- Image files found under ``src``, plus the entries and folders there that
            could not be read.
        aligned {int} -- Aligned in this run (a face was found and its crop written).
        recovered {int} -- Of ``aligned``, found only on a brightness-normalised retry.
        no_face {int} -- Decoded in this run, but no face with score >= min_score.
        skipped {int} -- Could not be read or decoded (details in ``skips``).
        resumed {int} -- Already recorded by an earlier run, not redone.
        skips {SkipReport} -- Reasons and examples of the skipped files.
        wall_s {float} -- Wall time of the call, seconds.
        images_per_s {float} -- ``(aligned + no_face) / wall_s`` (0.0 when nothing was done).
        csv_path {Path} -- ``dst / "landmarks.csv"``.
    """

    seen: int = 0
    aligned: int = 0
    recovered: int = 0
    no_face: int = 0
    skipped: int = 0
    resumed: int = 0
    skips: SkipReport = field(default_factory=SkipReport)
    wall_s: float = 0.0
    images_per_s: float = 0.0
    csv_path: Path | None = None

    def describe(self) -> str:
        """A few human-readable lines: counts, speed, where the CSV is, what was skipped."""
        lines = [
            f"{self.seen} image(s): {self.aligned} aligned, {self.no_face} without a face, "
            f"{self.skipped} skipped, {self.resumed} already done by an earlier run"
            + (f"; {self.recovered} of the aligned found only on a brightness-normalised retry (harsh light)"
               if self.recovered else ""),
            f"{self.wall_s:.1f} s, {self.images_per_s:.1f} images/s; landmarks and scores in {self.csv_path}",
        ]
        if self.skips.total:
            lines.append(self.skips.summary())
        return "\n".join(lines)


def align_tree(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    config: AlignConfig | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    aligner: FaceAligner | None = None,
) -> AlignSummary:
    """Detect, align and write the face of every image under ``src`` to the mirror path under ``dst``.

    Arguments:
        src {Path} -- Folder walked recursively (sorted, deterministic; hidden entries ignored,
            symlinked folders followed) for files whose lower-case suffix is in
            :data:`augmenter.io.IMAGE_EXTENSIONS`. If ``dst`` lies inside ``src`` it is not walked.
        dst {Path} -- Output folder (created); see the module docstring for its content.
        config {AlignConfig} -- Settings; default ``AlignConfig()``.

    Keyword Arguments:
        progress {callable} -- ``progress(n_done, n_total)``: called once before any work
            (``n_done`` = sources already recorded) and after each batch; ``n_total`` counts
            every image file found. An exception it raises (e.g. KeyboardInterrupt) stops
            the job with all finished batches kept.
        aligner {FaceAligner} -- Reuse a loaded aligner; its settings must match ``config``.

    Returns:
        AlignSummary -- counts, skip report, timing and the CSV path.

    Raises:
        DatasetFormatError: ``src`` does not exist / is not a folder / holds no images;
            ``dst`` equals or contains ``src``; ``dst`` holds results made with other
            settings, or a ``landmarks.csv`` with another header (use ``overwrite=True``).

    Example:
        >>> s = align_tree("lfw", "lfw_aligned", AlignConfig(batch_size=8))   # doctest: +SKIP
        >>> print(f"{s.aligned} aligned, {s.no_face} without face, {s.images_per_s:.1f} img/s")  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    config = config or AlignConfig()
    src, dst = Path(src), Path(dst)
    skips = SkipReport()
    rels = _source_images(src, dst, skips)
    out_map = _output_paths(rels)

    if aligner is None:
        aligner = _make_aligner(config)
    settings = _settings(aligner)
    _check_aligner(aligner, config)

    dst.mkdir(parents=True, exist_ok=True)
    csv_path = dst / CSV_NAME
    summary = AlignSummary(seen=len(rels) + skips.total, skips=skips, csv_path=csv_path)
    _claim_destination(dst, settings, config.overwrite)

    done = {r["path"] for r in _read_rows(csv_path, dst).values()} if csv_path.exists() else set()
    pending = [r for r in rels if r not in done]
    summary.resumed = len(rels) - len(pending)
    if progress is not None:
        progress(summary.resumed, len(rels))
    _align_pending(src, dst, pending, out_map, aligner, config, summary, progress, len(rels))

    _sort_csv(csv_path)
    summary.skipped = summary.skips.total
    summary.wall_s = time.perf_counter() - t0
    processed = summary.aligned + summary.no_face
    summary.images_per_s = processed / summary.wall_s if processed and summary.wall_s > 0 else 0.0
    return summary


# ----------------------------------------------------------------------------- helpers


def _source_images(src: Path, dst: Path, skips: SkipReport) -> list[str]:
    """The sorted relative paths of the images to align, after checking that ``src`` is a folder
    and that ``dst`` is neither it nor above it; raises when there is no image."""
    if not src.exists():
        raise DatasetFormatError(src, "does not exist")
    if not src.is_dir():
        raise DatasetFormatError(src, "is not a folder")
    src_r, dst_r = src.resolve(), dst.resolve()
    if dst_r == src_r or dst_r in src_r.parents:
        raise DatasetFormatError(dst, f"must not be {src} or a folder above it (crops would land among the sources)")
    rels = _list_images(src, dst_r, skips)
    if not rels:
        detail = f" ({skip_counts(skips)})" if skips.total else ""
        raise DatasetFormatError(src, f"no images found{detail}")
    return rels


def _make_aligner(config: AlignConfig) -> FaceAligner:
    """A :class:`FaceAligner` with the settings of ``config``."""
    return FaceAligner(
        image_size=config.image_size,
        device=config.device,
        min_face_size=config.min_face_size,
        select=config.select,
        min_score=config.min_score,
        batch_size=config.batch_size,
        detect_pad=config.detect_pad,
        **({} if config.retry else {"retry": ()}),
    )


def _claim_destination(dst: Path, settings: dict, overwrite: bool) -> None:
    """Refuse a ``dst`` holding results made with other settings (or forget them when ``overwrite``),
    then record ``settings`` in ``align.json``."""
    settings_path = dst / SETTINGS_NAME
    if overwrite:
        (dst / CSV_NAME).unlink(missing_ok=True)
    elif settings_path.exists():
        old = _read_settings(settings_path)
        if old != settings:
            changed = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
            raise DatasetFormatError(
                settings_path,
                f"earlier results were made with other settings ({', '.join(changed)}); "
                "use overwrite to start over, or another destination",
            )
    _write_text_atomic(settings_path, json.dumps(settings, indent=2, sort_keys=True) + "\n")


def _align_pending(src: Path, dst: Path, pending: list[str], out_map: dict[str, str], aligner: FaceAligner,
                   config: AlignConfig, summary: AlignSummary, progress: Callable[[int, int], None] | None,
                   n_total: int) -> None:
    """Align ``pending`` batch by batch, appending each batch's rows to ``landmarks.csv`` (header first
    when the file is new) once its crops are written; counts go to ``summary``."""
    csv_path = dst / CSV_NAME
    new_file = not csv_path.exists()
    n_done = summary.resumed
    with open(csv_path, "a", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        if new_file:
            writer.writerow(CSV_COLUMNS)
            _sync(f)
        bs = max(1, int(config.batch_size))
        for start in range(0, len(pending), bs):
            chunk = pending[start : start + bs]
            writer.writerows(_align_batch(src, dst, chunk, out_map, aligner, config.overwrite, summary))
            _sync(f)
            n_done += len(chunk)
            if progress is not None:
                progress(n_done, n_total)


def _align_batch(src: Path, dst: Path, chunk: list[str], out_map: dict[str, str], aligner: FaceAligner,
                 overwrite: bool, summary: AlignSummary) -> list[list[str]]:
    """Decode, align and write the crops of ``chunk`` (relative paths); returns their CSV rows
    (undecodable files get none: they are counted in ``summary.skips``)."""
    decoded = list(iter_images((src / rel for rel in chunk), skips=summary.skips))
    results = aligner.align([img for _, img in decoded]) if decoded else []
    rows = []
    for (path, _), res in zip(decoded, results):
        rel = path.relative_to(src).as_posix()
        out_rel = out_map[rel]
        if res.found:
            write_image_atomic(dst / out_rel, res.crop, quality=_JPEG_QUALITY)
            summary.aligned += 1
            summary.recovered += res.detected_on != "original"
        else:
            if overwrite:  # a crop left by an older run would contradict the CSV
                (dst / out_rel).unlink(missing_ok=True)
            summary.no_face += 1
        rows.append(_format_row(rel, res, out_rel if res.found else ""))
    return rows


def _list_images(src: Path, exclude: Path, skips: SkipReport) -> list[str]:
    """Relative posix paths of the image files under ``src``, sorted; ``exclude`` is not walked; what
    cannot be read is counted in ``skips``."""
    rels = [p.relative_to(src).as_posix() for p in walk_files(src, skips, exclude=exclude)
            if p.suffix.lower() in IMAGE_EXTENSIONS]
    rels.sort()
    return rels


def _output_paths(rels: list[str]) -> dict[str, str]:
    """Source relative path -> crop relative path (suffix rule of the module docstring)."""
    kept = {r for r in rels if PurePosixPath(r).suffix.lower() in KEEP_SUFFIXES}
    out: dict[str, str] = {r: r for r in kept}
    changed = [r for r in rels if r not in kept]
    candidates = {r: str(PurePosixPath(r).with_suffix(".png")) for r in changed}
    taken: dict[str, int] = {}
    for c in list(kept) + list(candidates.values()):
        taken[c] = taken.get(c, 0) + 1
    for r in changed:
        c = candidates[r]
        out[r] = c if taken[c] == 1 else r + ".png"
    return out


def _settings(aligner: FaceAligner) -> dict:
    return {
        "image_size": aligner.image_size,
        "template": [[round(float(v), 6) for v in p] for p in aligner.template],
        "min_score": aligner.min_score,
        "select": aligner.select,
        "min_face_size": aligner.min_face_size,
        "thresholds": list(aligner.thresholds),
        "detect_max_side": aligner.detect_max_side,
        "detect_pad": aligner.detect_pad,
        "retry": list(aligner.retry),
        "csv_columns": list(CSV_COLUMNS),
    }


def _check_aligner(aligner: FaceAligner, config: AlignConfig) -> None:
    mine = (config.image_size, float(config.min_score), config.select, config.min_face_size, float(config.detect_pad or 0),
            bool(config.retry))
    theirs = (aligner.image_size, aligner.min_score, aligner.select, aligner.min_face_size, aligner.detect_pad,
              bool(aligner.retry))
    if mine != theirs:
        raise ValueError(
            f"aligner settings (image_size, min_score, select, min_face_size, detect_pad, retry) = {theirs} "
            f"differ from config {mine}"
        )


def _read_settings(path: Path) -> dict:
    try:
        return read_json_object(path)
    except (OSError, ValueError) as exc:
        raise DatasetFormatError(path, f"unreadable settings file ({exc}); use overwrite to start over") from None


def _fmt(v: float, nd: int) -> str:
    s = f"{float(v):.{nd}f}"
    return "0" + s[2:] if s.startswith("-0") and float(s) == 0 else s  # no "-0.000"


def _format_row(rel: str, res: AlignResult, out_rel: str) -> list[str]:
    if res.found:
        box = [_fmt(v, 3) for v in res.box]
        lms = [_fmt(v, 3) for v in np.asarray(res.landmarks).reshape(-1)]
    else:
        box, lms = [""] * 4, [""] * 10
    return [rel, str(bool(res.found)), _fmt(res.score, 6), str(int(res.n_faces))] + box + lms + [out_rel]


def _valid_row(row: list[str]) -> bool:
    if len(row) != len(CSV_COLUMNS) or not row[0] or row[1] not in ("True", "False"):
        return False
    try:
        float(row[2])
        int(row[3])
        if row[1] == "True":
            [float(v) for v in row[4:-1]]
            return bool(row[-1])
    except ValueError:
        return False
    return True


def _read_rows(csv_path: Path, dst: Path) -> dict[str, dict[str, str]]:
    """Rows of an earlier run, by source path; cleans the file if some rows are unusable.

    Dropped (and so redone): a row cut short by a kill, a row whose crop file is gone.
    """
    raw = csv_path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    lines = list(csv.reader(io.StringIO(text, newline="")))
    if not lines:  # killed before the header was written
        csv_path.unlink()
        return {}
    if tuple(lines[0]) != CSV_COLUMNS:
        raise DatasetFormatError(
            csv_path, "not a landmarks file of this version (unexpected header); use overwrite to start over"
        )
    rows: dict[str, dict[str, str]] = {}
    clean = text.endswith("\n")
    for row in lines[1:]:
        if not _valid_row(row) or (row[1] == "True" and not (dst / row[-1]).is_file()):
            clean = False
            continue
        if row[0] in rows:
            clean = False
        rows[row[0]] = dict(zip(CSV_COLUMNS, row))
    if not clean:
        _write_csv_atomic(csv_path, rows.values())
    return rows


def _sort_csv(csv_path: Path) -> None:
    """Rewrite the CSV sorted by path, only if it is not already (keeps a finished job's file untouched)."""
    with open(csv_path, newline="", encoding="utf-8") as f:
        lines = list(csv.reader(f))
    body = lines[1:]
    paths = [r[0] for r in body]
    if paths == sorted(paths) and len(set(paths)) == len(paths):
        return
    by_path = {r[0]: dict(zip(CSV_COLUMNS, r)) for r in body}
    _write_csv_atomic(csv_path, by_path.values())


def _write_csv_atomic(csv_path: Path, rows) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in sorted(rows, key=lambda r: r["path"]):
        w.writerow([r[c] for c in CSV_COLUMNS])
    _write_text_atomic(csv_path, buf.getvalue())


def _write_text_atomic(path: Path, text: str) -> None:
    if path.exists() and path.read_text(encoding="utf-8", errors="replace") == text:
        return  # unchanged: leave the file (and its mtime) alone
    write_text_atomic(path, text, fsync=True)


def _sync(f) -> None:
    f.flush()
    os.fsync(f.fileno())
