"""Mean expression flows from the renderer: shapes, neutral, unknown names, and the sign of a backward flow."""
from __future__ import annotations

import numpy as np
import pytest

from augmenter.sample.flows import EMOTION_RECIPES, mean_expression_flow

SIZE = 32


@pytest.fixture(scope="module")
def happy() -> np.ndarray:
    return mean_expression_flow("happy", size=SIZE, n_identities=1, seed=0)


@pytest.fixture(scope="module")
def surprise() -> np.ndarray:
    return mean_expression_flow("surprise", size=SIZE, n_identities=1, seed=0)


def test_recipes_cover_the_emotions():
    assert set(EMOTION_RECIPES) == {"neutral", "happy", "surprise", "disgust", "anger", "sad", "fear"}


def test_neutral_is_all_zero():
    flow = mean_expression_flow("neutral", size=24, n_identities=3)
    assert flow.shape == (2, 24, 24) and flow.dtype == np.float32
    assert not flow.any()


def test_unknown_expression_is_a_value_error():
    with pytest.raises(ValueError, match="grin"):
        mean_expression_flow("grin", size=SIZE, n_identities=1)
    with pytest.raises(ValueError):
        mean_expression_flow("smile", size=SIZE, n_identities=1)  # a Multi-PIE name, not an emotion


def test_happy_flow_shape_and_values(happy):
    assert happy.shape == (2, SIZE, SIZE) and happy.dtype == np.float32
    assert np.isfinite(happy).all()
    assert np.abs(happy).max() > 0.01  # it moves something, a few hundredths of the image at least
    assert np.abs(happy).max() < 0.5  # in grid units ([-1, 1] spans the image): far less than half of it
    # the corners are outside the face: nothing moves there
    assert np.abs(happy[:, :3, :3]).max() < 1e-3 and np.abs(happy[:, :3, -3:]).max() < 1e-3


def test_the_same_seed_gives_the_same_flow(happy):
    again = mean_expression_flow("happy", size=SIZE, n_identities=1, seed=0)
    np.testing.assert_array_equal(again, happy)


def test_surprise_opens_the_jaw_and_raises_the_brows(surprise):
    """The flow is *backward*: output pixel p takes the source pixel p + flow(p) (grid_sample's convention),
    and image y grows downwards.

    * Surprise drops the jaw: the chin moves *down* in the output, so an output pixel below the neutral chin
      shows chin/mouth content that was *above* it in the source -> flow y < 0 in the lower face.
    * It raises the brows: an output pixel above the neutral brow shows the brow that was *below* it in the
      source -> flow y > 0 in the brow band (the ArcFace template puts the eyes at ~0.46 of the height, the
      brows just above).
    """
    lo, hi = SIZE // 3, SIZE - SIZE // 3  # the centre columns
    chin = surprise[1, int(0.65 * SIZE) + 1:, lo:hi]
    assert chin.mean() < -0.02
    brows = surprise[1, int(0.2 * SIZE):int(0.4 * SIZE), lo:hi]
    assert brows.mean() > 0.02
    # a symmetric expression moves the centre columns vertically much more than sideways
    assert np.abs(surprise[0, int(0.65 * SIZE) + 1:, lo:hi]).mean() < 0.25 * np.abs(chin).mean()


def test_scaled_recipe_scales_geometry_and_eye_opening():
    from augmenter.sample.flows import scaled_recipe

    smile = EMOTION_RECIPES["happy"]
    assert scaled_recipe(smile, 1.0) == smile
    double = scaled_recipe(smile, 2.0)
    assert double.components == {i: 2 * v for i, v in smile.components.items()}
    assert double.offsets == {k: 2 * v for k, v in smile.offsets.items()}
    assert double.eye_open == pytest.approx(1 + 2 * (smile.eye_open - 1))
    assert double.lower_lid == pytest.approx(2 * smile.lower_lid)


def test_eyelids_move_where_the_recipe_says():
    from augmenter.sample.basis import load_basis
    from augmenter.sample.flows import eyelid_offsets
    from augmenter.sample.identity import make_identity

    basis = load_basis()
    neutral = basis.vertices(make_identity(0, 0).shape)
    lm = neutral[basis.landmarks]
    smile = eyelid_offsets(neutral, lm, EMOTION_RECIPES["happy"])   # eyes narrowed, lower lid up
    wide = eyelid_offsets(neutral, lm, EMOTION_RECIPES["surprise"])  # eyes widened
    nearest = lambda i: int(np.argmin(np.sum((neutral - lm[i]) ** 2, axis=1)))  # noqa: E731
    assert smile[nearest(41), 1] > 1.0 and smile[nearest(37), 1] < -0.5
    assert wide[nearest(37), 1] > 1.0 and wide[nearest(37), 1] > wide[nearest(41), 1] + 1.0
    assert not smile[nearest(57)].any()  # the lower lip is far from the eyes
    assert not eyelid_offsets(neutral, lm, EMOTION_RECIPES["neutral"]).any()


def test_mouth_prior_opens_the_mouth_only_where_lips_part():
    from augmenter.sample.flows import MOUTH_RATIOS, mean_expression_mouth

    closed = mean_expression_mouth("neutral", size=64)
    assert closed.shape == (2, 64, 64) and not closed.any()
    smile = mean_expression_mouth("happy", size=64, amplitude=2.3)
    scream = mean_expression_mouth("surprise", size=64, amplitude=1.6)
    for mouth in (smile, scream):
        cover, ratio = mouth
        assert 0 <= cover.min() and cover.max() <= 1 and cover.max() > 0.9
        rows, cols = np.nonzero(cover > 0.5)
        assert rows.min() > 0.7 * 64 and abs(cols.mean() - 32) < 3  # below the nose, centred
        assert ratio[cover == 0].max() == 0
        assert ratio.max() <= MOUTH_RATIOS["teeth"] + 1e-5 and ratio[cover > 0.5].min() >= MOUTH_RATIOS["cavity"] - 0.05
    # a smile shows teeth across the opening, a dropped jaw mostly the dark cavity
    assert smile[1][smile[0] > 0.5].mean() > scream[1][scream[0] > 0.5].mean() + 0.2


def test_face_mask_covers_the_face_not_the_corners():
    from augmenter.sample.flows import mean_face_mask

    m = mean_face_mask(32, n_identities=2)
    assert m.shape == (32, 32) and 0 <= m.min() and m.max() <= 1
    assert m[14:20, 12:20].min() > 0.95  # nose and cheeks
    assert max(m[0, 0], m[0, -1], m[-1, 0], m[-1, -1]) < 0.05


def test_mean_normal_map_faces_the_camera_and_turns_away_at_the_cheeks():
    from augmenter.sample.flows import mean_normal_map

    n = mean_normal_map(32, n_identities=3)
    assert n.shape == (3, 32, 32)
    assert np.allclose(np.linalg.norm(n, axis=0), 1, atol=1e-4)
    assert n[0, 16, 5] < -0.3 and n[0, 16, 26] > 0.3  # image-left cheek points left, right cheek right
    assert n[2, 16, 16] > 0.9  # the face's middle faces the camera
    assert n[1, 8, 16] > n[1, 26, 16]  # the forehead turns up more than the chin
