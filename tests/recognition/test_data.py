"""Training samples: mixing and class weights, synthetic manifests, the dataset items."""
import math

import numpy as np
import pytest
import torch

from augmenter.datasets.record import FaceRecord
from augmenter.errors import DatasetFormatError
from augmenter.skips import SkipReport
from recognition.data import (FaceSamples, Sample, class_balanced_weights, collate_samples,
                              inverse_frequency_loss_weights, mixing_weights, real_samples, synthetic_samples)
from tests.recognition.fixtures import manifest_row, pattern, write_png, write_test_manifest


def _pool(n_real=4, q=(0.2, 0.6, 0.8)):
    real = [Sample(f"r{i}.png", i % 2) for i in range(n_real)]
    synthetic = [Sample(f"s{i}.png", i % 2, True, v) for i, v in enumerate(q)]
    return real + synthetic


def test_default_mixing_is_uniform():
    w = mixing_weights(_pool())
    assert w == pytest.approx(np.full(7, 1 / 7))


def test_synthetic_ratio_sets_the_synthetic_share_exactly():
    samples = _pool()
    w = mixing_weights(samples, synthetic_ratio=0.3)
    synthetic = np.array([s.synthetic for s in samples])
    assert w.sum() == pytest.approx(1.0)
    assert w[synthetic].sum() == pytest.approx(0.3, abs=1e-12)
    assert w[~synthetic] == pytest.approx(np.full(4, 0.7 / 4))  # uniform within the real pool
    assert w[synthetic] == pytest.approx(np.full(3, 0.1))
    with pytest.raises(ValueError, match="synthetic ratio"):
        mixing_weights(samples, synthetic_ratio=1.0)


def test_q_weighting_is_proportional_to_q_within_the_synthetic_pool():
    samples = _pool(q=(0.2, 0.6, 0.8))
    w = mixing_weights(samples, synthetic_ratio=0.3, q_weighted=True)
    syn = w[4:]
    assert syn.sum() == pytest.approx(0.3)
    assert syn == pytest.approx(0.3 * np.array([0.2, 0.6, 0.8]) / 1.6)
    assert w[:4] == pytest.approx(np.full(4, 0.7 / 4))
    # an unscored synthetic image (NaN) gets the floor weight, not NaN
    w = mixing_weights(_pool(q=(0.5, math.nan)), synthetic_ratio=0.5, q_weighted=True)
    assert np.isfinite(w).all() and w[4] > 100 * w[5] > 0


def test_class_balanced_weights_give_each_class_the_same_total():
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2])
    w = class_balanced_weights(labels, 4)  # class 3 has no sample
    assert w.sum() == pytest.approx(1.0)
    totals = [w[labels == c].sum() for c in range(3)]
    assert totals == pytest.approx([1 / 3] * 3)


def test_inverse_frequency_loss_weights_average_one_over_the_samples():
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2])
    w = inverse_frequency_loss_weights(labels, 4)
    assert w.dtype == torch.float32 and w[3] == 0  # absent class
    assert w[labels].mean().item() == pytest.approx(1.0, abs=1e-6)
    # n / (classes present * count): 9 / (3 * 6), 9 / (3 * 2), 9 / (3 * 1)
    assert w[:3].tolist() == pytest.approx([0.5, 1.5, 3.0])


def test_real_samples_keep_only_the_chosen_classes(tmp_path):
    records = [FaceRecord(path=tmp_path / f"{k}.png", dataset="x", expression=e)
               for k, e in enumerate(["happy", "sad", "fear", "happy"])]
    samples = real_samples(records, ["sad", "happy"], lambda r: r.expression)
    assert [(s.label, s.synthetic) for s in samples] == [(1, False), (0, False), (1, False)]


def test_synthetic_samples_keep_kept_rows_of_known_classes(tmp_path):
    out = tmp_path / "expanded"
    for name in ("a.png", "b.png", "rejected.png", "stranger.png"):
        write_png(out / name, pattern("bright", 16, 0))
    manifest = write_test_manifest(out / "manifest", [
        manifest_row("a.png", expression="happy", q_score=0.9),
        manifest_row("b.png", expression="sad", q_score=float("nan")),
        manifest_row("rejected.png", expression="happy", kept=False),       # Q rejected it: not used, not counted
        manifest_row("stranger.png", expression="fear"),                     # class not in the real data
        manifest_row("gone.png", expression="happy"),                        # missing file
    ])
    skips = SkipReport()
    samples = synthetic_samples([manifest], ["happy", "sad"], lambda r: r.expression, skips)
    assert [(s.path.rsplit("/", 1)[-1], s.label, s.synthetic) for s in samples] == [("a.png", 0, True), ("b.png", 1, True)]
    assert samples[0].q_score == pytest.approx(0.9) and math.isnan(samples[1].q_score)
    assert dict(skips.counts) == {"synthetic class not in the real data": 1, "missing file": 1}
    assert "stranger.png" in skips.examples["synthetic class not in the real data"][0]
    assert "gone.png" in skips.examples["missing file"][0]
    assert not any("rejected" in p for p in [s.path for s in samples] + sum(skips.examples.values(), []))


def test_a_manifest_without_one_usable_image_is_an_error_not_a_real_only_run(tmp_path):
    # images resolved against the wrong folder: every row "missing"; training on would silently compare
    # real against real
    manifest = write_test_manifest(tmp_path / "elsewhere" / "manifest", [
        manifest_row("a.png", expression="happy"), manifest_row("b.png", expression="sad")])
    with pytest.raises(DatasetFormatError) as err:
        synthetic_samples([manifest], ["happy", "sad"], lambda r: r.expression, SkipReport())
    assert "manifest.parquet" in str(err.value) and "2 missing file" in str(err.value)
    assert synthetic_samples([], ["happy"], lambda r: r.expression, SkipReport()) == []  # no manifest: fine


def test_face_samples_resize_augment_deterministically_and_report_failures(tmp_path):
    good = write_png(tmp_path / "good.png", pattern("vstripes", 40, 1))
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    data = FaceSamples([Sample(str(good), 2), Sample(str(bad), 1)], size=32, train=True, shift=3, seed=5)
    i, image, label, error = data[0]
    assert (i, label, error) == (0, 2, "") and image.shape == (3, 32, 32) and image.dtype == torch.uint8
    assert torch.equal(data[0][1], image)  # same (seed, epoch, item): same pixels
    views = set()
    for epoch in range(6):
        data.epoch = epoch
        views.add(data[0][1].numpy().tobytes())
    assert len(views) > 1  # augmentation changes with the epoch
    _, empty, _, message = data[1]
    assert empty.numel() == 0 and "bad.png" in message
    indices, images, labels, errors = collate_samples([data[0], data[1]])
    assert indices.tolist() == [0] and images.shape == (1, 3, 32, 32) and labels.tolist() == [2] and len(errors) == 1
    indices, images, labels, errors = collate_samples([data[1]])
    assert len(indices) == 0 and len(labels) == 0 and errors == [message]
    plain = FaceSamples([Sample(str(good), 0)], size=40)
    assert plain[0][1].permute(1, 2, 0).numpy().tolist() == pattern("vstripes", 40, 1).tolist()  # no augmentation
