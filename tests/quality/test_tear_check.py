"""The tear check: checkpoint round trip, the penalty arithmetic, resumable training, and the built-in check on a
real photo it never saw (whole beside itself and beside the default generator's relight; torn beside a seam)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from augmenter.checkpoint import load_checkpoint, save_checkpoint
from augmenter.errors import CheckpointError
from augmenter.nets.tear_check import TearCheck, TearCheckConfig
from augmenter.quality import tear_check as tc
from augmenter.quality.tear_check import (DEFAULT_TEAR_CHECK, check_charges, load_tear_check, tear_check_config,
                                          tear_probability, with_tear_penalty)


def test_the_penalty_starts_at_even_odds_reaches_two_rating_points_and_never_goes_below_the_lowest_score():
    q, p = np.array([0.7, 0.7, 0.7, 0.7, 0.2]), np.array([0.0, 0.5, 0.75, 1.0, 1.0])
    assert np.allclose(with_tear_penalty(q, p), [0.7, 0.7, 0.6, 0.5, 0.1])
    assert np.allclose(with_tear_penalty(q, p, threshold=0.0), [0.7, 0.6, 0.55, 0.5, 0.1])
    assert np.allclose(with_tear_penalty(q, p, penalty=0.1), [0.7, 0.7, 0.65, 0.6, 0.1])


def test_a_saved_check_loads_with_its_ema_weights_and_none_means_no_check(tmp_path):
    torch.manual_seed(0)
    config = TearCheckConfig(image_size=32, width=4)
    net, ema = TearCheck(config), TearCheck(config)
    path = save_checkpoint(tmp_path / "check.pt", kind="tear_check", model=net.state_dict(), ema=ema.state_dict(),
                           step=3, config=tear_check_config(config))
    loaded, where = load_tear_check(path)
    x, y = torch.rand(2, 3, 48, 48) * 2 - 1, torch.rand(2, 3, 48, 48) * 2 - 1
    small = lambda t: torch.nn.functional.interpolate(t, size=(32, 32), mode="bilinear", antialias=True)  # noqa: E731
    with torch.no_grad():
        assert torch.allclose(tear_probability(loaded, x, y), torch.sigmoid(ema(small(x), small(y))), atol=1e-6)
    assert where == path and load_tear_check("none") == (None, None)


def test_a_wrong_or_missing_check_is_one_line_naming_the_file(tmp_path, monkeypatch):
    other = save_checkpoint(tmp_path / "q.pt", kind="q", model={}, config={})
    with pytest.raises(CheckpointError, match="q.pt"):
        load_tear_check(other)
    with pytest.raises(CheckpointError, match="config does not describe a tear check"):
        load_tear_check(save_checkpoint(tmp_path / "bad.pt", kind="tear_check", model={}, config={"net": {"depth": 3}}))
    monkeypatch.setattr(tc, "DEFAULT_TEAR_CHECK", tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="augment-train-tear-check"):
        tc.load_tear_check(None)


def test_training_resumed_from_its_checkpoint_ends_as_an_uninterrupted_run(tmp_path):
    from pipelines.default_q import tear_check as pipeline

    config = TearCheckConfig(image_size=32, width=4)
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    variants = np.clip(faces.astype(int) + 20, 0, 255).astype(np.uint8)
    whole = pipeline.train(faces, variants, tmp_path / "whole.pt", steps=4, batch=2, config=config, log=lambda _: None)
    part = tmp_path / "part.pt"
    pipeline.train(faces, variants, part, steps=2, batch=2, config=config, log=lambda _: None)
    assert load_checkpoint(part).step == 2
    pipeline.train(faces, variants, part, steps=4, batch=2, config=config, log=lambda _: None)
    a, b = load_checkpoint(whole), load_checkpoint(part)
    assert b.step == 4 and b.optimizer and b.config["net"] == {"image_size": 32, "width": 4}
    assert all(torch.equal(a.ema[k], b.ema[k]) for k in a.ema)
    assert all(torch.equal(a.model[k], b.model[k]) for k in a.model)


def test_batches_hold_whole_and_torn_pairs_of_the_same_photos():
    from pipelines.default_q.tear_check import batch_pairs

    rng = np.random.default_rng(1)
    faces = rng.integers(40, 200, (5, 128, 128, 3), dtype=np.uint8)
    source, variant, labels = batch_pairs(faces, faces.copy(), np.random.default_rng(2), 4)
    assert source.shape == variant.shape == (8, 3, 128, 128) and labels.tolist() == [0] * 4 + [1] * 4
    assert torch.equal(source[:4], source[4:]) and not torch.equal(variant[:4], variant[4:])


@pytest.fixture(scope="module")
def aligned_photo():
    skimage_data = pytest.importorskip("skimage.data")
    from augmenter.align import FaceAligner

    return FaceAligner(image_size=128).align_image(skimage_data.astronaut()).crop


@pytest.mark.skipif(not DEFAULT_TEAR_CHECK.is_file(), reason="the built-in tear check is not built")
def test_the_built_in_check_finds_seams_and_leaves_a_photo_and_its_relights_whole(aligned_photo):
    from augmenter.api import FaceAugmenter
    from augmenter.quality.failures import fail
    from augmenter.tensors import to_model_input

    faces = FaceAugmenter.load("fields", tear_check=None)
    photo = np.stack([aligned_photo] * 4)
    relit = np.stack([faces.relight(aligned_photo, light) for light in ("az+050_el+00", "az-070_el+00")])
    seamed = np.stack([fail(aligned_photo, "seam", 0.6, np.random.default_rng(k)) for k in range(4)])
    as_input = lambda a: to_model_input(torch.from_numpy(a).permute(0, 3, 1, 2))  # noqa: E731
    p_whole = tear_probability(faces.tear_check, as_input(photo[:3]), as_input(np.concatenate([photo[:1], relit])))
    p_seam = tear_probability(faces.tear_check, as_input(photo), as_input(seamed))
    assert bool((p_whole < 0.5).all()) and bool((p_seam > 0.5).all()), (p_whole, p_seam)
    q_alone, q_checked = faces.score(seamed), faces.score(seamed, sources=photo)
    # the seam's penalty, and what the rules charge besides (a colour photo's seam also moves colour: the hue rule)
    rules = sum(v for k, v in check_charges(faces.tear_check, as_input(photo), as_input(seamed)).items() if k != "seam")
    expected = np.maximum(with_tear_penalty(q_alone, p_seam.numpy()) - rules.numpy(), 0.1)
    assert np.allclose(q_checked, expected, atol=1e-5)
    assert bool((q_checked < q_alone).all())
    assert np.allclose(faces.score(photo[:1], sources=photo[:1]), faces.score(photo[:1]), atol=1e-6)


@pytest.mark.skipif(not DEFAULT_TEAR_CHECK.is_file(), reason="the built-in tear check is not built")
def test_the_built_in_check_charges_colour_on_a_grey_photo_softening_and_beating_the_photo_but_not_relights(
        aligned_photo):
    import cv2

    from augmenter.api import FaceAugmenter

    faces = FaceAugmenter.load("fields", tear_check=None)
    assert faces.tear_check.rules is not None
    grey = np.repeat(cv2.cvtColor(aligned_photo, cv2.COLOR_RGB2GRAY)[..., None], 3, 2)
    relit = np.stack([faces.relight(grey, light) for light in ("az+050_el+00", "az-070_el+00", "az+000_el+45")])
    sources = np.stack([grey] * 3)
    # left as Q scores them, but for the bound: none above its photo's score + 0.05
    bound = faces.score(sources) + faces.tear_check.rules.source_margin
    assert np.allclose(faces.score(relit, sources=sources), np.minimum(faces.score(relit), bound), atol=1e-6)
    cast = np.clip(grey * np.array([1.08, 1.0, 0.92]), 0, 255).astype(np.uint8)  # a faint pink cast
    soft = cv2.GaussianBlur(grey, (0, 0), 2.0)
    corner = grey.astype(np.float32)
    corner[:24, -48:] += np.array([5.0, 0.0, -5.0], np.float32)  # a pink patch off the face, 5 levels from grey
    patch = np.clip(corner, 0, 255).astype(np.uint8)
    damaged = np.stack([cast, soft, patch])
    assert bool((faces.score(damaged, sources=sources) <= faces.score(damaged) - 0.15).all())


def test_the_training_command_without_a_pool_says_what_to_run_first(tmp_path):
    from click.testing import CliRunner

    from pipelines.cli import train_tear_check

    result = CliRunner().invoke(train_tear_check, ["--pool", str(tmp_path / "pool"), "--out", str(tmp_path / "c.pt")])
    assert result.exit_code == 1 and "ratings.csv" in result.output and "augment-train-default-q" in result.output
    assert not (tmp_path / "c.pt").exists()


@pytest.mark.skipif(not DEFAULT_TEAR_CHECK.is_file(), reason="the built-in tear check is not built")
def test_the_built_in_check_charges_light_brought_out_of_the_photos_black_padding(aligned_photo):
    from augmenter.api import FaceAugmenter
    from augmenter.quality.source_rules import DEFAULT_RULES

    faces = FaceAugmenter.load("fields", tear_check=None)
    assert faces.tear_check.rules == DEFAULT_RULES  # the built-in checkpoint carries today's rules
    framed = aligned_photo.copy()
    framed[:20], framed[-20:], framed[:, :20], framed[:, -20:] = 0, 0, 0, 0  # the aligner's black padding
    ghost = framed.copy()
    ghost[framed.max(-1) == 0] = 45  # a grey frame lifted out of it
    relit = faces.relight(framed, "az+050_el+00")
    sources = np.stack([framed, framed])
    variants = np.stack([ghost, relit])
    q_alone, q_checked = faces.score(variants), faces.score(variants, sources=sources)
    assert q_checked[0] <= q_alone[0] - 0.15
    bound = faces.score(framed[None])[0] + DEFAULT_RULES.source_margin
    assert q_checked[1] == pytest.approx(min(q_alone[1], bound), abs=1e-6)  # the relight keeps its black
