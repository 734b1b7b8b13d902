"""The LFW View 2 verification protocol on pair distances, as facenet's ``lfw.py`` computes it (numpy,
scipy and scikit-learn only; no file I/O: :mod:`evaluation.lfw_run` reads the inputs).

Features: each image's embedding L2-normalised; with ``flip``, embedding + mirror-image embedding, then
L2-normalised (:func:`pair_features`). Distance: squared Euclidean between the two features of a pair, in
0..4, computed and compared with the thresholds in the features' precision (float32 for ``augment embed``
output), as facenet's code did under the numpy 1.x it was written for.
Folds: those of the pair list, in file order (ten blocks of 300 same + 300 different pairs in ``pairs.txt``),
never shuffled.

* Accuracy: thresholds ``np.arange(0, 4, 0.01)``; a pair is called "same" when ``dist < t`` (strictly).
  Each fold is classified with the threshold that has the best accuracy on the other folds, the first
  one when several tie (``np.argmax``); mean and std (``np.std``, ddof 0) over the folds.
* VAL@FAR=1e-3 (facenet's ``calculate_val``): thresholds ``np.arange(0, 4, 0.001)``; per fold, the false
  accept rate ``far_train`` of the other folds at every threshold; when ``max(far_train) >= 1e-3`` the
  threshold is that of FAR 1e-3 on the curve ``(far_train, thresholds)`` by ``interp1d(kind='slinear')``,
  else 0.0; then VAL = TA / n_same and FAR = FA / n_diff of the fold at that threshold. ``far_train`` has
  runs of equal values, which scipy >= 1.9 refuses; facenet's figures come from scipy <= 1.8, whose
  ``slinear`` took those runs as they are: a degree-1 B-spline with knots ``[x0, x0, ..., xn, xn]`` and
  the thresholds as coefficients. That spline is built here directly (:func:`threshold_at_far`), so the
  threshold is facenet's: between two runs it interpolates from the LAST threshold of the lower run to
  the FIRST threshold of the upper one; at a FAR equal to a run's value it gives that run's last
  threshold. (Collapsing each run to its first threshold instead, ``np.unique(far_train,
  return_index=True)``, would interpolate from 0.0 for FAR 0 and give a far lower threshold and VAL.)
* ROC AUC and EER over all pairs at once (score = -distance, :func:`recognition.metrics.roc_auc_eer`: the
  ROC of ``sklearn.metrics.roc_curve``, the exact Mann-Whitney area); the EER is where ``fpr = 1 - tpr``,
  linearly interpolated along the ROC. (facenet's own AUC / EER average the
  per-fold curves at the 400 thresholds instead: a different, coarser figure.)

Example:
    >>> rng = np.random.default_rng(0)
    >>> same = np.tile(np.r_[np.ones(30, bool), np.zeros(30, bool)], 10)
    >>> dist = np.where(same, rng.uniform(0.2, 1.3, 600), rng.uniform(1.1, 2.0, 600))
    >>> result = evaluate_lfw(dist, same, np.repeat(np.arange(10), 60))
    >>> result.n_pairs, round(result.accuracy_mean, 3)
    (600, 0.912)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from recognition.metrics import kfold_pair_accuracies, l2_normalise_rows, roc_auc_eer

ACCURACY_THRESHOLDS = np.arange(0, 4, 0.01)
VAL_THRESHOLDS = np.arange(0, 4, 0.001)
FAR_TARGET = 1e-3
PROTOCOL = ("LFW View 2, 10 folds in file order, squared L2 on normalised features, "
            "thresholds 0:4:0.01, dist < t")


def pair_features(embeddings: np.ndarray, flip_embeddings: np.ndarray | None = None) -> np.ndarray:
    """The features compared by the protocol: ``(N, D)`` unit rows.

    ``embeddings`` (N, D); with ``flip_embeddings`` (N, D, the embeddings of the mirror images) the
    feature is ``embedding + flip_embedding``, L2-normalised (both as given: ``augment embed`` writes
    them unit-length already). A zero row gives NaN. In the embeddings' floating dtype (float64 for integers).
    """
    x = np.asarray(embeddings)
    if flip_embeddings is not None:
        flips = np.asarray(flip_embeddings)
        if flips.shape != x.shape:
            raise ValueError(f"flip embeddings {flips.shape} do not match the embeddings {x.shape}")
        x = x + flips
    return l2_normalise_rows(x, zero_rows="nan")


def squared_distances(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``(P,)`` squared Euclidean distances between rows of ``first`` and ``second`` (P, D), 0..4 for unit
    rows, in their dtype (facenet's ``np.sum(np.square(first - second), 1)``)."""
    return np.sum(np.square(np.subtract(first, second)), 1)


def _check(dist, same, folds) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    dist, same, folds = np.asarray(dist), np.asarray(same), np.asarray(folds)
    if dist.ndim != 1 or same.shape != dist.shape or folds.shape != dist.shape:
        raise ValueError(f"dist {dist.shape}, same {same.shape} and folds {folds.shape} must be equal 1-D shapes")
    if not np.isfinite(dist).all():
        raise ValueError("distances must be finite (drop the pairs without features first)")
    same = same.astype(bool)
    ids = np.unique(folds)
    if len(ids) < 2:
        raise ValueError(f"the protocol needs at least 2 folds, got {len(ids)}")
    for k in ids:
        in_fold = folds == k
        if not (same & in_fold).any() or not (~same & in_fold).any():
            raise ValueError(f"fold {k} needs at least one same and one different pair")
    return dist, same, folds, ids


def _best_grid_threshold(dist: np.ndarray, same: np.ndarray, thresholds: np.ndarray) -> float:
    """The first of ``thresholds`` with the most correct pairs (``dist < t`` means "same", compared in
    ``dist``'s precision) among ``dist`` (P,) / ``same`` (P,) bool."""
    cast = _as_dist_type(thresholds, dist)
    same_below = np.searchsorted(np.sort(dist[same]), cast, side="left")    # true accepts
    diff_below = np.searchsorted(np.sort(dist[~same]), cast, side="left")   # false accepts
    correct = same_below + (np.count_nonzero(~same) - diff_below)
    return thresholds[int(np.argmax(correct))]   # the first maximum (the counts share one denominator)


def _counts_below(dist: np.ndarray, select: np.ndarray, folds: np.ndarray, ids: np.ndarray,
                  thresholds: np.ndarray) -> np.ndarray:
    """``(F, T)`` int64: per fold, how many selected pairs have ``dist < t`` for each threshold ``t`` (compared
    in ``dist``'s precision, see :func:`_as_dist_type`)."""
    thresholds = _as_dist_type(thresholds, dist)
    return np.stack([np.searchsorted(np.sort(dist[select & (folds == k)]), thresholds, side="left") for k in ids])


def _as_dist_type(thresholds, dist: np.ndarray) -> np.ndarray:
    """Thresholds in the distances' float type: facenet's ``np.less(dist, threshold)`` on float32 distances
    compared in float32 under the numpy 1.x it ran on (a float64 scalar took the array's type)."""
    thresholds = np.asarray(thresholds, dtype=np.float64)
    return thresholds.astype(dist.dtype) if np.issubdtype(dist.dtype, np.floating) else thresholds


def fold_accuracies(dist: np.ndarray, same: np.ndarray, folds: np.ndarray,
                    thresholds: np.ndarray = ACCURACY_THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """Per fold (in ``np.unique(folds)`` order) the accuracy of the fold at the threshold chosen on the
    other folds, and that threshold: two ``(F,)`` float64 arrays.

    ``dist`` (P,) distances, ``same`` (P,) bool, ``folds`` (P,) int. The threshold is the first of
    ``thresholds`` with the highest accuracy on the other folds; "same" means ``dist < t``.
    """
    dist, same, folds, _ = _check(dist, same, folds)
    thresholds = np.asarray(thresholds)
    return kfold_pair_accuracies(dist, same, folds, lambda d, y: _best_grid_threshold(d, y, thresholds),
                                 lambda d, t: d < _as_dist_type(t, d))


def threshold_at_far(far: np.ndarray, thresholds: np.ndarray, target: float = FAR_TARGET) -> float:
    """The threshold of false accept rate ``target`` on the curve ``(far, thresholds)`` as facenet's
    ``interp1d(far, thresholds, kind='slinear')(target)`` gave it with scipy <= 1.8 (see the module
    docstring), or 0.0 when ``max(far) < target``. ``far`` (T,) non-decreasing in 0..1."""
    from scipy.interpolate import BSpline

    far = np.asarray(far, dtype=np.float64)
    if np.max(far) < target:
        return 0.0
    order = np.argsort(far, kind="mergesort")   # interp1d's sort (a no-op: far does not decrease)
    x, y = far[order], np.asarray(thresholds, dtype=np.float64)[order]
    # scipy <= 1.8 make_interp_spline(x, y, k=1): knots x padded once at each end, coefficients y
    spline = BSpline.construct_fast(np.r_[x[0], x, x[-1]], y, 1)
    return float(spline(target))


def val_far(dist: np.ndarray, same: np.ndarray, folds: np.ndarray, far_target: float = FAR_TARGET,
            thresholds: np.ndarray = VAL_THRESHOLDS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per fold (``np.unique(folds)`` order) the validation rate, the false accept rate and the
    threshold chosen for ``far_target`` on the other folds (facenet's ``calculate_val``): three ``(F,)``
    float64 arrays, rates in 0..1."""
    dist, same, folds, ids = _check(dist, same, folds)
    diff_below = _counts_below(dist, ~same, folds, ids, thresholds)
    n_diff = np.array([(~same & (folds == k)).sum() for k in ids])
    val, far, chosen = np.empty(len(ids)), np.empty(len(ids)), np.empty(len(ids))
    for i, k in enumerate(ids):
        far_train = (diff_below.sum(0) - diff_below[i]) / float(n_diff.sum() - n_diff[i])
        chosen[i] = threshold_at_far(far_train, thresholds, far_target)
        test = folds == k
        accept = dist[test] < _as_dist_type(chosen[i], dist)
        val[i] = float(np.sum(accept & same[test])) / float(np.sum(same[test]))
        far[i] = float(np.sum(accept & ~same[test])) / float(np.sum(~same[test]))
    return val, far, chosen


@dataclass
class LfwResult:
    """The protocol's figures: rates in 0..1, per-fold lists in fold order; ``fpr`` / ``tpr`` the ROC."""

    accuracy_mean: float
    accuracy_std: float
    val: float
    val_std: float
    far_mean: float
    auc: float
    eer: float
    n_pairs: int
    skipped_pairs: int
    per_fold_accuracy: list[float]
    per_fold_threshold: list[float]
    flip: bool = False
    inputs: dict = field(default_factory=dict)
    fpr: np.ndarray = field(default=None, repr=False)
    tpr: np.ndarray = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """The JSON result (``lfw.json``); ``val_at_far_1e-3`` is :attr:`val`."""
        return {
            "accuracy_mean": self.accuracy_mean, "accuracy_std": self.accuracy_std,
            "val_at_far_1e-3": self.val, "val_std": self.val_std, "far_mean": self.far_mean,
            "auc": self.auc, "eer": self.eer, "n_pairs": self.n_pairs, "skipped_pairs": self.skipped_pairs,
            "n_folds": len(self.per_fold_accuracy), "per_fold_accuracy": self.per_fold_accuracy,
            "per_fold_threshold": self.per_fold_threshold, "protocol": PROTOCOL, "flip": self.flip,
            "inputs": self.inputs,
        }

    def summary(self) -> str:
        """One line, e.g. ``LFW: 99.12% ± 0.35 (10 folds), VAL@FAR=1e-3 97.50% ± 1.20 (FAR 0.00100), ...``."""
        line = (f"LFW: {100 * self.accuracy_mean:.2f}% ± {100 * self.accuracy_std:.2f} "
                f"({len(self.per_fold_accuracy)} folds), VAL@FAR=1e-3 {100 * self.val:.2f}% ± "
                f"{100 * self.val_std:.2f} (FAR {self.far_mean:.5f}), AUC {self.auc:.4f}, EER {100 * self.eer:.2f}%")
        if self.skipped_pairs:
            line += f", {self.skipped_pairs} pair(s) skipped"
        return line

    def markdown(self) -> str:
        """The ``lfw.md`` summary: a table of the figures, then the per-fold accuracies and thresholds."""
        from evaluation.outputs import fmt

        lines = ["# LFW verification", "", "| metric | value |", "|---|---|",
                 f"| accuracy | {fmt(self.accuracy_mean)} ± {fmt(self.accuracy_std)} |",
                 f"| VAL @ FAR=1e-3 | {fmt(self.val)} ± {fmt(self.val_std)} |",
                 f"| FAR (mean) | {fmt(self.far_mean, 5)} |",
                 f"| ROC AUC | {fmt(self.auc)} |", f"| EER | {fmt(self.eer)} |",
                 f"| pairs | {self.n_pairs} ({self.skipped_pairs} skipped) |",
                 f"| flip | {'yes' if self.flip else 'no'} |", "",
                 f"Protocol: {PROTOCOL}.", ""]
        for name, value in self.inputs.items():
            if value is not None:
                lines.append(f"- {name}: `{value}`")
        if self.inputs:
            lines.append("")
        lines += ["| fold | accuracy | threshold |", "|---|---|---|"]
        lines += [f"| {k + 1} | {fmt(a)} | {t:.2f} |"
                  for k, (a, t) in enumerate(zip(self.per_fold_accuracy, self.per_fold_threshold))]
        return "\n".join(lines) + "\n"


def evaluate_lfw(dist: np.ndarray, same: np.ndarray, folds: np.ndarray, *, flip: bool = False,
                 skipped_pairs: int = 0, inputs: dict | None = None) -> LfwResult:
    """Every figure of the protocol from ``dist`` (P,) finite distances, ``same`` (P,) bool and ``folds``
    (P,) int (at least two folds, each with a same and a different pair; ``ValueError`` else).
    ``flip``, ``skipped_pairs`` and ``inputs`` are only recorded."""
    dist, same, folds, _ = _check(dist, same, folds)
    accuracy, thresholds = fold_accuracies(dist, same, folds)
    val, far, _ = val_far(dist, same, folds)
    fpr, tpr, area, eer = roc_auc_eer(-np.asarray(dist, dtype=np.float64), same)
    return LfwResult(
        accuracy_mean=float(np.mean(accuracy)), accuracy_std=float(np.std(accuracy)),
        val=float(np.mean(val)), val_std=float(np.std(val)), far_mean=float(np.mean(far)),
        auc=area, eer=eer, n_pairs=int(len(dist)), skipped_pairs=int(skipped_pairs),
        per_fold_accuracy=accuracy.tolist(), per_fold_threshold=thresholds.tolist(), flip=bool(flip),
        inputs=dict(inputs or {}), fpr=fpr, tpr=tpr,
    )


def lfw_from_features(features: np.ndarray, first: np.ndarray, second: np.ndarray, same: np.ndarray,
                      folds: np.ndarray, **kwargs) -> LfwResult:
    """:func:`evaluate_lfw` on the pairs ``(features[first[p]], features[second[p]])``: ``features``
    (N, D) unit rows (:func:`pair_features`), ``first`` / ``second`` (P,) row indices."""
    features = np.asarray(features)
    return evaluate_lfw(squared_distances(features[first], features[second]), same, folds, **kwargs)
