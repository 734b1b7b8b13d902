"""Validation figures of the recognition trainers (plain numpy, no model code).

Example:
    >>> classification_metrics(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), 3)["balanced_accuracy"]
    0.8333333333333333
"""
from __future__ import annotations

import numpy as np


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` int64 counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(truth, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def classification_metrics(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> dict:
    """Accuracy, balanced accuracy (mean recall over the classes present), macro-F1 (over the same
    classes), per-class recall (NaN for a class absent from ``truth``) and the confusion matrix."""
    matrix = confusion_matrix(truth, predicted, n_classes)
    support = matrix.sum(1)
    predicted_count = matrix.sum(0)
    hits = np.diag(matrix).astype(np.float64)
    present = support > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(present, hits / np.maximum(support, 1), np.nan)
        precision = np.where(predicted_count > 0, hits / np.maximum(predicted_count, 1), 0.0)
        f1 = np.where(precision + np.nan_to_num(recall) > 0,
                      2 * precision * np.nan_to_num(recall) / (precision + np.nan_to_num(recall)), 0.0)
    n = int(support.sum())
    return {
        "accuracy": float(hits.sum() / n) if n else float("nan"),
        "balanced_accuracy": float(np.nanmean(recall)) if present.any() else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "per_class_recall": recall.tolist(),
        "confusion": matrix.tolist(),
    }


def best_threshold_accuracy(scores: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """Verification accuracy at the best threshold on these pairs, and that threshold (``score >= t``
    means "same person"; ``(nan, nan)`` for no pairs). ``scores`` (N,) similarities, ``same`` (N,) bool.
    An optimistic figure for monitoring training; evaluation uses 10-fold protocols with thresholds
    chosen on other folds (:func:`kfold_accuracy`)."""
    scores = np.asarray(scores, dtype=np.float64)
    same = np.asarray(same, dtype=bool)
    if not len(scores):
        return float("nan"), float("nan")
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], same[order]
    # accepting the top k pairs: true accepts = cumsum(y), true rejects = negatives among the rest
    true_accepts = np.concatenate([[0], np.cumsum(y)])
    false_accepts = np.concatenate([[0], np.cumsum(~y)])
    correct = true_accepts + ((~y).sum() - false_accepts)
    # only cut between different scores, so the threshold is realisable
    cuts = np.concatenate([[True], s[1:] != s[:-1], [True]])
    k = int(np.flatnonzero(cuts)[np.argmax(correct[cuts])])
    threshold = float(s[k - 1]) if k > 0 else float(s[0] + 1.0)
    return float(correct[k] / len(s)), threshold


def kfold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> dict:
    """The LFW protocol: each fold is classified with the threshold that is best on the other folds.

    Returns ``{"mean", "std", "per_fold"}`` over the folds (NaN scores dropped). With one fold the
    threshold is chosen on that fold itself (optimistic, and said so by ``"folds": 1``).
    """
    scores, same, folds = (np.asarray(a) for a in (scores, same, folds))
    ok = np.isfinite(scores)
    scores, same, folds = scores[ok], same[ok].astype(bool), folds[ok]
    ids = np.unique(folds)
    per_fold = []
    for k in ids:
        test = folds == k
        fit = ~test if len(ids) > 1 else test
        _, threshold = best_threshold_accuracy(scores[fit], same[fit])
        per_fold.append(float(((scores[test] >= threshold) == same[test]).mean()))
    return {"mean": float(np.mean(per_fold)), "std": float(np.std(per_fold)), "per_fold": per_fold,
            "folds": int(len(ids))}
