"""Validation figures on hand-computed cases."""
import math

import numpy as np
import pytest

from recognition.metrics import best_threshold_accuracy, classification_metrics, confusion_matrix


def test_three_class_metrics_by_hand():
    truth = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 2, 2])
    m = classification_metrics(truth, predicted, 3)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recalls 1/2, 2/3, 1 -> balanced accuracy 13/18
    assert m["per_class_recall"] == pytest.approx([1 / 2, 2 / 3, 1.0])
    assert m["balanced_accuracy"] == pytest.approx(13 / 18)
    # precisions 1, 2/3, 1/2 -> F1 2/3 for every class
    assert m["macro_f1"] == pytest.approx(2 / 3)


def test_class_absent_from_truth_is_nan_and_left_out():
    truth = np.array([0, 0, 0, 1, 1])
    predicted = np.array([0, 0, 2, 1, 0])  # class 2 is predicted once but never true
    m = classification_metrics(truth, predicted, 3)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["per_class_recall"][:2] == pytest.approx([2 / 3, 1 / 2]) and math.isnan(m["per_class_recall"][2])
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    # F1: class 0 (p 2/3, r 2/3) = 2/3, class 1 (p 1, r 1/2) = 2/3; class 2 (F1 0) is not averaged in
    assert m["macro_f1"] == pytest.approx(2 / 3)


def test_docstring_example_and_confusion_orientation():
    assert classification_metrics(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), 3)["balanced_accuracy"] == \
        pytest.approx(5 / 6)
    matrix = confusion_matrix(np.array([2, 2, 0]), np.array([1, 1, 0]), 3)
    assert matrix.dtype == np.int64 and matrix[2, 1] == 2 and matrix[1, 2] == 0 and matrix.sum() == 3


def _accuracy_at(scores, same, threshold):
    return float(np.mean((np.asarray(scores) >= threshold) == np.asarray(same)))


@pytest.mark.parametrize("scores, same, expected", [
    ([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0], 1.0),           # separable
    ([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0], 0.75),          # a tie across the classes: cannot split it
    ([0.5, 0.5, 0.5], [1, 1, 0], 2 / 3),                 # all tied: accept all
    ([0.5, 0.5, 0.5], [0, 0, 1], 2 / 3),                 # all tied: reject all
    ([0.2, 0.9, 0.4, 0.4, 0.7], [0, 1, 1, 0, 1], 0.8),   # unsorted, with a tie in the middle
])
def test_best_threshold_is_realisable(scores, same, expected):
    accuracy, threshold = best_threshold_accuracy(np.array(scores), np.array(same, dtype=bool))
    assert accuracy == pytest.approx(expected)
    assert _accuracy_at(scores, np.array(same, dtype=bool), threshold) == pytest.approx(accuracy)


def test_best_threshold_above_every_score_when_rejecting_all_wins():
    scores, same = np.array([0.9, 0.8]), np.array([False, False])
    accuracy, threshold = best_threshold_accuracy(scores, same)
    assert accuracy == 1.0 and threshold > 0.9 and _accuracy_at(scores, same, threshold) == 1.0
