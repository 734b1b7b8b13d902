"""Validation figures of the recognition trainers and the one home of the verification metrics that
training and evaluation share (plain numpy, no model code):

* ROC AUC: :func:`roc_auc` / :func:`mann_whitney_auc` (the core lives in :mod:`augmenter.metrics`, so that
  the augmenter layer can use it too), and the ROC curve with its EER, :func:`roc_auc_eer`;
* k-fold pair accuracy: :func:`kfold_pair_accuracies` (leave one fold out, threshold chosen on the
  others), used by :func:`kfold_accuracy` and by the LFW protocol (``evaluation.lfw.fold_accuracies``);
* row L2-normalisation: :func:`l2_normalise_rows`.

Example:
    >>> classification_metrics(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), 3)["balanced_accuracy"]
    0.8333333333333333
    >>> roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    0.75
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from augmenter.metrics import mann_whitney_auc, roc_auc


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


def kfold_pair_accuracies(scores: np.ndarray, same: np.ndarray, folds: np.ndarray,
                          choose: Callable[[np.ndarray, np.ndarray], float],
                          accept: Callable[[np.ndarray, float], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """k-fold pair accuracy: per fold (in ``np.unique(folds)`` order) the accuracy (0..1) of the fold's pairs
    at the threshold chosen on the other folds (on the fold itself when there is only one), and that
    threshold: two ``(F,)`` float64 arrays.

    ``scores`` (P,) pair scores or distances, ``same`` (P,) bool, ``folds`` (P,) fold ids. The protocol is
    in the two callables: ``choose(scores, same)`` returns the threshold fitted on some pairs and
    ``accept(scores, threshold)`` the (P,) bool "same" decisions (e.g. ``scores >= t``).
    """
    ids = np.unique(folds)
    accuracy, chosen = np.empty(len(ids)), np.empty(len(ids))
    for i, k in enumerate(ids):
        test = folds == k
        fit = ~test if len(ids) > 1 else test
        threshold = choose(scores[fit], same[fit])
        chosen[i] = threshold
        accuracy[i] = float((accept(scores[test], threshold) == same[test]).mean())
    return accuracy, chosen


def kfold_accuracy(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> dict:
    """The LFW protocol on similarities: each fold is classified (``score >= t`` means "same") with the
    threshold that is best on the other folds (:func:`best_threshold_accuracy`).

    ``scores`` (P,) similarities, ``same`` (P,) bool, ``folds`` (P,) fold ids. Returns
    ``{"mean", "std", "per_fold", "folds"}``, accuracies in 0..1 over the folds (NaN scores dropped). With
    one fold the threshold is chosen on that fold itself (optimistic, and said so by ``"folds": 1``).
    """
    scores, same, folds = (np.asarray(a) for a in (scores, same, folds))
    ok = np.isfinite(scores)
    scores, same, folds = scores[ok], same[ok].astype(bool), folds[ok]
    per_fold, _ = kfold_pair_accuracies(scores, same, folds, lambda s, y: best_threshold_accuracy(s, y)[1],
                                        lambda s, t: s >= t)
    per_fold = per_fold.tolist()
    return {"mean": float(np.mean(per_fold)), "std": float(np.std(per_fold)), "per_fold": per_fold,
            "folds": int(len(np.unique(folds)))}


def roc_auc_eer(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``(fpr, tpr, auc, eer)`` over all pairs: the ROC of ``scores`` (N,) (higher means "same"; pass
    ``-distance`` for distances) for ``positive`` (N,) bool as ``sklearn.metrics.roc_curve`` gives it (two
    (K,) float64 arrays in 0..1), its area (:func:`roc_auc`, NaN without both classes), and the equal error
    rate (0..1) where ``fpr = 1 - tpr``, linearly interpolated between the two ROC points around it."""
    from sklearn.metrics import roc_curve

    positive = np.asarray(positive, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    fpr, tpr, _ = roc_curve(positive, scores)
    gap = fpr + tpr - 1.0                      # -1 at (0, 0), +1 at (1, 1), never decreasing
    i = int(np.argmax(gap >= 0))
    if gap[i] == 0 or i == 0:
        eer = float(fpr[i])
    else:
        w = -gap[i - 1] / (gap[i] - gap[i - 1])
        eer = float(fpr[i - 1] + w * (fpr[i] - fpr[i - 1]))
    area = roc_auc(scores, positive)
    return fpr, tpr, float("nan") if area is None else area, eer


def l2_normalise_rows(x: np.ndarray, zero_rows: Literal["keep", "nan"] = "keep") -> np.ndarray:
    """Rows of ``x`` (N, D) divided by their Euclidean norm (``np.linalg.norm``), as a new array in ``x``'s
    floating dtype (float64 for integers). A zero row stays zero with ``zero_rows="keep"`` (as
    ``sklearn.preprocessing.normalize``) and becomes NaN with ``"nan"``."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    norms = np.linalg.norm(x, axis=1)
    if zero_rows == "keep":
        norms = np.where(norms > 0, norms, 1.0)
    elif zero_rows != "nan":
        raise ValueError(f"zero_rows must be 'keep' or 'nan', not {zero_rows!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        return x / norms[:, None]


__all__ = ["confusion_matrix", "classification_metrics", "best_threshold_accuracy", "kfold_pair_accuracies",
           "kfold_accuracy", "mann_whitney_auc", "roc_auc", "roc_auc_eer", "l2_normalise_rows"]
