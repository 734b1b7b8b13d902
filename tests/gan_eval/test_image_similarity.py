"""SSIM and PSNR on hand-worked cases, and SSIM against scikit-image's reference implementation."""
from __future__ import annotations

import math

import numpy as np
import pytest

from augmenter.gan_eval.image_similarity import psnr, ssim


def _random(shape, seed):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _noisy(a, seed, amplitude=40):
    noise = np.random.default_rng(seed).integers(-amplitude, amplitude + 1, a.shape)
    return np.clip(a.astype(int) + noise, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- PSNR


def test_psnr_of_a_known_mse():
    a = np.zeros((16, 16), np.uint8)
    b = a.copy()
    b[0, 0] = 16  # MSE = 16^2 / 256 = 1 -> 10 log10(255^2) = 48.13 dB
    assert psnr(a, b) == pytest.approx(20 * math.log10(255), abs=1e-12)
    assert round(psnr(a, b), 2) == 48.13
    assert psnr(b, a) == psnr(a, b)


def test_psnr_of_a_uniform_error_and_of_colour():
    a = np.full((8, 8, 3), 100, np.uint8)
    assert psnr(a, a + 10) == pytest.approx(10 * math.log10(255 ** 2 / 100))  # MSE 100 -> 28.13 dB
    assert psnr(np.zeros((4, 4)), np.full((4, 4), 255.0)) == pytest.approx(0.0)  # MSE = 255^2
    # uint8 inputs must not wrap around: 0 - 255 is -255, not 1
    assert psnr(np.zeros((4, 4), np.uint8), np.full((4, 4), 255, np.uint8)) == pytest.approx(0.0)


def test_psnr_of_identical_images_is_infinite():
    a = _random((12, 12), 0)
    assert psnr(a, a.copy()) == math.inf


# --------------------------------------------------------------------------- SSIM


def test_ssim_of_identical_images_is_one():
    a = _random((20, 24), 1)
    assert ssim(a, a.copy()) == pytest.approx(1.0, abs=1e-12)
    flat = np.full((16, 16), 77, np.uint8)
    assert ssim(flat, flat) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("shape,seed", [((40, 33), 2), ((11, 11), 3), ((64, 64), 4)])
def test_ssim_matches_scikit_image(shape, seed):
    skimage_metrics = pytest.importorskip("skimage.metrics")
    a = _random(shape, seed)
    for b in (_noisy(a, seed + 10), _random(shape, seed + 20), 255 - a):
        expected = skimage_metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                                         use_sample_covariance=False, data_range=255)
        assert ssim(a, b) == pytest.approx(expected, abs=1e-9)


def test_ssim_of_colour_images_averages_the_channels():
    skimage_metrics = pytest.importorskip("skimage.metrics")
    a, b = _random((24, 30, 3), 5), _noisy(_random((24, 30, 3), 5), 6, amplitude=80)
    per_channel = [ssim(a[..., c], b[..., c]) for c in range(3)]
    assert len(set(per_channel)) == 3  # the channels do differ
    assert ssim(a, b) == pytest.approx(np.mean(per_channel), abs=1e-12)
    expected = skimage_metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
                                                     use_sample_covariance=False, data_range=255, channel_axis=2)
    assert ssim(a, b) == pytest.approx(expected, abs=1e-9)


def test_ssim_orders_by_damage_and_is_symmetric():
    a = _random((32, 32), 7)
    slight, heavy = _noisy(a, 8, amplitude=10), _noisy(a, 8, amplitude=100)
    assert 1.0 > ssim(a, slight) > ssim(a, heavy) > -1.0
    assert ssim(a, heavy) == pytest.approx(ssim(heavy, a), abs=1e-12)
    assert ssim(a, 255 - a) < 0  # an inverted picture is anti-correlated


def test_shape_mismatch_and_small_images_are_value_errors():
    with pytest.raises(ValueError):
        ssim(np.zeros((16, 16)), np.zeros((16, 17)))
    with pytest.raises(ValueError):
        psnr(np.zeros((16, 16)), np.zeros((16, 16, 3)))
    with pytest.raises(ValueError):
        psnr(np.zeros(16), np.zeros(16))  # not an image
    with pytest.raises(ValueError, match="11x11"):
        ssim(np.zeros((10, 16)), np.zeros((10, 16)))
    with pytest.raises(ValueError):
        ssim(np.zeros((16, 10, 3)), np.zeros((16, 10, 3)))
    assert ssim(np.zeros((11, 11)), np.zeros((11, 11))) == pytest.approx(1.0)
