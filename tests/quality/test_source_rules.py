"""The source rules beside the tear check: detail lost against the source, colour added to a grey face and the
bound by the source's score, their arithmetic, and how a check's checkpoint switches them on."""
from __future__ import annotations

from dataclasses import asdict

import cv2
import numpy as np
import pytest
import torch

from augmenter.checkpoint import save_checkpoint
from augmenter.nets.tear_check import TearCheck, TearCheckConfig
from augmenter.quality.source_rules import (DEFAULT_RULES, SourceRules, bounded_by_source, colour_on_grey,
                                            detail_kept, rule_penalty)
from augmenter.quality.tear_check import check_penalty, judged_against_sources, load_tear_check, tear_check_config
from augmenter.tensors import faces_to_input


def _textured_grey_face(seed: int = 0, size: int = 128) -> np.ndarray:
    """A grey face-sized image with skin-like fine texture on a smooth brightness ramp, ``(S, S, 3)`` uint8."""
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.normal(0, 18, (size, size)).astype(np.float32), (0, 0), 0.6)
    ramp = np.linspace(90, 170, size, dtype=np.float32)[None, :]
    grey = np.clip(ramp + texture, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, 2)


def test_a_face_beside_itself_keeps_all_its_detail_and_gains_no_colour():
    x = faces_to_input(_textured_grey_face()[None])
    assert detail_kept(x, x).item() == pytest.approx(1.0)
    assert colour_on_grey(x, x).item() == 0.0
    assert rule_penalty(x, x, SourceRules()).item() == 0.0


def test_shading_keeps_the_detail_and_softening_loses_it_by_how_much():
    face = _textured_grey_face()
    gain = np.linspace(0.45, 1.3, 128, dtype=np.float32)[:, None, None]  # a smooth light from below
    shaded = np.clip(face * gain, 0, 255).astype(np.uint8)
    soft, softer = (cv2.GaussianBlur(face, (0, 0), s) for s in (0.8, 2.0))
    x = faces_to_input(face[None].repeat(3, 0))
    kept = detail_kept(x, faces_to_input(np.stack([shaded, soft, softer]))).numpy()
    assert kept[0] > 0.9 and kept[0] > kept[1] > kept[2]
    assert kept[2] < SourceRules().detail_full  # clearly soft: the whole penalty
    penalty = rule_penalty(x, faces_to_input(np.stack([shaded, soft, softer])), SourceRules()).numpy()
    assert penalty[0] == 0.0 and penalty[2] == pytest.approx(0.2)


def test_colour_on_a_grey_face_is_charged_and_on_a_colour_face_is_left_to_q():
    grey = _textured_grey_face()
    cast = np.clip(grey * np.array([1.1, 0.95, 0.9]), 0, 255).astype(np.uint8)  # a faint pink cast
    colour_photo = np.clip(grey * np.array([1.0, 0.85, 0.7]), 0, 255).astype(np.uint8)
    sources = faces_to_input(np.stack([grey, colour_photo]))
    variants = faces_to_input(np.stack([cast, cast]))
    colour = colour_on_grey(sources, variants).numpy()
    assert colour[0] > SourceRules().colour_full and colour[1] == 0.0
    assert rule_penalty(sources, variants, SourceRules()).numpy() == pytest.approx([0.2, 0.0])


def test_the_rules_are_linear_between_their_thresholds_and_add_up():
    rules = SourceRules(detail_start=0.9, detail_full=0.3, colour_start=0.0, colour_full=40.0, penalty=0.2)
    face = _textured_grey_face()
    x = faces_to_input(face[None])
    soft = cv2.GaussianBlur(face, (0, 0), 0.5)
    y = faces_to_input(np.clip(soft * np.array([1.05, 1.0, 0.95]), 0, 255).astype(np.uint8)[None])
    kept, colour = detail_kept(x, y).item(), colour_on_grey(x, y).item()
    assert 0.3 < kept < 0.9 and 0 < colour < 40
    expected = 0.2 * (0.9 - kept) / 0.6 + 0.2 * colour / 40.0
    assert rule_penalty(x, y, rules).item() == pytest.approx(expected, rel=1e-4)


def test_the_rules_are_differentiable_in_the_variant():
    face = _textured_grey_face()
    x = faces_to_input(face[None])
    y = faces_to_input(cv2.GaussianBlur(face, (0, 0), 1.0)[None]).requires_grad_(True)
    rule_penalty(x, y, SourceRules(detail_start=1.0, detail_full=0.0)).sum().backward()
    assert y.grad is not None and y.grad.abs().sum().item() > 0


def test_a_checks_checkpoint_switches_its_rules_on_and_an_older_one_has_none(tmp_path):
    torch.manual_seed(0)
    config = TearCheckConfig(image_size=32, width=4)
    net = TearCheck(config)
    with torch.no_grad():  # a network that finds nothing torn: only the rules charge
        net.head[-1].bias.fill_(-20.0)
    with_rules = save_checkpoint(tmp_path / "rules.pt", kind="tear_check", model=net.state_dict(), step=1,
                                 config=tear_check_config(config))
    older = save_checkpoint(tmp_path / "older.pt", kind="tear_check", model=net.state_dict(), step=1,
                            config={"net": asdict(config)})
    face = _textured_grey_face()
    x = faces_to_input(face[None])
    soft = faces_to_input(cv2.GaussianBlur(face, (0, 0), 2.0)[None])
    checked, _ = load_tear_check(with_rules)
    plain, _ = load_tear_check(older)
    assert checked.rules == DEFAULT_RULES and plain.rules is None
    assert check_penalty(checked, x, soft).item() == pytest.approx(0.2, abs=1e-6)
    assert check_penalty(plain, x, soft).item() == pytest.approx(0.0, abs=1e-6)
    q = np.array([0.7])
    assert judged_against_sources(q, checked, x, soft, source_q=np.array([0.8])) == pytest.approx([0.5], abs=1e-6)
    assert judged_against_sources(q, checked, x, soft, source_q=np.array([0.6])) == pytest.approx([0.45], abs=1e-6)
    assert judged_against_sources(q, plain, x, soft) == pytest.approx([0.7])  # an older check has no bound
    assert judged_against_sources(q, None, x, soft) == pytest.approx([0.7])
    with pytest.raises(ValueError, match="source_q"):
        judged_against_sources(q, checked, x, soft)


def test_the_bound_holds_a_variant_to_its_sources_score_plus_the_margin():
    q, source_q = np.array([0.9, 0.5, 0.62]), np.array([0.6, 0.7, 0.6])
    assert bounded_by_source(q, source_q, 0.05) == pytest.approx([0.65, 0.5, 0.62])
    assert bounded_by_source(q, source_q, None) is q
    t = bounded_by_source(torch.tensor(q), torch.tensor(source_q), 0.0)
    assert torch.allclose(t, torch.tensor([0.6, 0.5, 0.6], dtype=torch.float64))


def test_the_quality_loss_earns_nothing_above_the_ceiling():
    from augmenter.losses import quality_loss

    rating = torch.tensor([8.0, 5.0], requires_grad=True)
    loss = quality_loss(rating, ceiling=torch.tensor([6.0, 9.0]))
    assert loss.item() == pytest.approx(((10 - 6) + (10 - 5)) / 2 / 9)
    loss.backward()
    assert rating.grad[0].item() == 0.0 and rating.grad[1].item() < 0  # only the rating below its ceiling is pushed
