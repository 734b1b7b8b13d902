"""The two colour measurements: Q on photos from another camera (colour, grey, grey through smaller sizes) and the
field generator's pasted mouth on colour photos, grey as before or in the skin's hue."""
from __future__ import annotations

import numpy as np
import pytest

from pipelines.default_q.other_camera import SIDES, as_grey, other_camera_figures, through


def _colour_faces(n: int = 3, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.integers(60, 200, (n, size, size, 1)).astype(np.float32)
    return np.clip(base * np.array([1.1, 0.9, 0.75]), 0, 255).astype(np.uint8)


def test_grey_copies_are_luma_in_three_channels_and_smaller_sources_keep_the_size():
    faces = _colour_faces()
    grey = as_grey(faces)
    assert grey.shape == faces.shape and (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    expected = np.round(faces.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    assert np.array_equal(grey[..., 0], expected.astype(np.uint8))
    small = through(grey, 16)
    assert small.shape == grey.shape and np.abs(small.astype(int) - grey.astype(int)).mean() > 1  # detail lost


def test_other_camera_figures_score_every_set_and_count_the_share():
    faces = _colour_faces()
    seen = []

    def score(images):  # the mean red-minus-blue: colour scores above grey
        seen.append(images.shape)
        return (images[..., 0].astype(float) - images[..., 2]).mean((1, 2)) / 100 + 0.5

    figures = other_camera_figures(score, faces)
    assert list(figures) == ["colour", "grey"] + [f"grey via {s} px" for s in SIDES]
    assert figures["colour"]["share_at_q_min"] == 1.0 and figures["grey"]["share_at_q_min"] == 0.0
    assert figures["grey"]["median"] == pytest.approx(0.5)
    assert all(shape == faces.shape for shape in seen)


@pytest.fixture(scope="module")
def astronaut():
    """scikit-image's astronaut (a colour portrait), aligned at 128 px."""
    skimage_data = pytest.importorskip("skimage.data")
    from augmenter.align import FaceAligner

    return FaceAligner(image_size=128).align_image(skimage_data.astronaut()).crop


def test_the_grey_content_copy_paints_a_grey_mouth_where_the_default_paints_the_skins_hue(astronaut):
    from augmenter.api import FaceAugmenter
    from pipelines.default_generator.colour_photos import with_grey_content

    aug = FaceAugmenter.load("fields", tear_check="none")
    before = with_grey_content(aug)
    assert aug.translator.generator.config.content_in_skin_hue  # the original is untouched
    assert not before.translator.generator.config.content_in_skin_hue
    face = astronaut
    mouth = (slice(88, 112), slice(44, 84))  # the template's mouth in a 128 px crop
    grey_edit, hued_edit = (a.change_expression(face, "surprise") for a in (before, aug))
    spread = lambda image: (image[mouth].astype(int).max(-1) - image[mouth].astype(int).min(-1)).mean()  # noqa: E731
    assert spread(hued_edit) > spread(grey_edit) + 1  # the pasted mouth takes the skin's colour
    outside = (slice(0, 60), slice(None))
    # far from the mouth they agree to a grey level (the learned content's faint blend everywhere takes the hue)
    assert np.abs(grey_edit[outside].astype(int) - hued_edit[outside]).max() <= 1


def test_the_default_generators_variants_of_a_grey_photo_add_no_colour_for_the_patch_rule_to_charge(astronaut):
    from augmenter.api import FaceAugmenter
    from augmenter.quality.source_rules import colour_patch_on_grey, colour_on_grey
    from augmenter.tensors import faces_to_input

    aug = FaceAugmenter.load("fields", tear_check="none")
    grey = as_grey(astronaut[None])
    variants = [aug.relight(grey, light) for light in ("az-070_el+00", "az+050_el+00", "az+000_el+45")]
    variants += [aug.change_expression(grey, e) for e in ("happy", "surprise", "disgust", "fear")]
    sources, edits = faces_to_input(np.concatenate([grey] * len(variants))), faces_to_input(np.concatenate(variants))
    assert colour_patch_on_grey(sources, edits).abs().max().item() == 0.0
    assert colour_on_grey(sources, edits).abs().max().item() == 0.0


def test_the_grain_rule_leaves_the_default_generators_variants_and_only_ever_adds_to_the_failure_figures(astronaut):
    from pathlib import Path

    from augmenter.api import FaceAugmenter
    from augmenter.quality.source_rules import DEFAULT_RULES, detail_kept
    from augmenter.tensors import faces_to_input
    from pipelines.default_q.other_camera import LATER_RULES, failure_figures

    aug = FaceAugmenter.load("fields", tear_check="none")
    face = astronaut[None]
    variants = np.concatenate([aug.relight(face, light) for light in ("az-070_el+00", "az+000_el+45")]
                              + [aug.change_expression(face, e) for e in ("happy", "surprise")])
    kept = detail_kept(faces_to_input(np.concatenate([face] * len(variants))), faces_to_input(variants))
    assert kept.max().item() < DEFAULT_RULES.grain_start
    cells = failure_figures([Path("astronaut.png")], face)
    assert {"noise@0.3", "checkerboard@0.3", "ghosting@1.0"} <= set(cells)
    for shares in cells.values():
        assert list(shares) == ["check", *(f"without {rule}" for rule in LATER_RULES), "without any"]
        assert all(shares["check"] >= shares[name] >= shares["without any"] for name in shares if name != "check")
