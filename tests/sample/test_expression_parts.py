"""The hand-made facial actions of the emotion recipes move the landmarks they name, the way they say."""
from __future__ import annotations

import numpy as np
import pytest

from augmenter.sample.basis import load_basis
from augmenter.sample.expressions import offset_field
from augmenter.sample.identity import make_identity


@pytest.fixture(scope="module")
def face():
    basis = load_basis()
    neutral = basis.vertices(make_identity(0, 0).shape)
    landmarks = neutral[basis.landmarks]
    nearest = lambda i: int(np.argmin(np.sum((neutral - landmarks[i]) ** 2, axis=1)))  # noqa: E731
    return neutral, landmarks, nearest


def _moved(face, part):
    neutral, landmarks, nearest = face
    field = offset_field(part, neutral, landmarks)
    return lambda i: field[nearest(i)]  # noqa: E731 (x right, y up, z to the camera; mm)


def test_brow_knit_draws_the_inner_brows_together(face):
    move = _moved(face, "brow_knit")
    _, landmarks, _ = face
    assert landmarks[21, 0] < landmarks[22, 0]
    assert move(21)[0] > 1.0 and move(22)[0] < -1.0  # towards each other
    assert move(21)[1] < 0 and move(22)[1] < 0  # and a little down
    assert np.abs(move(17)).max() < 0.5 * np.abs(move(21)).max()  # the outer ends hardly move


def test_inner_brow_raise_lifts_the_inner_ends_only(face):
    move = _moved(face, "inner_brow_raise")
    assert move(21)[1] > 2.0 and move(22)[1] > 2.0
    assert move(17)[1] < 0.5 * move(21)[1] and move(26)[1] < 0.5 * move(22)[1]


def test_corners_down_and_lip_stretch(face):
    down, stretch = _moved(face, "corners_down"), _moved(face, "lip_stretch")
    assert down(48)[1] < -2.5 and down(54)[1] < -2.5
    assert abs(down(48)[0]) < 1.0
    assert stretch(48)[0] < -2.5 and stretch(54)[0] > 2.5  # outwards on both sides
    assert abs(stretch(48)[1]) < abs(stretch(48)[0])
    assert np.abs(down(30)).max() < 0.1  # the nose tip stays


def test_chin_raise_pushes_the_lower_lip_up(face):
    move = _moved(face, "chin_raise")
    assert move(57)[1] > 1.5
    assert np.abs(move(51)).max() < move(57)[1]  # the upper lip follows less


def test_a_recipe_in_place_of_the_emotion_gives_its_flow():
    from augmenter.sample import flows
    from augmenter.sample.expressions import ExpressionRecipe

    other = ExpressionRecipe({6: -2.0}, {"corners_down": 1.0})
    given = flows.mean_expression_flow("sad", size=24, n_identities=1, recipe=other)
    shipped = flows.mean_expression_flow("sad", size=24, n_identities=1)
    assert given.shape == shipped.shape and not np.allclose(given, shipped)
    saved = flows.EMOTION_RECIPES["sad"]
    try:
        flows.EMOTION_RECIPES["sad"] = other
        np.testing.assert_array_equal(flows.mean_expression_flow("sad", size=24, n_identities=1), given)
    finally:
        flows.EMOTION_RECIPES["sad"] = saved
