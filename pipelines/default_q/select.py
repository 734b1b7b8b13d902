"""Choosing among stage-1 runs of the default Q on the pool's own validation split.

Rebuilds of the same recipe differ by about ten points in how many held-out real photos and generator
variants pass ``q_score >= 0.6`` (docs/quality.md, "Round 10"), so the recipe may train stage 1 with
several seeds and keep one. The choice must not look at what the recipe reports: not the study's faces
(the cross-validated agreement) and not the held-out FER-2013 validation photos or Yale B subjects (the
real-photo and failure-mode figures). It uses the pool's ``val`` rows, which stage 1 never trains on:
photos of FER-2013 train and Yale B training subjects (aligned) and their damaged copies.

The score is a balanced accuracy at the user's threshold: the share of aligned real photos at or above
``threshold`` and the share of damaged or generator-made rows below it, averaged, so a run cannot win by
passing everything or rejecting everything.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

REAL_SOURCES = ("real", "toned")  # aligned photos, grey or toned; "unaligned"/"reframed" frame differently


def selection_table(pool: pd.DataFrame) -> pd.DataFrame:
    """The pool's ``val`` rows that the selection scores: aligned real photos (``real`` True) and the
    damaged or generated rows of aligned faces (``real`` False); other framings and renders are left out."""
    val = pool[pool["split"] == "val"].copy()
    framing = val["source"].str.split("_").str[0]  # "unaligned_warp" -> "unaligned"; "warp" -> "warp"
    val = val[~framing.isin(["unaligned", "reframed", "render"])]
    val["real"] = val["source"].isin(REAL_SOURCES)
    return val


def selection_score(ratings: np.ndarray, real: np.ndarray, threshold: float = 6.0) -> dict:
    """Balanced accuracy at ``threshold`` (a rating on 1-10; 6.0 is ``q_score`` 0.6).

    >>> selection_score(np.array([7.0, 5.0, 4.0, 6.5]), np.array([True, True, False, False]))
    {'real_pass': 0.5, 'damaged_reject': 0.5, 'balanced': 0.5, 'n_real': 2, 'n_damaged': 2}
    """
    real = np.asarray(real, dtype=bool)
    if real.all() or not real.any():
        raise ValueError("selection_score needs both real and damaged rows")
    passed = np.asarray(ratings) >= threshold
    real_pass, damaged_reject = float(passed[real].mean()), float((~passed[~real]).mean())
    return {"real_pass": real_pass, "damaged_reject": damaged_reject, "balanced": (real_pass + damaged_reject) / 2,
            "n_real": int(real.sum()), "n_damaged": int((~real).sum())}
