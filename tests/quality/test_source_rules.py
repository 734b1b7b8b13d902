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
from augmenter.quality.source_rules import (DEFAULT_RULES, SourceRules, bounded_by_source, colour_not_in_photo,
                                            colour_on_grey, colour_patch_on_grey, colours_not_in_photo, detail_kept,
                                            hinge, light_from_black, rule_charges, rule_penalty, texture_in_new_light)
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


def _pink_corner(face: np.ndarray, levels: float) -> np.ndarray:
    """``face`` with a 24 x 40 px band at its top right (background above the face box) moved ``levels`` from
    grey: red up and blue down by that much."""
    out = face.astype(np.float32)
    out[:24, -40:] += np.array([levels, 0.0, -levels], np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def test_a_colour_patch_off_the_face_is_charged_where_the_face_mean_misses_it():
    grey = _textured_grey_face()
    sources = faces_to_input(np.stack([grey, grey]))
    variants = faces_to_input(np.stack([_pink_corner(grey, 6), _pink_corner(grey, 3)]))
    assert colour_on_grey(sources, variants).numpy() == pytest.approx([0.0, 0.0], abs=1e-5)  # outside the box
    patch = colour_patch_on_grey(sources, variants).numpy()
    assert patch[0] == pytest.approx(6.0, abs=0.1) and patch[1] == pytest.approx(3.0, abs=0.1)
    charged = rule_charges(sources, variants, DEFAULT_RULES)["colour"].numpy()
    expected = 0.2 * ((patch - DEFAULT_RULES.patch_start) / (DEFAULT_RULES.patch_full - DEFAULT_RULES.patch_start))
    assert charged == pytest.approx(np.clip(expected, 0, 0.2), abs=1e-4)
    assert charged[0] == pytest.approx(0.2)
    before = SourceRules(**{**asdict(DEFAULT_RULES), "patch_start": None})  # a check saved before the patch rule
    assert rule_charges(sources, variants, before)["colour"].numpy() == pytest.approx([0.0, 0.0], abs=1e-5)


def test_a_grey_photo_as_a_colour_jpeg_and_a_colour_photo_measure_no_added_patch(tmp_path):
    grey = _textured_grey_face()
    cv2.imwrite(str(tmp_path / "grey.jpg"), grey, [cv2.IMWRITE_JPEG_QUALITY, 60])
    copy = cv2.imread(str(tmp_path / "grey.jpg"), cv2.IMREAD_COLOR)
    colour_photo = np.clip(grey * np.array([1.0, 0.85, 0.7]), 0, 255).astype(np.uint8)
    sources = faces_to_input(np.stack([grey, colour_photo]))
    variants = faces_to_input(np.stack([copy[..., ::-1].copy(), _pink_corner(colour_photo, 30)]))
    assert colour_patch_on_grey(sources, variants).numpy() == pytest.approx([0.0, 0.0], abs=0.05)


def _warm_skin(size: int = 128) -> np.ndarray:
    """A smooth warm skin-coloured face-sized image, ``(S, S, 3)`` uint8, brighter to the right."""
    ramp = np.linspace(90, 170, size, dtype=np.float32)[None, :, None]
    return np.clip(np.ones((size, size, 1), np.float32) * ramp * np.array([1.15, 0.95, 0.8]), 0, 255).astype(np.uint8)


def test_a_colour_photo_relit_keeps_its_colour_and_a_cast_or_a_shift_does_not():
    face = _warm_skin()
    relit = np.clip(face * np.linspace(0.5, 1.2, 128, dtype=np.float32)[:, None, None], 0, 255).astype(np.uint8)
    shifted = np.roll(face, 4, axis=1)  # a warp moves colour a few pixels
    pink = np.clip(face.astype(np.float32) + np.array([10.0, 0.0, 10.0]), 0, 255).astype(np.uint8)
    sources = faces_to_input(np.stack([face] * 3))
    measured = colour_not_in_photo(sources, faces_to_input(np.stack([relit, shifted, pink]))).numpy()
    assert measured[0] < 0.5 and measured[1] < 0.5 and measured[2] > DEFAULT_RULES.hue_full
    charged = rule_charges(sources, faces_to_input(np.stack([relit, shifted, pink])), DEFAULT_RULES)
    assert charged["hue"].numpy() == pytest.approx([0.0, 0.0, 0.2])
    assert charged["colour"].numpy() == pytest.approx([0.0, 0.0, 0.0])  # the grey rule leaves colour photos be


def test_above_the_nose_tip_a_faint_cast_is_charged_and_new_content_at_the_mouth_is_not():
    face = _warm_skin()
    faint = face.astype(np.float32)
    faint[:72] += np.array([3.0, 0.0, 3.0])  # a faint pink cast over the upper face only
    mouth = face.astype(np.float32)
    mouth[92:112, 40:88] = np.array([150.0, 40.0, 45.0])  # a red mouth interior painted below the nose tip
    variants = faces_to_input(np.clip(np.stack([faint, mouth]), 0, 255).astype(np.uint8))
    sources = faces_to_input(np.stack([face] * 2))
    whole, upper = colours_not_in_photo(sources, variants)
    assert DEFAULT_RULES.hue_upper_start < upper[0] and whole[0] < DEFAULT_RULES.hue_start  # the upper part sees it
    assert upper[1] < 0.5 < DEFAULT_RULES.hue_start < whole[1]  # the mouth: the whole-image part as before
    assert torch.equal(whole, colour_not_in_photo(sources, variants))
    charged = rule_charges(sources, variants, DEFAULT_RULES)["hue"].numpy()
    assert charged[0] > 0
    assert charged[1] == pytest.approx(float(0.2 * hinge(whole[1], DEFAULT_RULES.hue_start, DEFAULT_RULES.hue_full)))
    before = SourceRules(**{**asdict(DEFAULT_RULES), "hue_upper_start": None})  # a check saved before the upper part
    assert rule_charges(sources, variants, before)["hue"][0] == 0


def test_grain_or_a_pattern_the_photo_lacks_is_charged_and_a_relight_a_warp_or_a_jpeg_copy_is_not():
    face = np.clip(_textured_grey_face() * np.array([1.15, 0.95, 0.8]), 0, 255).astype(np.uint8)  # skin with texture
    relit = np.clip(face * np.linspace(0.5, 1.2, 128, dtype=np.float32)[:, None, None], 0, 255).astype(np.uint8)
    shifted = np.roll(face, 4, axis=1)
    jpeg = cv2.imdecode(cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 75])[1], cv2.IMREAD_COLOR)
    noisy = np.clip(face + np.random.default_rng(0).normal(0, 30, face.shape), 0, 255).astype(np.uint8)
    checker = np.clip(face + 20.0 * (np.indices((128, 128)).sum(0) % 2 * 2 - 1)[..., None], 0, 255).astype(np.uint8)
    variants = faces_to_input(np.stack([relit, shifted, jpeg, noisy, checker]))
    sources = faces_to_input(np.stack([face] * 5))
    kept = detail_kept(sources, variants).numpy()
    assert kept[:3].max() < DEFAULT_RULES.grain_start < DEFAULT_RULES.grain_full < kept[3:].min()
    charged = rule_charges(sources, variants, DEFAULT_RULES)
    assert charged["grain"].numpy() == pytest.approx([0.0, 0.0, 0.0, 0.2, 0.2])
    assert charged["soft"].numpy() == pytest.approx([0.0] * 5)
    before = SourceRules(**{**asdict(DEFAULT_RULES), "grain_start": None})  # a check saved before the rule
    assert "grain" not in rule_charges(sources, variants, before)


def test_colour_not_in_photo_leaves_grey_photos_rolled_off_highlights_and_black_alone():
    grey = _textured_grey_face()
    tinted = np.clip(grey * np.array([1.1, 0.95, 0.9]), 0, 255).astype(np.uint8)
    face = _warm_skin()
    blown = np.clip(face.astype(np.float32) * 1.8, 0, 255).astype(np.uint8)  # red clips first: a yellower highlight
    dark = (face * 0.02).astype(np.uint8)  # a photo in the dark: its colour is unknown
    lifted = np.clip(dark.astype(np.float32) + np.array([0.0, 4.0, 0.0]), 0, 255).astype(np.uint8)
    sources = faces_to_input(np.stack([grey, face, dark]))
    measured = colour_not_in_photo(sources, faces_to_input(np.stack([tinted, blown, lifted]))).numpy()
    assert measured == pytest.approx([0.0, 0.0, 0.0], abs=0.5)
    before = SourceRules(**{**asdict(DEFAULT_RULES), "hue_start": None})  # a check saved before the rule
    assert "hue" not in rule_charges(sources, sources, before)


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


def _framed(face: np.ndarray, border: int = 24) -> np.ndarray:
    """``face`` inside a black frame ``border`` px wide, as the aligner pads a photo that ends inside the crop."""
    out = np.zeros_like(face)
    out[border:-border, border:-border] = face[border:-border, border:-border]
    return out


def test_light_brought_out_of_black_is_measured_and_shading_or_a_small_warp_is_not():
    source = _framed(_textured_grey_face())
    ghost = source.copy()
    ghost[source.max(-1) == 0] = 40  # a grey frame lifted out of the black padding
    shaded = np.clip(source * np.linspace(0.5, 1.4, 128, dtype=np.float32)[None, :, None], 0, 255).astype(np.uint8)
    jaw = np.roll(source, 5, axis=0)  # content moved 5 px down into the padding, as a dropped jaw moves the chin
    x = faces_to_input(source[None].repeat(4, 0))
    lift = light_from_black(x, faces_to_input(np.stack([source, ghost, shaded, jaw]))).numpy()
    assert lift[0] == 0.0 and lift[2] == 0.0
    assert 30 < lift[1] <= 40  # the frame's lift, less the blur at its inner edge
    assert lift[3] < DEFAULT_RULES.black_start
    variants = faces_to_input(np.stack([source, ghost, shaded, jaw]))
    black_only = SourceRules(black_start=DEFAULT_RULES.black_start)
    assert rule_penalty(x, variants, black_only).numpy() == pytest.approx([0.0, 0.2, 0.0, 0.0], abs=1e-6)
    # with every default rule the flat grey frame is also new light without texture: charged once more
    assert rule_penalty(x, variants, DEFAULT_RULES).numpy()[[0, 2, 3]] == pytest.approx([0.0] * 3, abs=1e-6)


def test_light_from_black_is_off_in_rules_saved_before_it():
    source = _framed(_textured_grey_face())
    ghost = source.copy()
    ghost[source.max(-1) == 0] = 40
    rules = SourceRules(source_margin=0.05)  # what a check saved before the rule carries
    assert rules.black_start is None
    assert rule_penalty(faces_to_input(source[None]), faces_to_input(ghost[None]), rules).item() == 0.0


def test_light_from_black_on_a_photo_without_black_is_about_nothing():
    face = _textured_grey_face()
    brighter = np.clip(face.astype(np.float32) + 60, 0, 255).astype(np.uint8)
    assert light_from_black(faces_to_input(face[None]), faces_to_input(brighter[None])).item() == 0.0


def test_new_light_keeps_the_shadows_texture_and_a_painted_glow_has_none():
    face = _textured_grey_face().astype(np.float32)
    shade = 0.15 + 0.85 / (1 + np.exp(-(np.arange(128, dtype=np.float32) - 64) / 4))  # the left half in shadow
    source = np.clip(face * shade[None, :, None], 0, 255).astype(np.uint8)
    relit = face.astype(np.uint8)  # the shadow lifted by a smooth gain: the source's texture, brighter
    glow = relit.copy()
    glow[:, :64] = cv2.GaussianBlur(relit, (0, 0), 6)[:, :64]  # the shadow painted over with smooth light
    x = faces_to_input(source[None].repeat(3, 0))
    y = faces_to_input(np.stack([source, relit, glow]))
    kept = texture_in_new_light(x, y).numpy()
    assert kept[0] == 1.0  # nothing newly lit
    assert kept[1] > 0.8 and kept[2] < DEFAULT_RULES.texture_full
    with_rule = rule_penalty(x, y, DEFAULT_RULES).numpy()
    older = rule_penalty(x, y, SourceRules()).numpy()  # rules saved before it: the rule is off
    assert with_rule[:2] == pytest.approx([0.0, 0.0], abs=1e-6)
    assert with_rule[2] - older[2] == pytest.approx(0.2, abs=1e-6)  # the glow's whole penalty, on top of the blur's


def test_the_rules_are_differentiable_in_the_variant():
    face = _textured_grey_face()
    x = faces_to_input(face[None])
    y = faces_to_input(cv2.GaussianBlur(face, (0, 0), 1.0)[None]).requires_grad_(True)
    rule_penalty(x, y, SourceRules(detail_start=1.0, detail_full=0.0)).sum().backward()
    assert y.grad is not None and y.grad.abs().sum().item() > 0
    framed = faces_to_input(_framed(face)[None])
    lifted = (framed + 0.2).requires_grad_(True)
    light_from_black(framed, lifted).sum().backward()
    assert lifted.grad.abs().sum().item() > 0


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
    assert check_penalty(checked, x, soft, rules=False).item() == pytest.approx(0.0, abs=1e-6)  # the network alone
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


def test_the_rules_keep_their_gradient_after_a_judgement_in_inference_mode():
    face = _textured_grey_face(seed=3, size=96)  # a size no other test uses: its blur matrices are built here
    x = faces_to_input(face[None])
    with torch.inference_mode():
        rule_penalty(x, x, DEFAULT_RULES)  # as augment expand judges, caching what the blurs need
    y = faces_to_input(cv2.GaussianBlur(face, (0, 0), 1.0)[None]).requires_grad_(True)
    rule_penalty(x, y, SourceRules(detail_start=1.0, detail_full=0.0)).sum().backward()  # as the GAN trainer does
    assert y.grad.abs().sum().item() > 0


def test_the_fast_neighbourhood_maximum_equals_a_square_max_pool():
    from torch.nn import functional as F

    from augmenter.quality.source_rules import _max_nearby

    x = torch.rand(2, 1, 37, 53, generator=torch.Generator().manual_seed(0))
    for reach in (1, 3, 8, 20):
        assert torch.equal(_max_nearby(x, reach), F.max_pool2d(x, 2 * reach + 1, stride=1, padding=reach))
