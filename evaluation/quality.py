"""How useful Q is to a face verifier: the error-versus-discard curve (EDC), and Q against human ratings.

EDC (:func:`error_versus_discard`), following ISO/IEC 29794-1 and Schlett et al. (2023):

1. Pair quality: ``min(q_first, q_second)`` (a comparison is as good as its worse image).
2. Threshold, fixed once on all pairs: with ``n_I`` impostor scores and ``k = floor(fmr * n_I)`` false
   accepts allowed, ``v`` is the ``(k+1)``-th highest impostor score and ``t = nextafter(v, +inf)``,
   the smallest float64 with ``#{impostor >= t} <= k``. A pair is accepted when ``score >= t``
   (equivalently ``score > v``). Ties are honoured: when impostors tie at ``v`` the achieved FMR
   (``fmr_achieved``) is below ``fmr``. With ``k >= n_I`` every pair is accepted (``t = -inf``).
3. Discard: the genuine pairs are ranked by quality; at each distinct quality level ``u`` the pairs with
   quality ``< u`` are discarded (ties go together, so there is one point per distinct level, the first
   at ``discard 0``). ``discard_fraction`` is the share of *genuine* pairs discarded (impostor pairs do
   not enter FNMR, and counting them would tie the x-axis to the impostor/genuine ratio);
   ``fnmr`` is the share of the remaining genuine pairs with ``score < t``. A level that would discard
   every genuine pair has no FNMR and is not a point.
4. Partial area: the curve is a step function, since no discard between two points is reachable without
   splitting a tie: FNMR at discard ``x`` is that of the last point with ``discard_fraction <= x``.
   ``pauc`` is its exact integral (sum of rectangles) from 0 to ``discard_limit`` (the last point's FNMR
   extends to the limit when the curve ends before it). Divide by ``discard_limit`` for a mean FNMR.

Lower is better for both FNMR and pAUC; a useful Q makes the curve fall as low-quality pairs go.

:func:`q_vs_human` is the entry point for Q against the raters (SROCC, PLCC raw and logistic-fitted,
KROCC, RMSE), from :func:`augmenter.quality.metrics.quality_metrics`.

Example:
    >>> edc = error_versus_discard([0.9, 0.2, 0.1, 0.8], [True, True, False, False],
    ...                            [0.5, 0.9, 0.3, 0.3], [0.6, 0.1, 0.9, 0.9], fmr=0.4)
    >>> edc.threshold > 0.8, edc.discard_fraction.tolist(), edc.fnmr.tolist()
    (True, [0.0, 0.5], [0.5, 0.0])
"""
from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augmenter.errors import DatasetFormatError
from augmenter.quality.metrics import quality_metrics
from evaluation.outputs import fmt, write_result
from evaluation.plots import plot_curve

PAIR_COLUMNS = ("first", "second", "score", "same")
Q_PATH_COLUMNS = ("path", "out_path")  # ``augment score`` CSVs; expansion manifests
SAME_VALUES = {"1": True, "0": False, "true": True, "false": False, "yes": True, "no": False}

REPORTED_DISCARDS = (0.0, 0.05, 0.1, 0.2, 0.3)
"""Discard fractions at which the (step) FNMR is reported in ``fnmr_at_discard``."""


@dataclass
class EDC:
    """An error-versus-discard curve (see the module docstring for every rule).

    Attributes:
        discard_fraction: ``(P,)`` increasing, in [0, 1), first 0: share of genuine pairs discarded.
        fnmr: ``(P,)`` in [0, 1]: FNMR of the genuine pairs kept, at the fixed threshold.
        quality_threshold: ``(P,)`` increasing: point ``i`` keeps the pairs with quality ``>=`` it.
        pauc: area under the step curve from discard 0 to ``discard_limit``.
        threshold: the score threshold (accept when ``score >= threshold``).
        impostor_score_at_threshold: ``v``, the highest impostor score that is rejected (None if all accepted).
        fnmr_at_discard: FNMR of the step curve at each of :data:`REPORTED_DISCARDS` (full curve).
    """

    discard_fraction: np.ndarray
    fnmr: np.ndarray
    quality_threshold: np.ndarray
    pauc: float
    discard_limit: float
    threshold: float
    impostor_score_at_threshold: float | None
    fmr: float
    fmr_achieved: float
    n_genuine: int
    n_impostor: int
    fnmr_at_discard: dict[float, float]

    def to_dict(self) -> dict:
        """Plain figures and the curve, for ``edc.json``."""
        return {
            "kind": "edc",
            "fmr": self.fmr,
            "fmr_achieved": self.fmr_achieved,
            "threshold": self.threshold,
            "impostor_score_at_threshold": self.impostor_score_at_threshold,
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
            "fnmr_no_discard": float(self.fnmr[0]),
            "discard_limit": self.discard_limit,
            "pauc": self.pauc,
            "fnmr_at_discard": {f"{d:g}": v for d, v in self.fnmr_at_discard.items()},
            "curve": {"discard_fraction": self.discard_fraction.tolist(), "fnmr": self.fnmr.tolist(),
                      "quality_threshold": self.quality_threshold.tolist()},
        }


def threshold_at_fmr(impostor: np.ndarray, fmr: float) -> tuple[float, float | None]:
    """``(t, v)``: the smallest threshold ``t`` with ``#{impostor >= t} <= floor(fmr * n)``, and ``v``, the
    highest impostor score it rejects (``(-inf, None)`` when every impostor may be accepted).

    Example:
        >>> threshold_at_fmr(np.array([0.1, 0.6, 0.6, 0.2]), 0.25)   # k = 1, but 0.6 is tied: both rejected
        (0.6000000000000001, 0.6)
    """
    impostor = np.sort(np.asarray(impostor, dtype=np.float64))[::-1]
    allowed = math.floor(fmr * len(impostor) + 1e-9)
    if allowed >= len(impostor):
        return -math.inf, None
    v = float(impostor[allowed])
    return float(np.nextafter(v, math.inf)), v


def step_value(discard: np.ndarray, fnmr: np.ndarray, x: float) -> float:
    """The step curve's FNMR at discard fraction ``x``: that of the last point with ``discard <= x``."""
    i = int(np.searchsorted(discard, x + 1e-12, side="right")) - 1
    return float(fnmr[max(i, 0)])


def _pauc(discard: np.ndarray, fnmr: np.ndarray, limit: float) -> float:
    """Exact area of the step curve (value ``fnmr[i]`` on ``[discard[i], discard[i+1])``) over ``[0, limit]``."""
    ends = np.append(discard[1:], math.inf)
    widths = np.clip(np.minimum(ends, limit) - discard, 0.0, None)
    return float(np.sum(widths * fnmr))


def error_versus_discard(scores, same, q_first, q_second, *, fmr: float = 1e-3, discard_limit: float = 0.2,
                         steps: int | None = None) -> EDC:
    """The EDC of comparison ``scores`` (N,) (higher = more alike) with labels ``same`` (N,) bool and the Q
    scores of each pair's images ``q_first``, ``q_second`` (N,); rules in the module docstring.

    ``steps``: when given, the returned curve keeps at most that many points (evenly spaced by index,
    first and last kept) for plotting and JSON; ``pauc`` and ``fnmr_at_discard`` always come from the
    full curve. ``None`` keeps every point.

    Raises:
        ValueError: different lengths, non-finite values, no genuine or no impostor pair, ``fmr`` outside
            [0, 1], ``discard_limit`` outside [0, 1].
    """
    scores, q1, q2 = (np.asarray(a, dtype=np.float64) for a in (scores, q_first, q_second))
    same = np.asarray(same, dtype=bool)
    if not (scores.ndim == same.ndim == q1.ndim == q2.ndim == 1) or not (
            len(scores) == len(same) == len(q1) == len(q2)):
        raise ValueError(f"scores, same, q_first and q_second must be 1-D of one length, got "
                         f"{scores.shape}, {same.shape}, {q1.shape}, {q2.shape}")
    for name, a in (("scores", scores), ("q_first", q1), ("q_second", q2)):
        bad = int(np.count_nonzero(~np.isfinite(a)))
        if bad:
            raise ValueError(f"{name} has {bad} non-finite value(s)")
    if not 0.0 <= fmr <= 1.0 or not 0.0 <= discard_limit <= 1.0:
        raise ValueError(f"fmr and discard_limit must be in [0, 1], got {fmr} and {discard_limit}")
    genuine, impostor = scores[same], scores[~same]
    if not len(genuine) or not len(impostor):
        raise ValueError(f"need genuine and impostor pairs, got {len(genuine)} and {len(impostor)}")
    threshold, v = threshold_at_fmr(impostor, fmr)

    quality = np.minimum(q1, q2)[same]
    order = np.argsort(quality, kind="stable")
    quality, rejected = quality[order], (genuine < threshold)[order]
    levels, first = np.unique(quality, return_index=True)  # first: how many pairs lie below each level
    n = len(quality)
    # rejections among the pairs kept at each level = total rejections - those below the level
    below = np.concatenate([[0], np.cumsum(rejected)])[first]
    discard = first / n
    fnmr = (rejected.sum() - below) / (n - first)
    pauc = _pauc(discard, fnmr, discard_limit)
    at = {d: step_value(discard, fnmr, d) for d in REPORTED_DISCARDS}
    if steps is not None and len(levels) > steps:
        keep = np.unique(np.linspace(0, len(levels) - 1, max(steps, 2)).round().astype(np.int64))
        discard, fnmr, levels = discard[keep], fnmr[keep], levels[keep]
    return EDC(discard_fraction=discard.astype(np.float64), fnmr=fnmr.astype(np.float64),
               quality_threshold=levels.astype(np.float64), pauc=pauc, discard_limit=float(discard_limit),
               threshold=threshold, impostor_score_at_threshold=v, fmr=float(fmr),
               fmr_achieved=float(np.mean(impostor >= threshold)), n_genuine=int(len(genuine)),
               n_impostor=int(len(impostor)), fnmr_at_discard=at)


def step_points(x: np.ndarray, y: np.ndarray, end: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The corner points of a step curve (value ``y[i]`` from ``x[i]`` to ``x[i+1]``), for a line plot;
    the last step runs to ``end`` when given."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    xs = np.repeat(x, 2)[1:]
    ys = np.repeat(y, 2)[:-1]
    if end is not None and len(x) and end > x[-1]:
        xs, ys = np.append(xs, end), np.append(ys, y[-1])
    return xs, ys


def plot_edc(path: str | os.PathLike, curves: Mapping[str, EDC | tuple[np.ndarray, np.ndarray]],
             *, title: str = "") -> None:
    """EDC(s) into one PNG (discard fraction on x, FNMR on y, drawn as steps); ``curves`` maps a label to
    an :class:`EDC` or to ``(discard_fraction, fnmr)`` arrays."""
    lines = {}
    for label, curve in curves.items():
        x, y = (curve.discard_fraction, curve.fnmr) if isinstance(curve, EDC) else curve
        lines[label] = step_points(x, y)
    plot_curve(path, lines, xlabel="fraction of genuine pairs discarded (lowest quality first)",
               ylabel="FNMR at the fixed threshold", title=title)


def q_vs_human(pred, mean, std) -> dict:
    """Q's predicted ratings ``pred`` (N,) against the raters' ``mean`` (N,) and ``std`` (N,), 1-10 scale:
    SROCC, KROCC, PLCC and RMSE raw and after a fitted 4-parameter logistic, and more — exactly
    :func:`augmenter.quality.metrics.quality_metrics` (see it for every key and the conventions).

    Example:
        >>> q_vs_human([2.0, 4.0, 6.0, 8.0], [1.0, 3.0, 7.0, 9.0], [0.5, 0.5, 0.5, 0.5])["srocc"]
        1.0
    """
    return quality_metrics(pred, mean, std)


# --------------------------------------------------------------------------------------------- #
# files (eval-edc)


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """The header (names stripped) and ``(line number, row)`` of every row; blank lines are skipped but
    counted, so that an error names the line an editor shows."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            reader.fieldnames = [c.strip() for c in reader.fieldnames or []]
            rows = [(reader.line_num, row) for row in reader]
            return list(reader.fieldnames), rows
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DatasetFormatError(path, f"unreadable CSV ({type(err).__name__}: {err})") from None


def _require_finite(path: Path, line: int, name: str, value: float) -> float:
    """``value``, or DatasetFormatError naming the file and line when it is NaN or infinite."""
    if not math.isfinite(value):
        raise DatasetFormatError(path, f"line {line}: {name} is {'NaN' if math.isnan(value) else value}")
    return value


def read_pair_scores(path: str | os.PathLike) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """``(first, second, scores (N,) float64, same (N,) bool)`` of a ``first,second,score,same`` CSV (any
    column order, extra columns ignored; ``same`` 1/0, true/false or yes/no).

    Raises:
        DatasetFormatError: missing file or column, a bad (or NaN / infinite) score or ``same`` value
            (naming the line), no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(path, "pair score file not found")
    columns, rows = _read_csv(path)
    missing = [c for c in PAIR_COLUMNS if c not in columns]
    if missing:
        raise DatasetFormatError(path, f"missing column(s) {', '.join(missing)}; expected {','.join(PAIR_COLUMNS)}")
    if not rows:
        raise DatasetFormatError(path, "no pairs")
    first, second, scores, same = [], [], [], []
    for line, row in rows:
        try:
            score = float(row["score"])
            label = SAME_VALUES[(row["same"] or "").strip().lower()]
        except (KeyError, TypeError, ValueError):
            raise DatasetFormatError(path, f"line {line}: score {row.get('score')!r} / same {row.get('same')!r} "
                                           "is not a number / 1-0") from None
        first.append((row["first"] or "").strip())
        second.append((row["second"] or "").strip())
        scores.append(_require_finite(path, line, "score", score))
        same.append(label)
    return first, second, np.array(scores, dtype=np.float64), np.array(same, dtype=bool)


def _key(path: str) -> str:
    return os.path.normpath(path)


def read_q_scores(path: str | os.PathLike) -> dict[str, float]:
    """``{normalised path: q_score}`` of an ``augment score`` CSV (``path,q_score[,rating]``) or a manifest
    CSV (``out_path,q_score``); paths are compared after ``os.path.normpath``.

    Raises:
        DatasetFormatError: missing file or column, a non-numeric, NaN or infinite ``q_score`` (naming the line).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(path, "Q score file not found")
    columns, rows = _read_csv(path)
    column = next((c for c in Q_PATH_COLUMNS if c in columns), None)
    if column is None or "q_score" not in columns:
        raise DatasetFormatError(path, "expected the columns path,q_score (augment score's output)")
    out = {}
    for line, row in rows:
        try:
            q_score = float(row["q_score"])
        except (TypeError, ValueError):
            raise DatasetFormatError(path, f"line {line}: q_score {row.get('q_score')!r} is not a number") from None
        out[_key((row[column] or "").strip())] = _require_finite(path, line, "q_score", q_score)
    return out


def pair_qualities(first: list[str], second: list[str], q: Mapping[str, float], source: str | os.PathLike,
                   root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(q_first, q_second)`` (N,) for the pairs' images; a pair path is looked up as written, then joined
    to ``root`` when given. A path without a Q score raises :class:`DatasetFormatError` naming it."""
    def lookup(name: str, line: int, which: str) -> float:
        for candidate in (name, os.path.join(root, name) if root is not None else None):
            if candidate is not None and _key(candidate) in q:
                return q[_key(candidate)]
        raise DatasetFormatError(source, f"line {line}: no Q score for {name!r} ({which} image of the pair)")
    qa = [lookup(a, i + 2, "first") for i, a in enumerate(first)]
    qb = [lookup(b, i + 2, "second") for i, b in enumerate(second)]
    return np.array(qa, dtype=np.float64), np.array(qb, dtype=np.float64)


def edc_markdown(result: dict) -> str:
    """A short Markdown summary of an :func:`evaluate_edc` result."""
    v = result["impostor_score_at_threshold"]
    lines = [
        "# Error versus discard (EDC)", "",
        f"- pairs: {result['n_genuine']} genuine, {result['n_impostor']} impostor",
        (f"- threshold: accept when score > {v:.6g}, the highest rejected impostor score" if v is not None
         else "- threshold: every pair accepted") + f" (target FMR {result['fmr']:g}, "
        f"achieved {result['fmr_achieved']:.6g})",
        f"- pAUC (discard 0-{result['discard_limit']:g}, step curve): {fmt(result['pauc'])}", "",
        "| discard | FNMR |", "|---|---|",
    ]
    lines += [f"| {d} | {fmt(v)} |" for d, v in result["fnmr_at_discard"].items()]
    return "\n".join(lines) + "\n"


def evaluate_edc(pairs_csv: str | os.PathLike, q_csv: str | os.PathLike, *, fmr: float = 1e-3,
                 discard_limit: float = 0.2, out: str | os.PathLike | None = None,
                 root: str | os.PathLike | None = None) -> dict:
    """The EDC of a pair-score CSV with the Q scores of a Q CSV (``eval-edc``): returns
    :meth:`EDC.to_dict` plus the input paths; with ``out`` writes ``edc.json``, ``edc.md`` and ``edc.png``."""
    first, second, scores, same = read_pair_scores(pairs_csv)
    qa, qb = pair_qualities(first, second, read_q_scores(q_csv), pairs_csv, root)
    edc = error_versus_discard(scores, same, qa, qb, fmr=fmr, discard_limit=discard_limit)
    result = {**edc.to_dict(), "pairs": str(pairs_csv), "q_scores": str(q_csv)}
    if out is not None:
        write_result(out, "edc", result, edc_markdown(result))
        plot_edc(Path(out) / "edc.png", {Path(q_csv).stem: edc},
                 title=f"EDC at FMR {fmr:g} (threshold fixed before discarding)")
    return result
