"""GroundTruth re-renders a sample subject exactly as the tree does, once per (identity, expression)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

pytest.importorskip("augmenter.sample.render")

from augmenter.datasets import read_dataset  # noqa: E402
from augmenter.errors import DatasetFormatError  # noqa: E402
from augmenter.io import decode_image  # noqa: E402
from augmenter.sample.ground_truth import GroundTruth, mean_image_per_target  # noqa: E402
from augmenter.sample.identity import make_identity  # noqa: E402
from augmenter.sample.render import FaceRenderer  # noqa: E402
from augmenter.sample.tree import CONFIG_NAME, SampleConfig, render_sample  # noqa: E402

EXPRESSIONS = ("neutral", "smile")
LIGHTS = ("ambient", "flash01")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("gt") / "sample"
    render_sample(out, SampleConfig(identities=1, size=64, expressions=EXPRESSIONS, lighting=LIGHTS))
    records = {(r.lighting, r.expression): r for r in read_dataset("sample", out).records}
    assert len(records) == 4
    return out, records


def test_own_attributes_reproduce_the_files_exactly(sample):
    out, records = sample
    gt = GroundTruth(out)
    assert (gt.seed, gt.size, gt.identities, gt.lighting, gt.expressions) == (0, 64, 1, LIGHTS, EXPRESSIONS)
    for record in records.values():
        image = gt.render(record, None, None)
        assert image.dtype == np.uint8 and image.shape == (64, 64, 3)
        np.testing.assert_array_equal(image, decode_image(record.path))
        np.testing.assert_array_equal(gt.render(record, record.lighting, record.expression), image)


def test_translations_match_the_other_files_and_render_each_group_once(sample):
    out, records = sample
    gt = GroundTruth(out)
    source = records[("ambient", "neutral")]
    for light in LIGHTS:
        for expression in EXPRESSIONS:
            np.testing.assert_array_equal(gt.render(source, light, expression),
                                          decode_image(records[(light, expression)].path))
    np.testing.assert_array_equal(gt.render(source, "flash01", None), decode_image(records[("flash01", "neutral")].path))
    np.testing.assert_array_equal(gt.render(source, None, "smile"), decode_image(records[("ambient", "smile")].path))
    assert gt.render_calls == len(EXPRESSIONS)  # 2 lights x 2 expressions: one render_lights per expression

    # a lighting the sample does not have: rendered once, then cached with its group
    expected = FaceRenderer(size=64).render(make_identity(0, 0), "smile", "flash07")
    np.testing.assert_array_equal(gt.render(source, "flash07", "smile"), expected)
    np.testing.assert_array_equal(gt.render(records[("flash01", "smile")], "flash07", None), expected)
    assert gt.render_calls == len(EXPRESSIONS) + 1


def test_returns_copies_and_evicts_least_recently_used(sample):
    out, records = sample
    gt = GroundTruth(out, cache_size=1)
    record = records[("ambient", "neutral")]
    first = gt.render(record, "flash01", None)
    first[:] = 0
    assert gt.render(record, "flash01", None).any()  # the cache was not touched
    gt.render(record, None, "smile")                  # evicts neutral
    gt.render(record, None, None)
    assert gt.render_calls == 3


def test_bad_targets_and_records(sample):
    out, records = sample
    gt = GroundTruth(out)
    record = records[("ambient", "neutral")]
    with pytest.raises(ValueError, match="lighting"):
        gt.render(record, "flash99", None)
    with pytest.raises(ValueError, match="expression"):
        gt.render(record, None, "happy")
    with pytest.raises(ValueError, match="subject"):
        gt.render(dataclasses.replace(record, identity="002"), None, None)
    with pytest.raises(ValueError, match="lighting"):
        gt.render(dataclasses.replace(record, lighting="unknown"), None, None)
    assert gt.render_calls == 0


def test_not_a_sample_tree(tmp_path):
    with pytest.raises(DatasetFormatError, match="not a sample tree"):
        GroundTruth(tmp_path)
    (tmp_path / CONFIG_NAME).write_text("{not json")
    with pytest.raises(DatasetFormatError, match="unreadable"):
        GroundTruth(tmp_path)


def test_mean_image_per_target():
    images = np.stack([np.full((2, 2, 3), v, np.uint8) for v in (0, 10, 255, 1)])
    means = mean_image_per_target(images, ["b", "b", "a", "a"])
    assert list(means) == ["b", "a"]  # first-appearance order
    assert (means["b"] == 5).all() and means["b"].dtype == np.uint8 and means["b"].shape == (2, 2, 3)
    assert (means["a"] == 128).all()  # (255 + 1) / 2
    assert (mean_image_per_target(images[[0, 3]], ["x", "x"])["x"] == 0).all()  # 0.5 rounds half to even
    with pytest.raises(ValueError):
        mean_image_per_target(images, ["a"])
    with pytest.raises(TypeError):
        mean_image_per_target(images.astype(np.float32), ["a"] * 4)
