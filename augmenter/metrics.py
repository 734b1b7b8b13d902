"""The ROC AUC core, in the lowest layer so that every layer can use it (plain numpy).

:func:`roc_auc` is the one implementation of the area under the ROC curve in the project: the training
validation (:mod:`augmenter.classify.model`, :mod:`recognition.train_verifier`), LFW and IJB-B evaluation
all reach it, the recognition and evaluation layers through :mod:`recognition.metrics`.

The area is the Mann-Whitney statistic with ties counted 1/2, ``P(positive > negative) + P(equal) / 2``,
counted exactly in integers with ``np.searchsorted`` on the sorted negative scores and divided once: the
exact trapezoid area under the full ROC, rounded once.

Example:
    >>> roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    0.75
"""
from __future__ import annotations

import numpy as np


def mann_whitney_auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """ROC AUC (0..1) as ``P(genuine > impostor) + P(equal) / 2`` from the two **sorted** (ascending) score
    arrays ``genuine`` (G,) and ``impostor`` (I,), both non-empty and NaN-free, counted in integers and
    divided once (the exact area, rounded once)."""
    below = np.searchsorted(impostor, genuine, "left").sum(dtype=np.int64)
    below_or_equal = np.searchsorted(impostor, genuine, "right").sum(dtype=np.int64)
    return (int(below) + int(below_or_equal)) / (2 * len(genuine) * len(impostor))


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve (0..1) of ``scores`` (N,) (higher means positive) for the labels
    ``positive`` (N,) bool (Mann-Whitney U, ties count half); ``None`` without both classes, NaN when a
    score is NaN."""
    scores, positive = np.asarray(scores, np.float64), np.asarray(positive, bool)
    if not positive.any() or positive.all():
        return None
    if np.isnan(scores).any():
        return float("nan")
    return mann_whitney_auc(np.sort(scores[positive]), np.sort(scores[~positive]))
