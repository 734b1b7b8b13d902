"""How far to trust Q: its predicted ratings against the raters' mean ``m`` and spread ``s``.

Every face was rated 1-10 for naturalness by three people; ``m`` is their mean and ``s`` their standard
deviation. Q predicts ``m``. The metrics here follow image-quality-assessment practice (VQEG):

* rank agreement: SROCC (Spearman) and KROCC (Kendall tau-b), blind to any monotone distortion;
* linear agreement: PLCC (Pearson) and RMSE, raw and after mapping the predictions through a fitted
  4-parameter logistic (:func:`logistic4`), which removes a monotone nonlinearity before judging;
* rater-level agreement: the share of predictions within one rater standard deviation of ``m``, and
  how often Q puts a face on the same side of the natural/unnatural threshold (``m >= 5``) as the raters.

All functions are pure and vectorised (100k items take well under a second, the logistic fit aside,
which sees at most 20k of them). :func:`write_quality_report` writes the metrics, a scatter plot and the
predictions to a folder, adding what tells a reader how far the numbers can be trusted:

* :func:`bootstrap_intervals`: 95% percentile intervals of SROCC, PLCC and KROCC over 2000 seeded
  resamples of the items (about 0.4 s for 150 items, 15 s for 20k);
* :func:`source_means`: per source, the people's and Q's mean rating and the rank of each, and
  :func:`orders_sources_as_people`: whether Q puts the sources in the people's order;
* the people's own split-half agreement when it is known (``human_ceiling``, see
  :func:`augmenter.quality.study.split_half_ceiling`): no model can agree with them better.

:func:`describe_quality` words all of it for a terminal.

Conventions:

* A correlation of a constant input is undefined: it is ``NaN``, and no warning is emitted.
* ``within_spread`` counts ``|pred - m| <= s + 1e-9``: for ``s = 0`` (the three raters agreed) it
  means the prediction equals ``m`` up to ``1e-9``.
* The threshold test is ``>=``: a mean of exactly 5.0 is natural, and so is a prediction of 5.0.
* Bad input (different lengths, NaN or inf, fewer than 2 items, negative ``s``) raises ``ValueError``.
"""
from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, special, stats

from augmenter.atomic import atomic_path
from augmenter.jsonsafe import json_safe

NATURAL_THRESHOLD = 5.0
"""A face whose mean rating is at least this fooled the raters (the paper's threshold)."""

SPREAD_TOL = 1e-9
"""Tolerance of ``within_spread``: ``|pred - m| <= s + SPREAD_TOL``."""

FIT_MAX_POINTS = 20_000
"""The logistic is fitted on at most this many items, subsampled with :data:`FIT_SEED` when more."""

FIT_SEED = 0

MIN_FIT_POINTS = 5
"""Fewer items than this and the logistic (4 parameters) is not fitted: a linear map is used instead."""

PER_SOURCE_MIN = 5
"""A source gets its own metrics in the report when it has at least this many items."""

PLOT_MAX_POINTS = 5_000
"""The scatter plot shows at most this many items (subsampled with :data:`FIT_SEED`); the metrics use all."""

BOOTSTRAP_REPLICATES = 2000
BOOTSTRAP_SEED = 0
BOOTSTRAP_LEVEL = 0.95
BOOTSTRAP_METHOD = "percentile, items resampled with replacement"
INTERVAL_KEYS = ("srocc", "plcc", "krocc")
"""The correlations that get a bootstrap interval, written as ``<key>_ci95`` in the report."""

_BOOT_CHUNK_ITEMS = 1 << 20  # values per bootstrap work array (8 MiB of float64)
_KENDALL_PAIRS_MAX_ITEMS = 200  # up to this many items, Kendall's tau of all replicates from item-pair signs
_MAXFEV = 20_000
_MIN_SCALE = 1e-12


# --------------------------------------------------------------------------------------------- #
# logistic mapping


def logistic4(x, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """The 4-parameter logistic of VQEG/IQA practice: ``b2 + (b1 - b2) / (1 + exp(-(x - b3) / |b4|))``.

    ``b1`` is the upper asymptote (as ``x`` grows), ``b2`` the lower one, ``b3`` the midpoint and
    ``|b4|`` the width. Evaluated with :func:`scipy.special.expit`, so it never overflows; a ``b4`` of 0
    is treated as ``1e-12`` (a step).
    """
    x = np.asarray(x, dtype=np.float64)
    scale = max(abs(float(b4)), _MIN_SCALE)
    return b2 + (b1 - b2) * special.expit((x - b3) / scale)


@dataclass(frozen=True)
class LogisticFit:
    """The monotone map from predictions to ratings that :func:`fit_logistic4` found.

    Attributes:
        kind: ``"logistic"`` (params ``b1, b2, b3, b4`` of :func:`logistic4`), ``"linear"``
            (``slope, intercept``) or ``"constant"`` (``value``: the mean target, when the predictions
            are constant and nothing can be fitted).
        params: the parameters, named as above.
        fallback: ``True`` when the logistic was not used.
        note: why it was not used (empty when it was); says so too when the fit used a subsample.
        n_fit: how many items the fit saw.
    """

    kind: str
    params: dict[str, float]
    fallback: bool
    note: str = ""
    n_fit: int = 0

    def predict(self, x) -> np.ndarray:
        """Map predictions ``x`` to the rating scale."""
        x = np.asarray(x, dtype=np.float64)
        p = self.params
        if self.kind == "logistic":
            return logistic4(x, p["b1"], p["b2"], p["b3"], p["b4"])
        if self.kind == "linear":
            return p["slope"] * x + p["intercept"]
        return np.full(x.shape, p["value"], dtype=np.float64)

    __call__ = predict


def _sse(a: np.ndarray, b: np.ndarray) -> float:
    d = a - b
    return float(d @ d)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _linear_fit(pred: np.ndarray, target: np.ndarray, n_fit: int, note: str) -> LogisticFit:
    if _is_constant(pred):
        return LogisticFit("constant", {"value": float(target.mean())}, True,
                           _join(note, "predictions are constant: mapped to the mean rating"), n_fit)
    xc = pred - pred.mean()
    slope = float(xc @ (target - target.mean()) / (xc @ xc))
    intercept = float(target.mean() - slope * pred.mean())
    return LogisticFit("linear", {"slope": slope, "intercept": intercept}, True,
                       _join(note, "linear fit used instead"), n_fit)


def fit_logistic4(pred, target, *, max_points: int = FIT_MAX_POINTS, seed: int = FIT_SEED) -> LogisticFit:
    """Fit :func:`logistic4` mapping ``pred`` to ``target`` by least squares; never raises on bad fits.

    The initial guess is ``b1 = max(target)``, ``b2 = min(target)`` (swapped when ``pred`` and
    ``target`` correlate negatively), ``b3 = mean(pred)``, ``b4 = std(pred)`` (1 when that is 0);
    a second start (median, ``b4 = range(pred) / 4``) is tried if the first fails or loses to the line.
    With more than ``max_points`` items the fit sees a subsample of ``max_points`` drawn with ``seed``
    (so the result is reproducible and the fit stays fast); the map is then applied to all items.

    Falls back to a linear least-squares fit (``fallback=True``, the reason in ``note``) when there are
    fewer than 5 items, when ``scipy.optimize.curve_fit`` fails or returns non-finite parameters, or when
    the logistic fits worse than the line. Constant predictions map to the mean target (kind
    ``"constant"``).

    Raises:
        ValueError: ``pred`` and ``target`` are not finite 1-D arrays of one length with 2+ items.
    """
    pred, target = _as_arrays(pred=pred, target=target)
    n = pred.size
    if n > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
        x, y = pred[idx], target[idx]
        sub_note = f"fitted on {max_points} of {n} items (seed {seed})"
    else:
        x, y = pred, target
        sub_note = ""
    n_fit = x.size

    if n_fit < MIN_FIT_POINTS:
        return _linear_fit(x, y, n_fit, _join(sub_note, f"only {n_fit} items (logistic needs {MIN_FIT_POINTS})"))
    if _is_constant(x):
        return _linear_fit(x, y, n_fit, sub_note)

    linear = _linear_fit(x, y, n_fit, "")
    linear_sse = _sse(linear.predict(x), y)

    hi, lo = float(y.max()), float(y.min())
    if linear.params.get("slope", 0.0) < 0:
        hi, lo = lo, hi
    sd = float(x.std())
    starts = [
        [hi, lo, float(x.mean()), sd if sd > 0 else 1.0],
        [hi, lo, float(np.median(x)), float(np.ptp(x)) / 4 or 1.0],
    ]
    best, best_sse, error = None, math.inf, ""
    for p0 in starts:
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")  # OptimizeWarning: covariance not estimated (unused here)
                params, _ = optimize.curve_fit(logistic4, x, y, p0=p0, maxfev=_MAXFEV)
        except (RuntimeError, ValueError, TypeError, FloatingPointError) as e:
            error = str(e).splitlines()[0] if str(e) else type(e).__name__
            continue
        if not np.all(np.isfinite(params)):
            error = "non-finite parameters"
            continue
        sse = _sse(logistic4(x, *params), y)
        if sse < best_sse:
            best, best_sse = params, sse
        if best_sse <= linear_sse:
            break
    if best is None:
        return _linear_fit(x, y, n_fit, _join(sub_note, f"logistic fit failed ({error})"))
    # A converged logistic that fits worse than the line is a bad local minimum, not a better model.
    if best_sse > linear_sse * (1 + 1e-9) + 1e-12:
        return _linear_fit(x, y, n_fit, _join(sub_note, "logistic fit worse than linear"))
    b1, b2, b3, b4 = (float(v) for v in best)
    return LogisticFit("logistic", {"b1": b1, "b2": b2, "b3": b3, "b4": abs(b4)}, False, sub_note, n_fit)


# --------------------------------------------------------------------------------------------- #
# metrics


def _as_arrays(**arrays) -> list[np.ndarray]:
    """Validate named inputs: 1-D, numeric, finite, one length, at least 2 items."""
    out = []
    for name, a in arrays.items():
        try:
            arr = np.asarray(a, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{name} must be numeric: {e}") from None
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise ValueError(f"{name} has {bad} non-finite value(s) (NaN or inf)")
        out.append(arr)
    lengths = [a.size for a in out]
    if len(set(lengths)) > 1:
        got = ", ".join(f"{k}={v}" for k, v in zip(arrays, lengths))
        raise ValueError(f"inputs must have the same length, got {got}")
    if lengths[0] < 2:
        raise ValueError(f"need at least 2 items, got {lengths[0]}")
    return out


def _is_constant(x: np.ndarray) -> bool:
    return bool(x.size == 0 or np.all(x == x[0]))


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r; ``NaN`` when either input is constant (no warning)."""
    if _is_constant(x) or _is_constant(y):
        return math.nan
    xc, yc = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(xc @ xc) * float(yc @ yc))
    if denom == 0.0:  # variance underflowed
        return math.nan
    return float(np.clip(float(xc @ yc) / denom, -1.0, 1.0))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rho: Pearson r of the ranks (ties get the average rank)."""
    if _is_constant(x) or _is_constant(y):
        return math.nan
    return _pearson(stats.rankdata(x), stats.rankdata(y))


def _kendall(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall tau-b (ties corrected), O(n log n)."""
    if _is_constant(x) or _is_constant(y):
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tau = stats.kendalltau(x, y, variant="b").statistic
    return float(tau)


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`_pearson` of each row pair of two 2-D arrays (NaN where a row is constant)."""
    xc, yc = x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)
    denom = np.sqrt(np.einsum("ij,ij->i", xc, xc) * np.einsum("ij,ij->i", yc, yc))
    constant = np.all(x == x[:, :1], axis=1) | np.all(y == y[:, :1], axis=1) | (denom == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.clip(np.einsum("ij,ij->i", xc, yc) / denom, -1.0, 1.0)
    return np.where(constant, np.nan, r)


def _kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`_kendall` (tau-b) of each row pair of two 2-D arrays: from the signs of all item pairs
    when there are few items, else row by row."""
    n = x.shape[1]
    if n > _KENDALL_PAIRS_MAX_ITEMS:
        return np.array([_kendall(a, b) for a, b in zip(x, y)])
    i, j = np.triu_indices(n, 1)
    out = np.empty(len(x))
    step = max(1, _BOOT_CHUNK_ITEMS // max(1, i.size))
    for start in range(0, len(x), step):
        sx = np.sign(x[start:start + step, i] - x[start:start + step, j])
        sy = np.sign(y[start:start + step, i] - y[start:start + step, j])
        # tau-b = (concordant - discordant) / sqrt(pairs untied in x * pairs untied in y)
        denom = np.sqrt(np.count_nonzero(sx, axis=1).astype(float) * np.count_nonzero(sy, axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start:start + step] = np.where(denom > 0, np.einsum("ij,ij->i", sx, sy) / denom, np.nan)
    return out


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return math.sqrt(_sse(a, b) / a.size)


def quality_metrics(pred, mean, std, *, natural_threshold: float = NATURAL_THRESHOLD) -> dict:
    """Agreement of Q's predicted ratings ``pred`` with the raters' ``mean`` and ``std`` (1-D, one length).

    Returns a dict with:

    * ``n``: number of items.
    * ``srocc``, ``krocc``: Spearman rho and Kendall tau-b of ``pred`` vs ``mean``.
    * ``plcc``, ``rmse``: Pearson r and root-mean-square error (rating units) of the raw predictions.
    * ``plcc_logistic``, ``rmse_logistic``: the same after mapping ``pred`` through the logistic fitted
      by :func:`fit_logistic4` (on at most 20k items, subsampled with a fixed seed when more).
    * ``within_spread``: share of items with ``|pred - mean| <= std`` (+1e-9; with ``std = 0``: equal).
    * ``accuracy_at_threshold``: share with ``(pred >= t) == (mean >= t)``, ``t = natural_threshold``.
    * ``natural_share_true``, ``natural_share_pred``: shares with ``mean >= t`` and ``pred >= t``.
    * ``logistic_params``: the fitted map's parameters (``b1..b4``, or ``slope``/``intercept``, or
      ``value`` — see :class:`LogisticFit`); ``logistic_fallback``: ``True`` when it is not a logistic;
      ``logistic_note``: why (empty otherwise).

    Correlations of a constant input are ``NaN`` (no warning is emitted).

    Raises:
        ValueError: lengths differ, a value is NaN/inf, fewer than 2 items, or a ``std`` is negative.
    """
    return _metrics_and_fit(pred, mean, std, natural_threshold)[0]


def _metrics_and_fit(pred, mean, std, natural_threshold: float) -> tuple[dict, LogisticFit]:
    pred, mean, std = _as_arrays(pred=pred, mean=mean, std=std)
    if np.any(std < 0):
        raise ValueError(f"std must be >= 0 (a rater spread), got min {float(std.min())}")
    t = float(natural_threshold)
    fit = fit_logistic4(pred, mean)
    mapped = fit.predict(pred)
    pred_nat, true_nat = pred >= t, mean >= t
    metrics = {
        "n": int(pred.size),
        "srocc": _spearman(pred, mean),
        "krocc": _kendall(pred, mean),
        "plcc": _pearson(pred, mean),
        "plcc_logistic": _pearson(mapped, mean),
        "rmse": _rmse(pred, mean),
        "rmse_logistic": _rmse(mapped, mean),
        "within_spread": float(np.mean(np.abs(pred - mean) <= std + SPREAD_TOL)),
        "accuracy_at_threshold": float(np.mean(pred_nat == true_nat)),
        "natural_share_true": float(np.mean(true_nat)),
        "natural_share_pred": float(np.mean(pred_nat)),
        "natural_threshold": t,
        "logistic_params": dict(fit.params),
        "logistic_fallback": bool(fit.fallback),
        "logistic_note": fit.note,
    }
    return metrics, fit


def bootstrap_intervals(pred, mean, *, n_boot: int = BOOTSTRAP_REPLICATES, seed: int = BOOTSTRAP_SEED,
                        level: float = BOOTSTRAP_LEVEL) -> dict:
    """Percentile bootstrap intervals of SROCC, PLCC and KROCC of ``pred`` against ``mean``.

    Each of ``n_boot`` replicates draws ``n`` items with replacement (one ``integers(0, n, n)`` draw
    of a numpy Generator seeded with ``seed``, so the same inputs and seed give the same intervals) and
    computes the three correlations; the interval is the ``(1 - level) / 2`` and ``(1 + level) / 2``
    percentiles (linear interpolation) of the replicates. Replicates where a correlation is undefined
    (a resample of constant values) are left out of its interval; when all are, it is ``None``.
    The replicates are computed in batches (all three correlations vectorised up to 200 items; KROCC
    one replicate at a time above): about 0.4 s for 150 items, 15 s for 20k.

    Returns:
        ``{"srocc": (lo, hi) | None, "plcc": ..., "krocc": ...}``.

    Raises:
        ValueError: bad ``pred``/``mean`` (see :func:`quality_metrics`), ``n_boot < 1`` or a ``level``
            outside (0, 1).
    """
    pred, mean = _as_arrays(pred=pred, mean=mean)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, not {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, not {level}")
    rng = np.random.default_rng(seed)
    n = pred.size
    replicates = np.empty((n_boot, len(INTERVAL_KEYS)))
    chunk = max(1, _BOOT_CHUNK_ITEMS // n)
    for start in range(0, n_boot, chunk):
        idx = np.stack([rng.integers(0, n, n) for _ in range(min(chunk, n_boot - start))])
        x, y = pred[idx], mean[idx]
        replicates[start:start + len(idx)] = np.column_stack(
            [_pearson_rows(stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)), _pearson_rows(x, y),
             _kendall_rows(x, y)])
    tail = (1 - level) / 2 * 100
    intervals = {}
    for key, values in zip(INTERVAL_KEYS, replicates.T):
        values = values[np.isfinite(values)]
        intervals[key] = tuple(float(v) for v in np.percentile(values, [tail, 100 - tail])) if values.size else None
    return intervals


def source_means(pred, mean, sources: Sequence) -> list[dict]:
    """Per source: how natural people found it and how natural Q finds it, and the rank of each.

    One dict per distinct source (``str(source)``): ``source``, ``n``, ``people_mean`` (mean of
    ``mean``), ``q_mean`` (mean of ``pred``), ``people_rank`` and ``q_rank`` (1 = the most natural
    source by that judge; tied means share the lowest rank). Sorted by people's rank, then name.

    Raises:
        ValueError: bad ``pred``/``mean`` (see :func:`quality_metrics`), or ``sources`` of another length.
    """
    pred, mean = _as_arrays(pred=pred, mean=mean)
    labels = _as_labels("sources", sources, pred.size)
    names = sorted(set(labels.tolist()))
    n = [int(np.count_nonzero(labels == name)) for name in names]
    people = [float(mean[labels == name].mean()) for name in names]
    q = [float(pred[labels == name].mean()) for name in names]
    people_rank = stats.rankdata([-v for v in people], method="min").astype(int)
    q_rank = stats.rankdata([-v for v in q], method="min").astype(int)
    rows = [{"source": name, "n": k, "people_mean": pm, "q_mean": qm, "people_rank": int(pr), "q_rank": int(qr)}
            for name, k, pm, qm, pr, qr in zip(names, n, people, q, people_rank, q_rank)]
    return sorted(rows, key=lambda row: (row["people_rank"], row["source"]))


def source_split(pred, mean, sources: Sequence) -> dict:
    """How much of an agreement with people is knowing the source, and how much is ranking within it.

    ``source_only_srocc``: the SROCC with people of a judge that knows only each item's source and
    gives it the people's own mean for that source (an oracle; items of one source tie). Over the
    human-realism study's 150 faces it is 0.56: a Q that orders the sources perfectly and nothing more
    stays near it. ``within_source_srocc``: Q's SROCC inside each source with at least
    :data:`PER_SOURCE_MIN` items, averaged with weights by item count (NaN when none has); chance is 0.

    >>> r = source_split([1, 2, 3, 4], [1.0, 2.0, 4.0, 3.0], ["a", "a", "b", "b"])
    >>> round(r["source_only_srocc"], 3), r["within_source_srocc"] != r["within_source_srocc"]
    (0.894, True)
    """
    pred, mean = _as_arrays(pred=pred, mean=mean)
    labels = _as_labels("sources", sources, pred.size)
    names = sorted(set(labels.tolist()))
    oracle = np.zeros_like(mean)
    within, weights = [], []
    for name in names:
        idx = labels == name
        oracle[idx] = mean[idx].mean()
        if idx.sum() >= PER_SOURCE_MIN and np.ptp(pred[idx]) > 0 and np.ptp(mean[idx]) > 0:
            within.append(stats.spearmanr(pred[idx], mean[idx]).correlation)
            weights.append(int(idx.sum()))
    only = stats.spearmanr(oracle, mean).correlation if len(names) > 1 else float("nan")
    return {"source_only_srocc": float(only),
            "within_source_srocc": float(np.average(within, weights=weights)) if within else float("nan")}


def orders_sources_as_people(rows: Sequence[dict]) -> bool:
    """Whether Q orders the sources of :func:`source_means` as people do: for every two sources whose
    people's means differ, Q's means differ in the same direction (a tie by Q is not the people's
    order; a tie by people leaves Q free)."""
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            people = np.sign(a["people_mean"] - b["people_mean"])
            if people and np.sign(a["q_mean"] - b["q_mean"]) != people:
                return False
    return True


def format_source_table(rows: Sequence[dict]) -> str:
    """:func:`source_means` as an aligned text table: source, n, people mean, Q mean, people rank, Q rank."""
    header = ["source", "n", "people mean", "Q mean", "people rank", "Q rank"]
    body = [[row["source"], str(row["n"]), f"{row['people_mean']:.2f}", f"{row['q_mean']:.2f}",
             str(row["people_rank"]), str(row["q_rank"])] for row in rows]
    widths = [max(len(line[c]) for line in [header, *body]) for c in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(cells, widths)))

    return "\n".join(line(cells) for cells in [header, *body])


def describe_quality(metrics: dict) -> str:
    """The report of :func:`write_quality_report` in words, for a terminal: the correlations with their
    95% intervals, the people's split-half ceiling beside Q's SROCC (when known), and the per-source
    table with whether Q orders the sources as people do (when there are several sources)."""
    def with_interval(key: str) -> str:
        interval = metrics.get(f"{key}_ci95")
        shown_ci = f"{_fmt(interval[0])}, {_fmt(interval[1])}" if interval else "n/a"
        return f"{key.upper()} {_fmt(metrics[key])} [95% CI {shown_ci}]"

    lines = [f"Q vs people: {', '.join(with_interval(k) for k in INTERVAL_KEYS)} (n={metrics['n']})"]
    ceiling = metrics.get("human_ceiling")
    if ceiling:
        lines.append(f"people's split-half ceiling: SROCC {_fmt(ceiling['spearman'])} (Spearman-Brown "
                     f"{_fmt(ceiling['spearman_corrected'])}), PLCC {_fmt(ceiling['pearson'])} (Spearman-Brown "
                     f"{_fmt(ceiling['pearson_corrected'])}) over {ceiling['n_images']} images, "
                     f"{ceiling['n_splits']} splits; Q's SROCC {_fmt(metrics['srocc'])}")
        if ceiling.get("source_order"):
            pairs = ceiling["source_order_agreement"]
            chain = ceiling["source_order"][0] + "".join(
                f" < {high} ({pairs[f'{low} < {high}']:.0%})"
                for low, high in zip(ceiling["source_order"], ceiling["source_order"][1:]))
            lines.append(f"people's own order of the sources, with the share of splits whose two halves both "
                         f"agree: {chain}")
    if "source_means" in metrics:
        lines.append(format_source_table(metrics["source_means"]))
        lines.append(f"orders sources as people do: {'yes' if metrics['orders_sources_as_people'] else 'no'}")
    if "source_only_srocc" in metrics:
        lines.append(f"a judge knowing only each face's source (people's mean per source) reaches SROCC "
                     f"{_fmt(metrics['source_only_srocc'])}; Q within sources: SROCC "
                     f"{_fmt(metrics['within_source_srocc'])} (weighted by count; chance 0)")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- #
# report


def _fmt(v: float) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.3f}"


def _plot(path: Path, pred: np.ndarray, mean: np.ndarray, std: np.ndarray, sources: np.ndarray | None,
          metrics: dict, fit: LogisticFit, title: str, threshold: float) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = pred.size
    shown = np.arange(n)
    if n > PLOT_MAX_POINTS:
        shown = np.sort(np.random.default_rng(FIT_SEED).choice(n, size=PLOT_MAX_POINTS, replace=False))

    fig = Figure(figsize=(6.4, 6.0), dpi=100)
    FigureCanvasAgg(fig)  # Agg without touching pyplot's global backend
    ax = fig.add_subplot(1, 1, 1)
    groups = [("all", shown)] if sources is None else [
        (str(s), shown[sources[shown] == s]) for s in sorted(set(sources[shown].tolist()), key=str)]
    colours = [f"C{i % 10}" for i in range(len(groups))]
    for (label, idx), colour in zip(groups, colours):
        ax.errorbar(pred[idx], mean[idx], yerr=std[idx], fmt="o", ms=3, alpha=0.6, lw=0.6,
                    color=colour, ecolor=colour, elinewidth=0.6, label=None if sources is None else label)

    lo = float(min(pred.min(), (mean - std).min(), 1.0))
    hi = float(max(pred.max(), (mean + std).max(), 10.0))
    pad = 0.03 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    ax.plot([lo, hi], [lo, hi], color="0.4", lw=1, label="identity")
    xs = np.linspace(float(pred.min()), float(pred.max()), 200)
    ax.plot(xs, fit.predict(xs), color="k", lw=1.6, zorder=4, label="fitted logistic" if not fit.fallback else
            f"fitted {fit.kind} (fallback)")
    ax.axvline(threshold, ls="--", color="0.5", lw=0.8)
    ax.axhline(threshold, ls="--", color="0.5", lw=0.8)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("predicted rating (Q)" + (f" — {shown.size} of {n} shown" if shown.size < n else ""))
    ax.set_ylabel("mean rating (raters), bars = std")
    ax.set_title(f"{title}\nSROCC {_fmt(metrics['srocc'])}, PLCC {_fmt(metrics['plcc'])} "
                 f"(logistic {_fmt(metrics['plcc_logistic'])}), n={n}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def _as_labels(name: str, values: Sequence | None, n: int) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.array([str(v) for v in values], dtype=object)
    if arr.size != n:
        raise ValueError(f"{name} must have one entry per item: got {arr.size}, expected {n}")
    return arr


def write_quality_report(out_dir: str | os.PathLike, pred, mean, std, *, paths: Sequence | None = None,
                         sources: Sequence | None = None, title: str = "Q vs raters",
                         human_ceiling: dict | None = None, n_boot: int = BOOTSTRAP_REPLICATES,
                         seed: int = BOOTSTRAP_SEED) -> dict:
    """Write Q's evaluation to ``out_dir`` and return the metrics (:func:`quality_metrics`).

    Files (each written atomically; ``out_dir`` is created):

    * ``q_eval.json``: the metrics, NaN written as ``null``, and:

      - ``srocc_ci95``, ``plcc_ci95``, ``krocc_ci95``: ``[lo, hi]`` of :func:`bootstrap_intervals`
        (``n_boot`` replicates seeded with ``seed``; ``null`` when undefined), described in
        ``bootstrap`` (``n_boot``, ``seed``, ``level``, ``method``); left out when ``n_boot`` is 0;
      - with ``sources``: ``per_source``, the metrics of every source with at least 5 items (keyed by
        ``str(source)``), and ``per_source_counts``, the item count of every source; with two sources
        or more also ``source_means`` (:func:`source_means`) and ``orders_sources_as_people``;
      - with two sources or more: ``source_only_srocc`` and ``within_source_srocc`` (:func:`source_split`);
      - ``human_ceiling``: the dict given (the people's split-half agreement), when given.
    * ``q_scatter.png``: mean rating against prediction, error bars = rater std, the identity line, the
      fitted logistic, dashed lines at the threshold on both axes, SROCC/PLCC in the title, coloured by
      source when given; at most 5000 items are drawn (fixed-seed subsample), the metrics use all.
    * ``q_predictions.csv`` (only when ``paths`` is given): ``path, source, mean, std, pred``, one row per
      item in input order (``source`` empty without ``sources``).

    The returned dict is the one written, with ``per_source``/``per_source_counts`` when ``sources`` is
    given and NaN kept as ``float('nan')``.

    Raises:
        ValueError: bad ``pred``/``mean``/``std`` (see :func:`quality_metrics`), or ``paths``/``sources``
            of another length.
    """
    import pandas as pd

    pred_a, mean_a, std_a = _as_arrays(pred=pred, mean=mean, std=std)
    n = pred_a.size
    path_arr = _as_labels("paths", paths, n)
    src_arr = _as_labels("sources", sources, n)

    metrics, fit = _metrics_and_fit(pred_a, mean_a, std_a, NATURAL_THRESHOLD)
    metrics["title"] = title
    if n_boot:
        intervals = bootstrap_intervals(pred_a, mean_a, n_boot=n_boot, seed=seed, level=BOOTSTRAP_LEVEL)
        for key, interval in intervals.items():
            metrics[f"{key}_ci95"] = list(interval) if interval is not None else None
        metrics["bootstrap"] = {"n_boot": int(n_boot), "seed": int(seed), "level": BOOTSTRAP_LEVEL,
                                "method": BOOTSTRAP_METHOD}
    if src_arr is not None:
        names, counts = np.unique(src_arr.astype(str), return_counts=True)
        metrics["per_source_counts"] = {str(k): int(c) for k, c in zip(names, counts)}
        metrics["per_source"] = {
            str(k): quality_metrics(pred_a[src_arr == k], mean_a[src_arr == k], std_a[src_arr == k])
            for k, c in zip(names, counts) if c >= PER_SOURCE_MIN}
        if len(names) > 1:
            metrics["source_means"] = source_means(pred_a, mean_a, src_arr)
            metrics["orders_sources_as_people"] = orders_sources_as_people(metrics["source_means"])
            metrics.update(source_split(pred_a, mean_a, src_arr))
    if human_ceiling is not None:
        metrics["human_ceiling"] = dict(human_ceiling)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(json_safe(metrics), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
    with atomic_path(out / "q_eval.json") as tmp:
        tmp.write_text(text, encoding="utf-8")

    _plot(out / "q_scatter.png", pred_a, mean_a, std_a, src_arr, metrics, fit, title,
          metrics["natural_threshold"])

    if path_arr is not None:
        df = pd.DataFrame({"path": path_arr, "source": src_arr if src_arr is not None else [""] * n,
                           "mean": mean_a, "std": std_a, "pred": pred_a})
        with atomic_path(out / "q_predictions.csv") as tmp:
            df.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    return metrics

