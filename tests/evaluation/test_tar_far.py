"""TAR at FAR and AUC (:mod:`evaluation.tar_far`) against a direct scikit-learn computation: TAR bit-equal on
many random score sets (ties, tiny sets, imbalanced classes), AUC equal to rounding."""
import math

import numpy as np
import pytest
from sklearn.metrics import auc, roc_auc_score, roc_curve

from evaluation import tar_far
from evaluation.tar_far import FAR_TARGETS, far_key, split_scores, tar_at_far
from recognition.metrics import mann_whitney_auc


def sklearn_tar_at_far(labels, scores, targets):
    """insightface's read-off as it is written: arrays flipped, min over (|fpr - x|, index), so ties go to
    the smallest flipped index (the larger tpr); plus sklearn's AUC of the same curve."""
    fpr, tpr, _ = roc_curve(labels, scores)
    area = auc(fpr, tpr)
    fpr, tpr = np.flipud(fpr), np.flipud(tpr)
    out = {}
    for x in targets:
        _, i = min(zip(abs(fpr - x), range(len(fpr))))
        out[x] = tpr[i]
    return out, area


def random_case(rng, trial):
    n = int(rng.choice([2, 3, 5, 17, 200, 2000]))
    labels = rng.integers(0, 2, n)
    labels[0], labels[1] = 0, 1
    kind = trial % 6
    if kind == 0:
        scores = rng.standard_normal(n) + 1.5 * labels
    elif kind == 1:                       # heavy ties: 4 values
        scores = rng.integers(0, 4, n).astype(np.float64)
    elif kind == 2:                       # ties mixed across the classes
        scores = rng.integers(0, 30, n) / 7.0 + labels * rng.integers(0, 2, n)
    elif kind == 3:
        scores = np.round(rng.random(n), 1)
    elif kind == 4:                       # one genuine, many impostors (or the reverse)
        labels = np.zeros(n, dtype=int)
        labels[rng.integers(n)] = 1
        if rng.random() < 0.5:
            labels = 1 - labels
        scores = rng.standard_normal(n)
    else:                                 # all equal
        scores = np.full(n, 0.25)
    return labels, scores


def test_tar_is_bit_equal_to_sklearn_on_many_random_sets():
    rng = np.random.default_rng(0)
    for trial in range(1500):
        labels, scores = random_case(rng, trial)
        targets = list(FAR_TARGETS) + [float(v) for v in rng.random(3)] + [0.0, 1.0, 0.5]
        head = float(rng.choice([0.0, 0.05, 0.2]))
        got = tar_at_far(labels, scores, targets=targets, head_fraction=head)
        want, area = sklearn_tar_at_far(labels, scores, targets)
        for x in targets:
            assert got.tar[float(x)] == want[x], (trial, x, got.tar, want)
        assert got.auc == pytest.approx(area, abs=1e-12), trial
        assert got.n_genuine + got.n_impostor == len(scores)


def test_large_continuous_set_uses_the_head_only_and_matches():
    rng = np.random.default_rng(1)
    labels = np.r_[np.ones(3000, np.int8), np.zeros(200_000, np.int8)]
    scores = np.r_[rng.normal(2.0, 1.0, 3000), rng.normal(0.0, 1.0, 200_000)]
    perm = rng.permutation(len(labels))
    labels, scores = labels[perm], scores[perm]
    got = tar_at_far(labels, scores)
    want, area = sklearn_tar_at_far(labels, scores, FAR_TARGETS)
    assert got.tar == {x: want[x] for x in FAR_TARGETS}
    assert got.head_fpr == pytest.approx(0.2, abs=1e-4)        # the fast path decided every target
    assert abs(got.auc - area) < 1e-12
    assert abs(got.auc - roc_auc_score(labels, scores)) < 1e-12
    assert list(got.tar_by_key()) == ["1e-06", "1e-05", "1e-04", "1e-03", "1e-02", "1e-01"]


def test_a_vertex_beyond_the_head_forces_a_larger_head(monkeypatch):
    # impostors 0..999 (FAR steps of 0.001); genuine at the top and again only at FAR 0.21: for target 0.1
    # the kept vertices known inside a 20 % head are (0, 0) and (0, 0.5) at distance 0.1, and the head's end
    # (FAR 0.2) is exactly 0.1 away: the read-off cannot be decided without more of the curve
    impostor = np.arange(1000, dtype=np.float64)
    genuine = np.array([2000.0, 1000 - 210.5])
    labels = np.r_[np.zeros(1000, int), np.ones(2, int)]
    scores = np.r_[impostor, genuine]
    calls = []
    original = tar_far.roc_head
    monkeypatch.setattr(tar_far, "roc_head", lambda g, i, k: calls.append(k) or original(g, i, k))
    got = tar_at_far(labels, scores, targets=(0.1,), head_fraction=0.0)
    want, _ = sklearn_tar_at_far(labels, scores, (0.1,))
    assert got.tar == {0.1: want[0.1]} == {0.1: 0.5}
    assert calls == [200, 800]


def test_tiny_sets_and_the_docstring_example():
    assert tar_at_far([0, 1], [0.3, 0.7]).tar == {x: 1.0 for x in FAR_TARGETS}
    assert tar_at_far([1, 0], [0.3, 0.7]).auc == 0.0
    assert tar_at_far([1, 0], [0.5, 0.5]).auc == 0.5
    labels = np.array([1, 1, 0, 0, 0, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.4, 0.1, 0.0])
    got = tar_at_far(labels, scores, targets=(0.05, 0.2))
    assert got.tar == {0.05: 2 / 3, 0.2: 1.0}       # at 0.2: (0.2, 2/3) and (0.2, 1) tie, the larger wins
    assert got.auc == pytest.approx(14 / 15)


def test_auc_is_the_mann_whitney_statistic_with_half_ties():
    genuine = np.sort(np.array([1.0, 2.0, 2.0, 5.0]))
    impostor = np.sort(np.array([0.0, 2.0, 3.0]))
    # pairs (g > i) + 0.5 (g == i): 1.0 -> 1; 2.0 -> 1 + 0.5 (x2); 5.0 -> 3  => 1 + 1.5 + 1.5 + 3 = 7 of 12
    assert mann_whitney_auc(genuine, impostor) == 7 / 12
    labels = np.r_[np.ones(4), np.zeros(3)]
    fpr, tpr, _ = roc_curve(labels, np.r_[genuine, impostor])
    assert math.isclose(auc(fpr, tpr), 7 / 12, abs_tol=1e-15)


def test_curve_for_the_plot_runs_from_0_to_1_through_exact_vertices():
    rng = np.random.default_rng(2)
    labels = np.r_[np.ones(500, int), np.zeros(20_000, int)]
    scores = np.r_[rng.normal(1.5, 1, 500), rng.normal(0, 1, 20_000)]
    got = tar_at_far(labels, scores)
    assert got.fpr[0] == 0 and got.tpr[0] == 0 and got.fpr[-1] == 1 and got.tpr[-1] == 1
    assert (np.diff(got.fpr) >= 0).all() and (np.diff(got.tpr) >= 0).all()
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    on_curve = {(a, b) for a, b in zip(fpr.tolist(), tpr.tolist())}
    assert all((a, b) in on_curve for a, b in zip(got.fpr.tolist(), got.tpr.tolist()))


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="genuine and impostor"):
        tar_at_far([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="genuine and impostor"):
        tar_at_far([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="finite"):
        tar_at_far([0, 1], [np.nan, 0.2])
    with pytest.raises(ValueError, match="1 \\(genuine\\) or 0"):
        tar_at_far([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="shapes"):
        split_scores(np.array([0, 1, 1]), np.array([0.1, 0.2]))
    assert far_key(1e-6) == "1e-06" and far_key(1e-1) == "1e-01"
