"""Comparisons with seeds: per arm and metric the mean ± sample standard deviation over seeds, and for every
non-baseline arm the paired difference to the baseline with a Student-t interval.

Input shape: ``values[arm][seed][metric] -> float | None`` (``None``, NaN and inf count as missing), e.g.
the balanced accuracy of the ``none`` and ``synthetic`` expression classifiers trained with seeds 0, 1, 2::

    {"none":      {0: {"balanced_accuracy": 0.50}, 1: {"balanced_accuracy": 0.52}, 2: {"balanced_accuracy": 0.54}},
     "synthetic": {0: {"balanced_accuracy": 0.53}, 1: {"balanced_accuracy": 0.56}, 2: {"balanced_accuracy": 0.55}}}

Per arm and metric: ``n`` (seeds with a value), ``mean``, ``sd`` (sample standard deviation, ``n - 1`` in
the denominator; ``None`` below two values). Paired difference of arm A to the baseline B over the seeds
where both have a value: ``d_s = A_s - B_s``, ``mean(d) ± t(0.975, n - 1) * sd(d) / sqrt(n)`` (95 %
interval; ``None`` with fewer than two pairs: one seed says nothing about the spread, and no number is
made up). The example gives differences ``[0.03, 0.04, 0.01]``: mean ``0.02667``, sd ``0.01528``,
``t = 4.3027``, half-width ``0.03795``, interval ``[-0.0113, 0.0646]`` — it contains 0, so three seeds do
not show that ``synthetic`` helps.

The pipelines (``rebalance-affectnet --train``, ``augment-verification``) write the table as
``seeds.md`` (one Markdown table a reader can check, the per-seed values included) and ``seeds.json``
(every number; schema in :meth:`SeedTable.to_dict`).

Example:
    >>> table = seed_table({"none": {0: {"acc": 0.50}, 1: {"acc": 0.52}, 2: {"acc": 0.54}},
    ...                     "synthetic": {0: {"acc": 0.53}, 1: {"acc": 0.56}, 2: {"acc": 0.55}}}, baseline="none")
    >>> s = table.stats["synthetic"]["acc"]
    >>> round(s.mean, 4), round(s.sd, 4), [round(v, 4) for v in (s.delta.mean, s.delta.lo, s.delta.hi)]
    (0.5467, 0.0153, [0.0267, -0.0113, 0.0646])
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

Values = Mapping[str, Mapping[int, Mapping[str, "float | int | None"]]]


def parse_seeds(text: str | int, start: int = 0) -> list[int]:
    """The seeds of a ``--seeds``-like option: a count ``N`` (seeds ``start .. start + N - 1``) or a comma list of
    seeds (``0,1,2``; one seed alone as ``7,``).

    Example:
        >>> parse_seeds("3"), parse_seeds("3", start=5), parse_seeds("0,2,4"), parse_seeds("7,")
        ([0, 1, 2], [5, 6, 7], [0, 2, 4], [7])

    Raises:
        ValueError: not a count or a list of integers, a count below 1, a negative or repeated seed (the
            message quotes the value; the caller names its option, as click's ``BadParameter`` does).
    """
    raw = str(text).strip()
    try:
        if "," in raw:
            seeds = [int(part) for part in raw.split(",") if part.strip()]
        else:
            count = int(raw)
            if count < 1:
                raise ValueError(f"{raw}: at least one seed is needed")
            seeds = list(range(start, start + count))
    except ValueError as err:
        if "at least one" in str(err):
            raise
        raise ValueError(f"{raw!r}: expected a count (3) or a list of seeds (0,1,2)") from None
    if not seeds:
        raise ValueError(f"{raw!r}: no seed given")
    if any(s < 0 for s in seeds):
        raise ValueError(f"{raw!r}: seeds are non-negative integers")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{raw!r}: a seed is repeated")
    return seeds


def _number(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def mean_sd(values: Sequence[float]) -> tuple[float | None, float | None]:
    """``(mean, sample sd)`` of ``values``; mean ``None`` when empty, sd ``None`` below two values.

    Example:
        >>> mean_sd([0.5, 0.52, 0.54]), mean_sd([0.5]), mean_sd([])
        ((0.52, 0.020000000000000018), (0.5, None), (None, None))
    """
    n = len(values)
    if n == 0:
        return None, None
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


@dataclass
class PairedDelta:
    """``arm - baseline`` over the ``seeds`` both have: the per-seed ``differences`` (same order), their
    ``mean`` and sample ``sd``, the t quantile ``t`` (``t(0.5 + confidence / 2, n - 1)``) and the interval
    ``[lo, hi]`` = ``mean ± t * sd / sqrt(n)``; ``sd``, ``t``, ``lo``, ``hi`` are ``None`` when ``n < 2``."""

    seeds: list[int]
    differences: list[float]
    mean: float | None
    sd: float | None
    t: float | None
    lo: float | None
    hi: float | None

    @property
    def n(self) -> int:
        return len(self.differences)

    def to_dict(self) -> dict:
        return {"n": self.n, "seeds": self.seeds, "differences": self.differences, "mean": self.mean,
                "sd": self.sd, "t": self.t, "lo": self.lo, "hi": self.hi}


def paired_delta(arm: Mapping[int, float | None], baseline: Mapping[int, float | None],
                 confidence: float = 0.95) -> PairedDelta:
    """The paired difference of ``arm`` to ``baseline`` (both ``seed -> value``) with its Student-t interval.

    Example:
        >>> d = paired_delta({0: 0.53, 1: 0.56, 2: 0.55}, {0: 0.50, 1: 0.52, 2: 0.54})
        >>> [round(v, 5) for v in (d.mean, d.sd, d.t, d.lo, d.hi)]
        [0.02667, 0.01528, 4.30265, -0.01128, 0.06461]
        >>> paired_delta({0: 0.53}, {0: 0.50}).lo is None
        True
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    seeds = [s for s in sorted(arm) if _number(arm[s]) is not None and _number(baseline.get(s)) is not None]
    differences = [_number(arm[s]) - _number(baseline[s]) for s in seeds]
    mean, sd = mean_sd(differences)
    if sd is None:
        return PairedDelta(seeds, differences, mean, None, None, None, None)
    from scipy.stats import t as student_t

    t = float(student_t.ppf(0.5 + confidence / 2, len(differences) - 1))
    half = t * sd / math.sqrt(len(differences))
    return PairedDelta(seeds, differences, mean, sd, t, mean - half, mean + half)


@dataclass
class ArmStats:
    """One arm's figures for one metric: the per-seed ``values`` (``seed -> value``, missing seeds left out),
    ``n``, ``mean``, sample ``sd``, and ``delta`` to the baseline (``None`` for the baseline itself)."""

    values: dict[int, float]
    mean: float | None
    sd: float | None
    delta: PairedDelta | None = None

    @property
    def n(self) -> int:
        return len(self.values)

    def to_dict(self) -> dict:
        return {"n": self.n, "mean": self.mean, "sd": self.sd, "values": {str(s): v for s, v in self.values.items()},
                "delta": self.delta.to_dict() if self.delta is not None else None}


@dataclass
class SeedTable:
    """Every arm's figures over seeds. ``stats[arm][metric]`` is an :class:`ArmStats`; ``arms`` and
    ``metrics`` keep the input order (baseline first); ``seeds`` are all seeds seen, sorted."""

    baseline: str
    arms: list[str]
    metrics: list[str]
    seeds: list[int]
    confidence: float
    stats: dict[str, dict[str, ArmStats]]
    context: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON form (``seeds.json``)::

            {"kind": "seed_table", "baseline": "none", "confidence": 0.95, "seeds": [0, 1, 2],
             "arms": ["none", "synthetic"], "metrics": ["balanced_accuracy", ...],
             "stats": {ARM: {METRIC: {"n": 3, "mean": 0.52, "sd": 0.02, "values": {"0": 0.5, "1": 0.52, "2": 0.54},
                                      "delta": null | {"n": 3, "seeds": [0, 1, 2], "differences": [...],
                                                       "mean": ..., "sd": ..., "t": 4.30, "lo": ..., "hi": ...}}}},
             "context": {...}}

        ``delta`` is ``null`` for the baseline arm; its ``sd``, ``t``, ``lo`` and ``hi`` are ``null`` with
        fewer than two paired seeds. Seeds are string keys in ``values`` (JSON objects), integers elsewhere.
        """
        return {"kind": "seed_table", "baseline": self.baseline, "confidence": self.confidence, "seeds": self.seeds,
                "arms": self.arms, "metrics": self.metrics,
                "stats": {a: {m: s.to_dict() for m, s in by_metric.items()} for a, by_metric in self.stats.items()},
                "context": self.context}


def seed_table(values: Values, baseline: str, metrics: Iterable[str] | None = None, confidence: float = 0.95,
               context: Mapping | None = None) -> SeedTable:
    """Tabulate ``values[arm][seed][metric]`` (see the module docstring) against the ``baseline`` arm.

    ``metrics``: the metrics to keep, in this order (default: every metric with a value in any run, in
    the order first seen, baseline first). A metric an arm never reports gets ``n = 0`` there.

    Raises:
        ValueError: no arm, or ``baseline`` is not one of the arms.
    """
    if not values:
        raise ValueError("no arm to tabulate")
    if baseline not in values:
        raise ValueError(f"baseline {baseline!r} is not one of the arms ({', '.join(values)})")
    arms = [baseline] + [a for a in values if a != baseline]
    if metrics is None:
        metrics, seen = [], set()
        for arm in arms:
            for by_metric in values[arm].values():
                for key, value in by_metric.items():
                    if key not in seen and _number(value) is not None:
                        seen.add(key)
                        metrics.append(key)
    metrics = list(metrics)
    seeds = sorted({int(s) for arm in arms for s in values[arm]})
    stats: dict[str, dict[str, ArmStats]] = {}
    for arm in arms:
        stats[arm] = {}
        for metric in metrics:
            per_seed = {int(s): _number(v.get(metric)) for s, v in values[arm].items()}
            per_seed = {s: per_seed[s] for s in sorted(per_seed) if per_seed[s] is not None}
            mean, sd = mean_sd(list(per_seed.values()))
            stats[arm][metric] = ArmStats(per_seed, mean, sd)
    for arm in arms[1:]:
        for metric in metrics:
            stats[arm][metric].delta = paired_delta(stats[arm][metric].values, stats[baseline][metric].values,
                                                    confidence)
    return SeedTable(baseline, arms, metrics, seeds, confidence, stats, dict(context or {}))


def _fmt(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def to_markdown(table: SeedTable, title: str = "Comparison over seeds", notes: Sequence[str] = ()) -> str:
    """``seeds.md``: one row per metric and arm (grouped by metric, baseline first) with ``n``, mean ± sd,
    the paired difference to the baseline with its interval, and the per-seed values in seed order (``—``
    where a seed has no value), so a reader can redo every figure.

    Example row::

        | balanced_accuracy | synthetic | 3 | 0.5467 ± 0.0153 | +0.0267 [-0.0113, +0.0646] | 0.5300, 0.5600, 0.5500 |
    """
    level = f"{table.confidence:.0%}"
    lines = [f"# {title}", ""]
    lines += [f"{note}" for note in notes]
    if notes:
        lines.append("")
    lines += [f"Seeds: {', '.join(str(s) for s in table.seeds)} (n = {len(table.seeds)}). Baseline: "
              f"{_cell(table.baseline)}. Mean ± sample standard deviation over seeds; Δ = arm − baseline paired "
              f"by seed, mean and {level} Student-t interval (n − 1 degrees of freedom; n/a with one seed).", "",
              f"| metric | arm | n | mean ± sd | Δ vs {_cell(table.baseline)} [{level} interval] | "
              f"per seed ({', '.join(str(s) for s in table.seeds)}) |",
              "|---|---|---:|---:|---:|---:|"]
    for metric in table.metrics:
        for arm in table.arms:
            s = table.stats[arm][metric]
            spread = "" if s.sd is None else f" ± {s.sd:.4f}"
            average = f"{_fmt(s.mean)}{spread}"
            if s.delta is None:
                delta = "baseline"
            elif s.delta.mean is None:
                delta = "n/a (no paired seed)"
            elif s.delta.lo is None:
                delta = f"{_fmt(s.delta.mean, True)} [n/a: {s.delta.n} paired seed]"
            else:
                delta = f"{_fmt(s.delta.mean, True)} [{_fmt(s.delta.lo, True)}, {_fmt(s.delta.hi, True)}]"
            per_seed = ", ".join(_fmt(s.values[seed]) if seed in s.values else "—" for seed in table.seeds)
            lines.append(f"| {_cell(metric)} | {_cell(arm)} | {s.n} | {average} | {delta} | {per_seed} |")
    return "\n".join(lines) + "\n"


def write_seed_table(out: str | os.PathLike, table: SeedTable, title: str = "Comparison over seeds",
                     notes: Sequence[str] = ()) -> list[Path]:
    """Write ``OUT/seeds.json`` (:meth:`SeedTable.to_dict`) and ``OUT/seeds.md`` (:func:`to_markdown`);
    returns their paths."""
    from evaluation.outputs import write_result

    return write_result(out, "seeds", table.to_dict(), to_markdown(table, title, notes))


def summary_lines(table: SeedTable, metrics: Sequence[str] | None = None) -> list[str]:
    """Short console lines: per metric and arm, mean ± sd and Δ [interval].

    Example:
        >>> t = seed_table({"a": {0: {"m": 0.5}, 1: {"m": 0.6}}, "b": {0: {"m": 0.6}, 1: {"m": 0.8}}}, "a")
        >>> summary_lines(t)
        ['m: a 0.5500 ± 0.0707 (n 2); b 0.7000 ± 0.1414 (n 2), Δ +0.1500 [-0.4853, +0.7853]']
    """
    lines = []
    for metric in metrics or table.metrics:
        if metric not in table.metrics:
            continue
        parts = []
        for arm in table.arms:
            s = table.stats[arm][metric]
            text = f"{arm} {_fmt(s.mean)}" + ("" if s.sd is None else f" ± {s.sd:.4f}") + f" (n {s.n})"
            if s.delta is not None and s.delta.mean is not None:
                text += f", Δ {_fmt(s.delta.mean, True)}"
                text += " [n/a]" if s.delta.lo is None else f" [{_fmt(s.delta.lo, True)}, {_fmt(s.delta.hi, True)}]"
            parts.append(text)
        lines.append(f"{metric}: " + "; ".join(parts))
    return lines
