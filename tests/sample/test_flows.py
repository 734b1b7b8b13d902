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
