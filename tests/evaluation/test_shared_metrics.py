"""The verification metrics have one implementation (:mod:`augmenter.metrics`, :mod:`recognition.metrics`)
and one embedding path (:mod:`recognition.embedding`), reached from every layer that used its own copy."""
import subprocess
import sys

import numpy as np
import pytest

import augmenter.metrics
import recognition.metrics
from evaluation.lfw import evaluate_lfw, pair_features
from evaluation.tar_far import tar_at_far

# positives 0.35 and 0.8 against negatives 0.1 and 0.4: 0.35 beats 0.1 only, 0.8 beats both -> 3 / 4
SCORES = np.array([0.1, 0.4, 0.35, 0.8])
LABELS = np.array([0, 0, 1, 1])


def test_hand_worked_auc_through_every_former_entry_point():
    same = LABELS.astype(bool)
    assert recognition.metrics.roc_auc is augmenter.metrics.roc_auc                      # one implementation
    assert recognition.metrics.mann_whitney_auc is augmenter.metrics.mann_whitney_auc
    assert augmenter.metrics.roc_auc(SCORES, same) == 0.75                              # was classify.model.roc_auc
    assert augmenter.metrics.mann_whitney_auc(np.sort(SCORES[same]), np.sort(SCORES[~same])) == 0.75
    assert tar_at_far(LABELS, SCORES).auc == 0.75                                        # was tar_far's copy
    fpr, tpr, area, _ = recognition.metrics.roc_auc_eer(SCORES, same)                    # was lfw.roc_auc_eer
    assert area == 0.75 and fpr[0] == 0 and tpr[-1] == 1
    # LFW on distances (1 - score), the case twice over as two folds: the same 12 wins of 16 couples
    lfw = evaluate_lfw(np.tile(1 - SCORES, 2), np.tile(same, 2), np.repeat([0, 1], 4))
    assert lfw.auc == 0.75


def test_auc_edge_cases():
    assert augmenter.metrics.roc_auc(np.array([0.5, 0.5]), np.array([True, False])) == 0.5
    assert augmenter.metrics.roc_auc(np.array([0.5, 0.7]), np.array([True, True])) is None
    assert np.isnan(augmenter.metrics.roc_auc(np.array([0.5, np.nan]), np.array([True, False])))


def test_kfold_core_and_row_normalisation():
    scores = np.array([0.9, 0.2, 0.8, 0.3, 0.7, 0.6])
    same = np.array([True, False, True, False, True, False])
    folds = np.array([0, 0, 1, 1, 2, 2])
    result = recognition.metrics.kfold_accuracy(scores, same, folds)
    accuracy, chosen = recognition.metrics.kfold_pair_accuracies(
        scores, same, folds, lambda s, y: recognition.metrics.best_threshold_accuracy(s, y)[1], lambda s, t: s >= t)
    assert result["per_fold"] == accuracy.tolist() and result["folds"] == 3 and len(chosen) == 3
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    assert recognition.metrics.l2_normalise_rows(x).tolist() == [[0.6, 0.8], [0.0, 0.0]]
    assert x.tolist() == [[3.0, 4.0], [0.0, 0.0]]                                        # not in place
    with np.errstate(all="raise"):
        nan_rows = recognition.metrics.l2_normalise_rows(x, zero_rows="nan")
    assert nan_rows[0].tolist() == [0.6, 0.8] and np.isnan(nan_rows[1]).all()
    assert np.isnan(pair_features(x)[1]).all()
    with pytest.raises(ValueError, match="zero_rows"):
        recognition.metrics.l2_normalise_rows(x, zero_rows="drop")


def test_evaluation_embeds_without_the_training_module():
    code = ("import sys, evaluation.lfw_run, evaluation.ijbb, evaluation.expression, recognition.embed, "
            "recognition.embedding; assert 'recognition.trainer' not in sys.modules, 'trainer imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
