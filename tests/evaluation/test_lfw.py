"""The LFW protocol core: hand-worked folds, the first-maximum and strict ``<`` rules, facenet's VAL
interpolation, and random data against a plain loop re-implementation of facenet's ``lfw.py``."""
from __future__ import annotations

import numpy as np
import pytest

from evaluation.lfw import (
    ACCURACY_THRESHOLDS, PROTOCOL, VAL_THRESHOLDS, evaluate_lfw, fold_accuracies, pair_features,
    squared_distances, threshold_at_far, val_far,
)
from recognition.metrics import roc_auc_eer

T = ACCURACY_THRESHOLDS


def folds_of(per_fold: list[list[tuple[float, bool]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dist, same, folds)`` from, per fold, a list of ``(distance, same)`` pairs."""
    rows = [(d, s, k) for k, pairs in enumerate(per_fold) for d, s in pairs]
    dist, same, folds = zip(*rows)
    return np.array(dist, np.float64), np.array(same, bool), np.array(folds)


# --------------------------------------------------------------------------- a plain re-implementation

def reference_accuracy(dist, same, folds, thresholds=T, strict=True, first=True):
    """facenet's calculate_roc accuracy, one threshold at a time (``strict``: ``<``, else ``<=``;
    ``first``: the first best threshold, else the last)."""
    accuracies, chosen = [], []
    for k in np.unique(folds):
        train, test = folds != k, folds == k

        def accuracy(t, part):
            predict = dist[part] < t if strict else dist[part] <= t
            tp = np.sum(predict & same[part])
            tn = np.sum(~predict & ~same[part])
            return float(tp + tn) / float(part.sum())

        train_acc = [accuracy(t, train) for t in thresholds]
        best = train_acc.index(max(train_acc)) if first else len(train_acc) - 1 - train_acc[::-1].index(max(train_acc))
        chosen.append(thresholds[best])
        accuracies.append(accuracy(thresholds[best], test))
    return accuracies, chosen


def reference_val(dist, same, folds, target=1e-3, thresholds=VAL_THRESHOLDS):
    """facenet's calculate_val, with its scipy <= 1.8 ``interp1d(kind='slinear')`` written out for
    repeated FAR values: from the last point with far <= target to the first with far > target."""
    vals, fars, chosen = [], [], []
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        far_train = [np.sum((dist[train] < t) & ~same[train]) / np.sum(~same[train]) for t in thresholds]
        if max(far_train) >= target:
            lo = max(i for i, f in enumerate(far_train) if f <= target)
            above = [i for i, f in enumerate(far_train) if f > target]
            if above:
                hi = above[0]
                threshold = thresholds[lo] + (target - far_train[lo]) * (thresholds[hi] - thresholds[lo]) / (
                    far_train[hi] - far_train[lo])
            else:
                threshold = thresholds[lo]
        else:
            threshold = 0.0
        accept = dist[test] < threshold
        vals.append(np.sum(accept & same[test]) / np.sum(same[test]))
        fars.append(np.sum(accept & ~same[test]) / np.sum(~same[test]))
        chosen.append(threshold)
    return vals, fars, chosen


# --------------------------------------------------------------------------- hand-worked folds

def test_hand_worked_folds_thresholds_and_accuracies():
    # every fold: same pairs at 0.505 and 0.705, different pairs at 1.205 and 1.505; fold 3's second
    # same pair is a hard one at 1.305.
    easy = [(0.505, True), (0.705, True), (1.205, False), (1.505, False)]
    hard = [(0.505, True), (1.305, True), (1.205, False), (1.505, False)]
    dist, same, folds = folds_of([hard if k == 3 else easy for k in range(10)])
    accuracy, chosen = fold_accuracies(dist, same, folds)
    # On any nine folds the accuracy is best (all right, or all but fold 3's hard pair) for thresholds
    # in (0.705, 1.205]; the first grid value there is 0.71. Accepting the hard pair (t > 1.305) would
    # accept nine different pairs at 1.205.
    assert chosen.tolist() == [T[71]] * 10 and T[71] == pytest.approx(0.71)
    assert accuracy.tolist() == [1.0, 1.0, 1.0, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    result = evaluate_lfw(dist, same, folds)
    assert result.accuracy_mean == pytest.approx(0.975)
    assert result.accuracy_std == pytest.approx(0.075)   # sqrt((9 * 0.025**2 + 0.225**2) / 10), ddof 0
    assert result.per_fold_threshold == chosen.tolist() and result.n_pairs == 40
    assert reference_accuracy(dist, same, folds) == (accuracy.tolist(), chosen.tolist())


def test_first_maximum_and_strict_less_than():
    # fold 0 has a same pair at exactly the grid value 0.80; the other folds have it at 0.795.
    grid = [(0.305, True), (T[80], True), (1.205, False), (1.505, False)]
    off = [(0.305, True), (0.795, True), (1.205, False), (1.505, False)]
    dist, same, folds = folds_of([grid] + [off] * 9)
    accuracy, chosen = fold_accuracies(dist, same, folds)
    # fold 0: best on folds 1..9 from 0.80 to 1.20, the first is 0.80, and 0.80 < 0.80 is False: 3/4.
    # folds 1..9: fold 0's pair at 0.80 is accepted only from t = 0.81 on, so 0.81 is the first best.
    assert chosen.tolist() == [T[80]] + [T[81]] * 9
    assert accuracy.tolist() == [0.75] + [1.0] * 9
    assert reference_accuracy(dist, same, folds) == (accuracy.tolist(), chosen.tolist())
    # either other rule would have scored fold 0 as 4/4: the case tells them apart
    assert reference_accuracy(dist, same, folds, strict=False)[0][0] == 1.0
    assert reference_accuracy(dist, same, folds, first=False)[0][0] == 1.0


def test_float32_distances_are_compared_in_float32():
    # facenet's float32 distances met the float64 grid in float32 (numpy 1.x). Fold 0 has a same pair at
    # float32(0.71), which is below 0.71 in float64 but not below float32(0.71).
    base = [(0.305, True), (0.655, True), (1.205, False), (1.505, False)]
    edge = [(0.305, True), (float(np.float32(T[71])), True), (1.205, False), (1.505, False)]
    dist, same, folds = folds_of([edge] + [base] * 9)
    assert np.float32(T[71]) < T[71]
    # the other folds need a threshold that accepts it: 0.71 in float64, 0.72 in float32
    accuracy64, chosen64 = fold_accuracies(dist, same, folds)
    accuracy32, chosen32 = fold_accuracies(dist.astype(np.float32), same, folds)
    assert chosen64.tolist() == [T[66]] + [T[71]] * 9
    assert chosen32.tolist() == [T[66]] + [T[72]] * 9
    assert accuracy64.tolist() == accuracy32.tolist() == [0.75] + [1.0] * 9
    assert reference_accuracy(dist, same, folds) == (accuracy64.tolist(), chosen64.tolist())
    # scored at exactly 0.71, the pair is accepted in float64 and rejected in float32
    only = np.array([T[71]])
    assert fold_accuracies(dist, same, folds, thresholds=only)[0][0] == 1.0
    assert fold_accuracies(dist.astype(np.float32), same, folds, thresholds=only)[0][0] == 0.75


def test_threshold_at_far_follows_scipy_1_8_slinear_on_repeated_values():
    far = np.array([0, 0, 0, 0.1, 0.1, 0.2, 0.2, 0.2, 1.0])
    thresholds = np.arange(9.0)
    # between runs: from the last threshold of the lower run to the first of the upper one
    assert threshold_at_far(far, thresholds, 0.05) == pytest.approx(2.5)
    assert threshold_at_far(far, thresholds, 0.15) == pytest.approx(4.5)
    assert threshold_at_far(far, thresholds, 0.6) == pytest.approx(7.5)
    # on a run's value: its last threshold
    assert threshold_at_far(far, thresholds, 0.1) == pytest.approx(4.0)
    # FAR never reaches the target: 0.0
    assert threshold_at_far(np.zeros(9), thresholds, 1e-3) == 0.0
    # without repeated values it is plain linear interpolation (interp1d's, np.interp's)
    x = np.array([0.0, 0.3, 0.5, 1.0])
    assert threshold_at_far(x, np.array([0.0, 1.0, 3.0, 4.0]), 0.4) == pytest.approx(np.interp(0.4, x, [0, 1, 3, 4]))


def test_hand_worked_val_at_far():
    # per fold: same at 0.5 and 1.19, different at 1.2005 and 1.5. On nine folds (18 different pairs)
    # FAR is 0 up to t = 1.200 (the last threshold of that run) and 9/18 from t = 1.201 on, so
    # FAR 1e-3 is at t = 1.2 + 0.001 * (1e-3 / 0.5) = 1.200002: both same pairs accepted, no different one.
    per_fold = [(0.5, True), (1.19, True), (1.2005, False), (1.5, False)]
    dist, same, folds = folds_of([per_fold] * 10)
    val, far, chosen = val_far(dist, same, folds)
    assert chosen == pytest.approx([1.2 + 0.001 * 0.002] * 10, abs=1e-12)
    assert val.tolist() == [1.0] * 10 and far.tolist() == [0.0] * 10
    assert reference_val(dist, same, folds) == (val.tolist(), far.tolist(), pytest.approx(chosen.tolist(), abs=1e-12))
    # (collapsing the FAR-0 run to its first threshold, 0.0, would have put the threshold at
    # 0.002 * 1.201 = 0.0024 and VAL at 0.)
    result = evaluate_lfw(dist, same, folds)
    assert (result.val, result.val_std, result.far_mean) == (1.0, 0.0, 0.0)
    # different pairs beyond the last threshold: FAR stays 0 < 1e-3, threshold 0.0, VAL 0
    far_off = [(0.5, True), (1.19, True), (4.5, False), (5.0, False)]
    val, far, chosen = val_far(*folds_of([far_off] * 10))
    assert chosen.tolist() == [0.0] * 10 and val.tolist() == [0.0] * 10 and far.tolist() == [0.0] * 10


def test_roc_auc_and_eer_by_hand():
    # sorted by distance: same 0.1, then a tie at 0.3 (same and different), then different 0.5: the ROC
    # goes (0, 0) -> (0, 0.5) -> (0.5, 1) -> (1, 1); fpr = 1 - tpr halfway along the diagonal step.
    fpr, tpr, area, eer = roc_auc_eer(-np.array([0.1, 0.3, 0.3, 0.5]), np.array([True, True, False, False]))
    assert area == pytest.approx(0.875)   # 3 wins and a tie out of 4 (same, different) couples
    assert eer == pytest.approx(0.25)
    assert fpr[0] == 0 and tpr[-1] == 1
    _, _, area, eer = roc_auc_eer(-np.array([0.1, 0.3, 0.2, 0.4]), np.array([True, True, False, False]))
    assert (area, eer) == (pytest.approx(0.75), pytest.approx(0.5))


# --------------------------------------------------------------------------- random data vs the loops

@pytest.mark.parametrize("seed,per_kind", [(0, 30), (1, 200)])
def test_random_pairs_match_the_loop_reference(seed, per_kind):
    rng = np.random.default_rng(seed)
    n = 10 * 2 * per_kind
    same = np.tile(np.r_[np.ones(per_kind, bool), np.zeros(per_kind, bool)], 10)
    folds = np.repeat(np.arange(10), 2 * per_kind)
    dist = np.where(same, rng.normal(0.9, 0.3, n), rng.normal(1.6, 0.3, n)).clip(0.001, 3.9)
    on_grid = rng.random(n) < 0.3   # many distances exactly on the accuracy grid: ties and dist == t
    dist[on_grid] = T[np.searchsorted(T, dist[on_grid])]
    accuracy, chosen = fold_accuracies(dist, same, folds)
    ref_accuracy, ref_chosen = reference_accuracy(dist, same, folds)
    assert accuracy.tolist() == ref_accuracy and chosen.tolist() == ref_chosen
    val, far, val_threshold = val_far(dist, same, folds)
    ref_val, ref_far, ref_threshold = reference_val(dist, same, folds)
    assert val_threshold == pytest.approx(ref_threshold, rel=1e-12, abs=1e-12)
    assert val.tolist() == ref_val and far.tolist() == ref_far
    assert 0 < np.mean(val) < 1
    result = evaluate_lfw(dist, same, folds)
    assert result.accuracy_mean == np.mean(ref_accuracy) and result.accuracy_std == np.std(ref_accuracy)
    assert (result.val, result.val_std, result.far_mean) == (np.mean(ref_val), np.std(ref_val), np.mean(ref_far))
    from sklearn.metrics import roc_auc_score

    assert result.auc == pytest.approx(roc_auc_score(same, -dist))
    # at the EER the share of same pairs rejected equals that of different pairs accepted (about)
    t = np.quantile(dist[~same], result.eer)
    assert np.mean(dist[same] > t) == pytest.approx(result.eer, abs=0.02)


# --------------------------------------------------------------------------- features and checks

def test_pair_features_flip_and_distances():
    e = np.array([[1.0, 0.0], [0.0, 2.0]], np.float32)
    f = np.array([[0.0, 1.0], [0.0, 2.0]], np.float32)
    plain = pair_features(e)
    assert plain.dtype == np.float32 and np.allclose(plain, [[1, 0], [0, 1]])
    flipped = pair_features(e, f)   # embedding + flip embedding, then L2-normalised
    assert np.allclose(flipped, [[np.sqrt(0.5), np.sqrt(0.5)], [0, 1]])
    assert squared_distances(plain[:1], plain[1:]) == pytest.approx([2.0])
    assert squared_distances(flipped[:1], flipped[1:]) == pytest.approx([2 - np.sqrt(2)])
    with pytest.raises(ValueError, match="do not match"):
        pair_features(e, f[:1])


def test_result_dict_and_summary():
    dist, same, folds = folds_of([[(0.505, True), (0.705, True), (1.205, False), (1.505, False)]] * 10)
    result = evaluate_lfw(dist, same, folds, flip=True, skipped_pairs=3)
    d = result.to_dict()
    for key in ("accuracy_mean", "accuracy_std", "val_at_far_1e-3", "val_std", "far_mean", "auc", "eer", "n_pairs",
                "skipped_pairs", "per_fold_accuracy", "per_fold_threshold", "protocol", "flip"):
        assert key in d
    assert d["protocol"] == PROTOCOL and d["flip"] is True and d["skipped_pairs"] == 3
    assert len(d["per_fold_accuracy"]) == 10
    assert result.summary().startswith("LFW: 100.00% ± 0.00 (10 folds), VAL@FAR=1e-3 100.00% ± 0.00")
    assert "AUC 1.0000, EER 0.00%, 3 pair(s) skipped" in result.summary()
    assert "| accuracy | 1.0000 ± 0.0000 |" in result.markdown()


def test_bad_inputs_are_refused():
    dist, same, folds = folds_of([[(0.5, True), (1.5, False)]] * 10)
    with pytest.raises(ValueError, match="at least 2 folds"):
        evaluate_lfw(dist, same, np.zeros_like(folds))
    keep = ~((folds == 4) & ~same)   # fold 4 without its different pair
    with pytest.raises(ValueError, match="fold 4 needs"):
        evaluate_lfw(dist[keep], same[keep], folds[keep])
    with pytest.raises(ValueError, match="fold 0 needs"):
        evaluate_lfw(dist[1:], same[1:], folds[1:])
    bad = dist.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="finite"):
        evaluate_lfw(bad, same, folds)
