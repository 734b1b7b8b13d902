"""The public API on the built-in models: shapes, kinds and ranges in and out, grey stays grey, names checked."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from augmenter.api import FaceAugmenter
from augmenter.errors import CheckpointError


@pytest.fixture(scope="module")
def faces() -> FaceAugmenter:
    return FaceAugmenter.load("fields")


def _face(size: int = 112, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = 120 + 80 * np.exp(-((xx - 0.5) ** 2 + (yy - 0.55) ** 2) / 0.08)
    return np.clip(base[..., None] + rng.normal(0, 4, (size, size, 3)), 0, 255).astype(np.uint8)


def test_vocabularies_use_emotion_names_and_light_directions(faces):
    assert set(faces.expressions) == {"neutral", "happy", "surprise", "disgust", "fear", "anger", "sad"}
    assert "az-070_el+00" in faces.lightings


def test_one_colour_face_comes_back_at_its_size_and_kind(faces):
    face = _face()
    for out in (faces.relight(face, "az-070_el+00"), faces.change_expression(face, "happy")):
        assert out.shape == face.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - face.astype(int)).mean() > 0.5  # something changed
    assert faces.change_expression(face, "smile").shape == face.shape  # Multi-PIE's name as an alias


def test_a_grey_batch_stays_grey_and_a_tensor_stays_in_range(faces):
    grey = np.stack([_face(96, s)[..., 0] for s in range(2)])
    out = faces.relight(grey, "az+050_el+00")
    assert out.shape == grey.shape and out.dtype == np.uint8
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    y = faces.change_expression(x, "surprise")
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1


def test_scores_are_q_scores(faces):
    s = faces.score(np.stack([_face(112, s) for s in range(3)]))
    assert s.shape == (3,) and ((0.1 <= s) & (s <= 1.0)).all()


def test_unknown_names_fail_with_the_vocabulary(faces):
    with pytest.raises(CheckpointError, match="happy"):
        faces.change_expression(_face(), "grin")


def test_why_names_what_moved_a_score_and_agrees_with_it(faces):
    photo = _face(112, 5)
    framed = photo.copy()
    framed[:18], framed[-18:], framed[:, :18], framed[:, -18:] = 0, 0, 0, 0  # the aligner's black padding
    ghost = framed.copy()
    ghost[framed.max(-1) == 0] = 45  # a grey frame lifted out of it
    variants, sources = np.stack([framed, ghost]), np.stack([framed, framed])
    q_alone, q = faces.score(variants), faces.score(variants, sources=sources)
    why = faces.why(variants, sources=sources)
    assert why[0] == ""  # the photo beside itself: Q's score stands
    assert q[0] == pytest.approx(q_alone[0], abs=1e-6)
    assert why[1].startswith(f"Q {q_alone[1]:.2f}") and "light from black -0.20" in why[1]
    assert faces.why(ghost, sources=framed) == why[1]  # one face: one string
