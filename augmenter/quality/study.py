"""Human judgements of real and GAN faces, read from a perception study's own files.

The study of Lago et al., "More Real Than Real: A Study on Human Visual Perception of Synthetic Faces"
(IEEE Signal Processing Magazine 2022) publishes its answers as two ``;``-separated files in one folder:

* ``img.csv``: ``img_id;ds;path;synthetic``, one row per image (``ds`` the image's source: FFHQ,
  PGGAN, StyleGAN, StyleGAN2; ``path`` relative to the folder, e.g. ``images/FFHQ_000.jpg``);
* ``ans.csv``: ``subj_id;img_id;likert;resp_time;order``, one row per judgement. ``likert`` is a
  7-point slider, 1 = surely real ... 7 = surely synthetic; ``-1`` means the slider was left in the
  middle, which the study counts as a missing answer.

:func:`read_study_answers` gives one row per usable judgement, with the slider turned into Q's 1-10
naturalness rating (:func:`likert_to_rating`); :func:`study_ratings_table` summarises them per image
into the ratings table of :mod:`augmenter.quality.ratings` (mean, std and count of the ratings), which
:func:`~augmenter.quality.ratings.read_ratings` returns for such a folder, so ``augment train-q`` and
``augment eval-q`` take the folder as it is. :func:`split_half_ceiling` measures how well people agree
with each other: no model can be expected to agree with them better.

Every answer row is kept or counted once in a :class:`~augmenter.skips.SkipReport` (reason and
``"ans.csv line N: ..."`` examples): ``"bad likert"`` (not an integer, or outside -1, 1..7),
``"unknown image"`` (an ``img_id`` that ``img.csv`` lacks), ``"missing image"`` (its file does not
exist), ``"excluded participant"`` (see :data:`OUTLIER_PARTICIPANTS`), ``"missing answer"``
(``likert = -1``), ``"duplicate answer"`` (a participant judging an image again: the first is kept),
``"empty participant"``. Unusable ``img.csv`` rows are counted as ``"bad image row"`` and images left
without any answer as ``"image without answers"``.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from augmenter.datasets._csv import RowFilter, read_rows, shown
from augmenter.errors import DatasetFormatError
from augmenter.quality.metrics import _pearson, _spearman
from augmenter.skips import SkipReport

if TYPE_CHECKING:
    from augmenter.quality.ratings import RatingsListing

__all__ = [
    "EXCLUDED_FILE", "OUTLIER_PARTICIPANTS", "STUDY_FILES", "is_study_folder", "likert_to_rating",
    "read_study_answers", "split_half_ceiling", "study_ratings_table",
]

IMG_FILE, ANS_FILE = "img.csv", "ans.csv"
STUDY_FILES: tuple[str, ...] = (IMG_FILE, ANS_FILE)
EXCLUDED_FILE = "excluded_participants.txt"
"""An optional file in the study folder, one participant id a line (``#`` comments allowed): when it is
there, it replaces :data:`OUTLIER_PARTICIPANTS` as the list of participants left out."""

IMG_COLUMNS: tuple[str, ...] = ("img_id", "ds", "path", "synthetic")
ANS_COLUMNS: tuple[str, ...] = ("subj_id", "img_id", "likert", "resp_time", "order")
SEP = ";"

LIKERT_REAL, LIKERT_SYNTHETIC, LIKERT_MISSING = 1, 7, -1
RATING_STEP = 1.5
"""Rating points per slider step: the 6 steps of the slider span the 9 points of the 1-10 scale."""

# The 30 participants that the study's own analysis drops as outliers (Lago et al. 2022; listed in the
# README of the shared human_realism data, ../shared/data/README.md).
OUTLIER_PARTICIPANTS: tuple[str, ...] = (
    "s-024", "s-025", "s-029", "s-070", "s-086", "s-096", "s-144", "s-178", "s-188", "s-244",
    "s-322", "s-328", "s-331", "s-336", "s-337", "s-412", "s-414", "s-423", "s-438", "s-462",
    "s-465", "s-484", "s-509", "s-547", "s-549", "s-552", "s-562", "s-575", "s-605", "s-607",
)

ANSWER_COLUMNS: tuple[str, ...] = ("participant", "path", "source", "likert", "rating", "img_id", "synthetic")
"""The columns of :func:`read_study_answers`' table, in order."""

BAD_LIKERT, UNKNOWN_IMAGE, MISSING_IMAGE = "bad likert", "unknown image", "missing image"
EXCLUDED, MISSING_ANSWER, DUPLICATE_ANSWER, EMPTY_PARTICIPANT = (
    "excluded participant", "missing answer", "duplicate answer", "empty participant")
BAD_IMAGE_ROW, NO_ANSWERS = "bad image row", "image without answers"


def likert_to_rating(likert):
    """Q's 1-10 naturalness rating for a slider answer 1..7: ``1 + (7 - likert) * 1.5``.

    1 "surely real" -> 10, 7 "surely synthetic" -> 1, the middle 4 -> 5.5, linear in between:

    * naturalness runs opposite to the slider, which asks how *synthetic* a face looks;
    * the endpoints map to the endpoints, so the answers use the rating scale's full range;
    * linear, because the slider is drawn as a continuous visual-analogue scale with evenly spaced
      marks, not as named categories whose distances would be unknown;
    * the middle (unsure) lands at 5.5, just above the 5/10 line where a face "fools" a rater in the
      paper: a rater who could not tell real from synthetic was indeed fooled, if only just.

    Works on a number or a numpy array.
    """
    rating = 1.0 + (LIKERT_SYNTHETIC - np.asarray(likert, dtype=np.float64)) * RATING_STEP
    return float(rating) if rating.ndim == 0 else rating


def is_study_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding ``img.csv`` or ``ans.csv`` (a perception study, perhaps
    incomplete: :func:`read_study_answers` names a missing file)."""
    folder = Path(path)
    return folder.is_dir() and any((folder / name).is_file() for name in STUDY_FILES)


def read_study_answers(folder: str | os.PathLike, *, exclude_outliers: bool = True,
                       check_files: bool = True) -> pd.DataFrame:
    """Every usable judgement of a perception-study folder, one row each (see the module docstring).

    Columns :data:`ANSWER_COLUMNS`: ``participant`` (``subj_id``), ``path`` (absolute image path),
    ``source`` (``ds``), ``likert`` (int, 1..7), ``rating`` (float, :func:`likert_to_rating`),
    ``img_id`` and ``synthetic`` (as written in ``img.csv``); rows in ``ans.csv`` order.
    ``attrs["skips"]`` is the :class:`SkipReport` of the rows left out (each data row of ``ans.csv``
    is kept or counted once), ``attrs["excluded_participants"]`` the exclusion list that was applied
    (sorted; empty with ``exclude_outliers=False``) and ``attrs["folder"]`` the folder.

    Args:
        folder: the folder holding ``img.csv``, ``ans.csv`` and the images.
        exclude_outliers: drop the participants of :data:`OUTLIER_PARTICIPANTS`, or of
            ``excluded_participants.txt`` when the folder has one; ``False`` keeps everyone.
        check_files: count the answers about an image whose file does not exist as ``"missing image"``.

    Raises:
        DatasetFormatError: the folder, ``img.csv`` or ``ans.csv`` missing, a file without the
            study's header, or no usable answer at all (one line, naming the file).
    """
    folder = Path(os.path.abspath(os.path.expanduser(os.fspath(folder))))
    if not folder.is_dir():
        raise DatasetFormatError(folder, "perception study folder does not exist" if not folder.exists()
                                 else "not a folder (a perception study is a folder with img.csv and ans.csv)")
    skips = SkipReport()
    images = _read_images(folder / IMG_FILE, skips)
    df, rows = _read_table(folder / ANS_FILE, ANS_COLUMNS[:3], skips)
    reject = rows.reject

    participant = df["subj_id"].to_numpy(object)
    reject(participant == "", EMPTY_PARTICIPANT, lambda i: "subj_id is empty")

    raw_likert = df["likert"].to_numpy(object)
    likert = np.array([_integer(v) for v in raw_likert], dtype=np.float64)
    allowed = np.isin(likert, [LIKERT_MISSING, *range(LIKERT_REAL, LIKERT_SYNTHETIC + 1)])
    reject(~allowed, BAD_LIKERT, lambda i: f"likert={raw_likert[i]!r}")

    img_id = df["img_id"].to_numpy(object)
    known = np.array([i in images.index for i in img_id], bool)
    reject(~known, UNKNOWN_IMAGE, lambda i: f"img_id={img_id[i]!r} is not in {IMG_FILE}")
    info = images.reindex(img_id)  # NaN rows for unknown ids, which are rejected already
    if check_files:
        exists = info["exists"].eq(True).to_numpy(bool)
        rel = info["rel_path"].to_numpy(object)
        reject(~exists, MISSING_IMAGE, lambda i: f"no such file {rel[i]}")

    excluded, listed_in = _excluded_participants(folder) if exclude_outliers else (frozenset(), "")
    reject(np.isin(participant, list(excluded)), EXCLUDED, lambda i: f"{participant[i]} is listed in {listed_in}")
    reject(likert == LIKERT_MISSING, MISSING_ANSWER,
           lambda i: f"{participant[i]} left the slider in the middle (likert -1)")
    pairs = pd.Series([f"{p}\0{i}" for p, i in zip(participant, img_id)])
    repeated = pairs.where(rows.ok).duplicated() & pd.Series(rows.ok)
    reject(repeated.to_numpy(bool), DUPLICATE_ANSWER, lambda i: f"{participant[i]} judged {img_id[i]} before")

    keep = np.flatnonzero(rows.ok)
    if not len(keep):
        detail = f" ({skips.total} skipped: {', '.join(sorted(skips.counts))})" if skips.total else ""
        raise DatasetFormatError(folder / ANS_FILE, f"no usable answers{detail}")
    kept = info.iloc[keep]
    answers = pd.DataFrame({
        "participant": pd.Series(participant[keep], dtype=object),
        "path": pd.Series(kept["path"].to_numpy(object), dtype=object),
        "source": pd.Series(kept["source"].to_numpy(object), dtype=object),
        "likert": likert[keep].astype(np.int64),
        "rating": likert_to_rating(likert[keep]),
        "img_id": pd.Series(img_id[keep], dtype=object),
        "synthetic": pd.Series(kept["synthetic"].to_numpy(object), dtype=object),
    })
    answers.attrs.update(skips=skips, excluded_participants=sorted(excluded), folder=folder)
    return answers


def study_ratings_table(folder: str | os.PathLike, *, exclude_outliers: bool = True,
                        check_files: bool = True) -> RatingsListing:
    """The ratings table of a perception-study folder: one row per image with usable answers.

    Columns: ``path``, ``mean`` and ``std`` of the image's ratings (1-10, :func:`likert_to_rating`),
    ``source`` (``ds``), ``split`` (``"unknown"``: the study has no splits), then ``n_ratings`` (int),
    ``synthetic`` and ``img_id`` (as written in ``img.csv``); rows in ``img.csv`` order.

    ``std`` is the sample standard deviation (``ddof=1``): the raters are a sample of the people whose
    disagreement Q's margin loss should tolerate, and the unbiased variance estimates that spread; with
    about 60 ratings an image it differs from ``ddof=0`` by under 1%, but with the 3 ratings of the
    LEGAN data it would be 18% smaller. An image with a single rating gets ``std = 0``.

    Returns a :class:`~augmenter.quality.ratings.RatingsListing` whose ``file`` is ``ans.csv``, whose
    ``answers`` are :func:`read_study_answers`' table and whose skips are its skips plus
    ``"image without answers"``. Arguments and errors as :func:`read_study_answers`.
    """
    from augmenter.quality.ratings import RatingsListing, UNKNOWN

    answers = read_study_answers(folder, exclude_outliers=exclude_outliers, check_files=check_files)
    skips: SkipReport = answers.attrs["skips"]
    folder = answers.attrs["folder"]
    images = _read_images(folder / IMG_FILE, SkipReport())  # counted once already
    per_image = answers.groupby("img_id", sort=False)["rating"].agg(["mean", "count", _sample_std])
    listed = images[images["exists"] | (not check_files)]
    without = listed.index[~listed.index.isin(per_image.index)]
    for img in without:
        skips.add(NO_ANSWERS, f"{IMG_FILE} line {images.at[img, 'line']}: {img} has no usable answer")
    order = listed.index[listed.index.isin(per_image.index)]
    per_image, info = per_image.loc[order], images.loc[order]
    table = pd.DataFrame({
        "path": pd.Series(info["path"].to_numpy(object), dtype=object),
        "mean": per_image["mean"].to_numpy(np.float64),
        "std": per_image["_sample_std"].to_numpy(np.float64),
        "source": pd.Series(info["source"].to_numpy(object), dtype=object),
        "split": pd.Series([UNKNOWN] * len(order), dtype=object),
        "n_ratings": per_image["count"].to_numpy(np.int64),
        "synthetic": pd.Series(info["synthetic"].to_numpy(object), dtype=object),
        "img_id": pd.Series(np.asarray(order, dtype=object), dtype=object),
    })
    return RatingsListing(table=table, skips=skips, file=folder / ANS_FILE, answers=answers)


def split_half_ceiling(answers: pd.DataFrame, n_splits: int = 200, seed: int = 0) -> dict:
    """How well two halves of the raters agree with each other: the ceiling for any model's agreement.

    For each of ``n_splits`` random splits, every image's raters are shuffled and cut into two halves
    (sizes ``n // 2`` and ``n - n // 2``); the two halves' mean ratings are correlated across images
    (Spearman and Pearson). Images with fewer than 2 ratings cannot be split and are left out.

    ``answers`` needs a ``path`` (the image) and a ``rating`` column, as :func:`read_study_answers`
    gives. Seeded: the same answers and seed give the same result (images are visited in path order).

    Returns a dict: ``spearman``, ``pearson`` (the means over splits), ``spearman_sd``, ``pearson_sd``
    (their spread over splits), ``spearman_corrected``, ``pearson_corrected`` (the Spearman-Brown
    prediction ``2r / (1 + r)`` of the mean: the reliability of the mean of *all* raters, which is what
    a model's predictions are compared with), ``n_images``, ``n_splits``, ``seed``. The correlations
    are NaN when fewer than 2 images can be split or a half's means are constant.

    With a ``source`` column and two or more sources, also how firmly people order the sources, on the same
    splits (a source's mean is the mean of its images' means, as :func:`~augmenter.quality.metrics.source_means`
    takes it): ``source_order``, the sources by all raters' mean, lowest first; ``source_order_agreement``,
    for each neighbouring pair ``"A < B"`` of that order the share of splits whose two halves both put B above
    A; ``source_order_all_agree``, the share whose two halves both give the whole order. A pair near 0.5 is
    one the people themselves do not order firmly (on the human-realism study FFHQ and StyleGAN: 0.70).
    """
    if n_splits < 1:
        raise ValueError(f"n_splits must be at least 1, not {n_splits}")
    rng = np.random.default_rng(seed)
    per_image = answers.groupby("path", sort=True)
    by_path = [(path, g.to_numpy(np.float64)) for path, g in per_image["rating"]]
    by_path = [(path, g) for path, g in by_path if g.size >= 2]
    groups = [g for _, g in by_path]
    half_a = np.empty((n_splits, len(groups)))
    half_b = np.empty((n_splits, len(groups)))
    for j, ratings in enumerate(groups):
        n = ratings.size
        order = np.argsort(rng.random((n_splits, n)), axis=1)  # one permutation of the raters per split
        first = order[:, : n // 2]
        total = ratings.sum()
        half_a[:, j] = ratings[first].sum(axis=1) / (n // 2)
        half_b[:, j] = (total - ratings[first].sum(axis=1)) / (n - n // 2)
    spearman = np.array([_spearman(a, b) for a, b in zip(half_a, half_b)])
    pearson = np.array([_pearson(a, b) for a, b in zip(half_a, half_b)])
    result = {}
    for name, values in (("spearman", spearman), ("pearson", pearson)):
        r = float(values.mean()) if len(groups) >= 2 and np.all(np.isfinite(values)) else math.nan
        result[name] = r
        result[f"{name}_sd"] = float(values.std()) if math.isfinite(r) else math.nan
        result[f"{name}_corrected"] = 2 * r / (1 + r) if math.isfinite(r) and r > -1 else math.nan
    result.update(n_images=len(groups), n_splits=int(n_splits), seed=int(seed))
    if "source" in answers.columns and by_path:
        source_of = per_image["source"].first()
        result.update(_source_order(np.array([str(source_of[path]) for path, _ in by_path]),
                                    np.array([g.mean() for g in groups]), half_a, half_b))
    return result


def _source_order(sources: np.ndarray, means: np.ndarray, half_a: np.ndarray, half_b: np.ndarray) -> dict:
    """The source-order part of :func:`split_half_ceiling`: ``sources`` and ``means`` per image, ``half_a`` and
    ``half_b`` the halves' image means, ``(n_splits, n_images)`` each; ``{}`` with fewer than two sources."""
    names = sorted(set(sources.tolist()))
    if len(names) < 2:
        return {}
    masks = [sources == name for name in names]
    overall = np.array([means[m].mean() for m in masks])
    order = [names[i] for i in np.argsort(overall, kind="stable")]
    per_half = [np.stack([h[:, m].mean(axis=1) for m in masks], axis=1) for h in (half_a, half_b)]  # (splits, sources)
    agree, every = {}, np.ones(half_a.shape[0], bool)
    for low, high in zip(order, order[1:]):
        i, j = names.index(low), names.index(high)
        both = (per_half[0][:, j] > per_half[0][:, i]) & (per_half[1][:, j] > per_half[1][:, i])
        agree[f"{low} < {high}"] = float(both.mean())
        every &= both
    return {"source_order": order, "source_order_agreement": agree, "source_order_all_agree": float(every.mean())}


# --------------------------------------------------------------------------------------------- #
# helpers


def _read_table(file: Path, needed: tuple[str, ...], skips: SkipReport) -> tuple[pd.DataFrame, RowFilter]:
    """``file`` as strings (cells stripped) with a :class:`RowFilter`; its header must name ``needed``."""
    if not file.is_file():
        raise DatasetFormatError(file, "file does not exist (a perception study folder needs "
                                       f"{' and '.join(STUDY_FILES)})" if not file.exists() else "not a file")
    df, lines = read_rows(file, skips, sep=SEP)
    missing = [c for c in needed if c not in df.columns]
    if missing:
        expected = SEP.join(IMG_COLUMNS if file.name == IMG_FILE else ANS_COLUMNS)
        raise DatasetFormatError(file, f"wrong header: expected {expected} (';'-separated); "
                                       f"got {shown(SEP.join(map(str, df.columns)))}")
    df = df.apply(lambda column: column.str.strip()) if len(df) else df
    return df, RowFilter(len(df), file.name, lines, skips)


def _read_images(file: Path, skips: SkipReport) -> pd.DataFrame:
    """``img.csv`` indexed by ``img_id``: ``path`` (absolute), ``rel_path``, ``source``, ``synthetic``,
    ``exists`` and ``line``; rows without an id or path, or repeating an id, counted as bad image rows."""
    df, rows = _read_table(file, IMG_COLUMNS[:3], skips)
    img_id, rel = df["img_id"].to_numpy(object), df["path"].to_numpy(object)
    rows.reject(img_id == "", BAD_IMAGE_ROW, lambda i: "img_id is empty")
    rows.reject(rel == "", BAD_IMAGE_ROW, lambda i: f"{img_id[i]} has an empty path")
    repeated = pd.Series(img_id).where(rows.ok).duplicated().to_numpy(bool) & rows.ok
    rows.reject(repeated, BAD_IMAGE_ROW, lambda i: f"{img_id[i]} listed before")
    keep = np.flatnonzero(rows.ok)
    paths = [os.path.abspath(os.path.join(file.parent, p)) for p in rel[keep]]
    synthetic = df["synthetic"].to_numpy(object)[keep] if "synthetic" in df.columns else [""] * len(keep)
    return pd.DataFrame({
        "path": np.array(paths, dtype=object),
        "rel_path": np.asarray(rel[keep], dtype=object),
        "source": np.array([s or "unknown" for s in df["ds"].to_numpy(object)[keep]], dtype=object),
        "synthetic": np.asarray(synthetic, dtype=object),
        "exists": np.array([os.path.isfile(p) for p in paths], bool),
        "line": rows.lines[keep],
    }, index=pd.Index(img_id[keep], dtype=object, name="img_id"))


def _excluded_participants(folder: Path) -> tuple[frozenset[str], str]:
    """The participants to leave out, and where that list comes from (for the skip examples)."""
    listed = folder / EXCLUDED_FILE
    if not listed.is_file():
        return frozenset(OUTLIER_PARTICIPANTS), "the study's published outliers"
    lines = (line.split("#", 1)[0].strip() for line in listed.read_text(encoding="utf-8-sig").splitlines())
    return frozenset(line for line in lines if line), EXCLUDED_FILE


def _integer(text: str) -> float:
    """The integer that ``text`` holds (``"3"``, ``"3.0"``), as a float; NaN for anything else."""
    try:
        value = float(text)
    except ValueError:
        return math.nan
    return value if math.isfinite(value) and value == int(value) else math.nan


def _sample_std(ratings: pd.Series) -> float:
    return float(ratings.std(ddof=1)) if len(ratings) > 1 else 0.0
