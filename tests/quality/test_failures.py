"""Failure modes of synthesis on aligned faces: graded, seeded, where the template puts the face parts."""
from __future__ import annotations

import numpy as np
import pytest

from augmenter.align import canonical_template
from augmenter.quality.failures import FAILURE_MODES, fail


@pytest.fixture
def face():
    rng = np.random.default_rng(0)
    base = np.full((128, 128, 3), 120, np.uint8)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("mode", FAILURE_MODES)
def test_damage_grows_with_severity_and_zero_is_a_copy(face, mode):
    out0 = fail(face, mode, 0.0, np.random.default_rng(1))
    assert np.array_equal(out0, face) and out0 is not face
    change = [np.abs(fail(face, mode, s, np.random.default_rng(1)).astype(int) - face).mean() for s in (0.2, 0.6, 1.0)]
    assert 0 < change[0] <= change[1] <= change[2]


@pytest.mark.parametrize("mode", FAILURE_MODES)
def test_same_seed_same_failure(face, mode):
    a = fail(face, mode, 0.7, np.random.default_rng(5))
    b = fail(face, mode, 0.7, np.random.default_rng(5))
    assert np.array_equal(a, b) and a.shape == face.shape and a.dtype == np.uint8


def test_teeth_bar_lands_on_the_mouth_and_irises_on_the_eyes(face):
    pts = canonical_template(128)
    bar = np.abs(fail(face, "teeth_bar", 1.0, np.random.default_rng(0)).astype(int) - face).sum(axis=2)
    ys, xs = np.nonzero(bar > 60)
    assert abs(ys.mean() - pts[3:, 1].mean()) < 6 and pts[3, 0] - 2 < xs.mean() < pts[4, 0] + 2
    eyes = fail(face, "painted_irises", 1.0, np.random.default_rng(0))
    for x, y in pts[:2]:
        assert eyes[int(y), int(x), 2] > 200 and eyes[int(y), int(x), 0] < 100     # blue at each eye


def test_a_tint_puts_colour_on_a_grey_face(face):
    grey = np.repeat(face[..., :1], 3, axis=2)
    tinted = fail(grey, "tint", 0.5, np.random.default_rng(2)).astype(int)
    assert np.abs(grey[..., 0].astype(int) - grey[..., 2]).max() == 0
    assert (tinted.max(axis=2) - tinted.min(axis=2)).mean() > 5


def test_unknown_mode_or_bad_severity_is_refused(face):
    with pytest.raises(ValueError, match="unknown failure mode"):
        fail(face, "smudge", 0.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="severity"):
        fail(face, "seam", 1.5, np.random.default_rng(0))
