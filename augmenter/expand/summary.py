"""``summary.json`` of an expand run: counts per target and per identity (or class), the kept rate,
the Q distribution, skips, timing and the models used. Built from the manifest, so a merged run's
summary is computed exactly like a single run's."""
from __future__ import annotations

import numpy as np
import pandas as pd

from augmenter.datasets.record import UNKNOWN
from augmenter.expand.report import BINS, histogram_counts
from augmenter.quality.tear_check import count_causes
from augmenter.skips import SkipReport


def _counts(df: pd.DataFrame, column: str) -> dict[str, dict[str, int]]:
    grouped = df.groupby(column, sort=True)["kept"].agg(["size", "sum"])
    return {str(k): {"variants": int(r["size"]), "kept": int(r["sum"])} for k, r in grouped.iterrows()}


def q_distribution(q: np.ndarray) -> dict:
    """Mean, std, quantiles and a 20-bin histogram over [0, 1] of the finite scores."""
    q = q[np.isfinite(q)]
    if not len(q):
        return {"scored": 0}
    quantiles = np.quantile(q, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {"scored": int(len(q)), "mean": float(q.mean()), "std": float(q.std()), "min": float(q.min()),
            "max": float(q.max()), "quantiles": {p: round(float(v), 6) for p, v in zip(("p05", "p25", "p50", "p75", "p95"), quantiles)},
            "histogram": {"edges": np.linspace(0, 1, BINS + 1).round(3).tolist(),
                          "counts": histogram_counts(q).tolist()}}


def check_moved(df: pd.DataFrame) -> dict | None:
    """How many scores the tear check moved (a ``q_note``), how many of those variants were rejected, and how many
    notes name each cause (a variant may name two); ``None`` for a manifest without notes (no check, or written
    before notes were recorded)."""
    if "q_note" not in df.columns:
        return None
    notes = df["q_note"].fillna("").astype(str)
    moved = notes != ""
    return {"variants": int(moved.sum()), "rejected": int((moved & ~df["kept"].astype(bool)).sum()),
            "by_cause": count_causes(notes[moved])}


def build_summary(df: pd.DataFrame, skips: SkipReport, *, sources_planned: int, processing_s: float,
                  wall_s: float, meta: dict) -> dict:
    """The summary dict; ``meta`` (settings, models, device, notices...) is merged in as given."""
    n = len(df)
    kept = int(df["kept"].sum()) if n else 0
    by_identity = (df["identity"] != UNKNOWN).any() if n else False
    groups = {"per_identity": _counts(df, "identity")} if by_identity else \
        {"per_class": _counts(df, "source_expression")} if n else {}
    return {
        **meta,
        "sources_planned": sources_planned,
        "sources_processed": int(df["source_path"].nunique()) if n else 0,
        "variants": n,
        "kept": kept,
        "rejected": n - kept,
        "kept_rate": kept / n if n else 0.0,
        "per_target": _counts(df, "target") if n else {},
        **groups,
        "q_score": q_distribution(df["q_score"].to_numpy(dtype=np.float64)),
        "check_moved": check_moved(df) if n else None,
        "skips": {"total": skips.total, "counts": dict(skips.counts), "examples": skips.examples},
        "processing_s": round(processing_s, 3),
        "variants_per_s": n / processing_s if processing_s > 0 else 0.0,
        "wall_s": round(wall_s, 3),
    }
