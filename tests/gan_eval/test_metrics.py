"""GAN evaluation metrics against hand-checked values: FID, KID, L1, cosine, target accuracies."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from augmenter.gan_eval.metrics import (
    LIGHTING_NEIGHBOURS, cosine_similarity_rows, feature_stats, frechet_distance, frechet_distance_from_stats,
    kernel_distance, l1_error, lighting_neighbours, target_accuracy, within_one_accuracy,
)


def whitened(n: int, d: int, seed: int) -> np.ndarray:
    """``(n, d)`` samples whose empirical mean is exactly 0 and covariance (ddof=1) exactly I."""
    z = np.random.default_rng(seed).normal(size=(n, d))
    z -= z.mean(axis=0)
    chol = np.linalg.cholesky(np.atleast_2d(np.cov(z, rowvar=False)))
    return z @ np.linalg.inv(chol).T


# ------------------------------------------------------------------------------------------ FID


def test_fid_of_identical_sets_is_zero():
    x = np.random.default_rng(0).normal(size=(500, 8)) @ np.random.default_rng(1).normal(size=(8, 8))
    assert abs(frechet_distance(x, x)) < 1e-6
    assert abs(frechet_distance(x, x[::-1].copy())) < 1e-6  # order does not matter


def test_fid_one_dimensional_closed_form():
    # D = 1: FID = (mu_a - mu_b)^2 + (s_a - s_b)^2, s the ddof=1 standard deviations
    a = 1.5 + 2.0 * whitened(400, 1, 0)
    b = -0.5 + 0.5 * whitened(300, 1, 1)
    assert np.isclose(a.std(ddof=1), 2.0) and np.isclose(b.mean(), -0.5)
    assert frechet_distance(a, b) == pytest.approx(2.0 ** 2 + 1.5 ** 2, abs=1e-9)
    # two points each: {0, 2} and {3, 5} have the same spread, means 3 apart
    assert frechet_distance([0.0, 2.0], [3.0, 5.0]) == pytest.approx(9.0, abs=1e-12)


def test_fid_diagonal_covariances_closed_form():
    sd_a, sd_b = np.array([1.0, 2.0, 0.5, 3.0]), np.array([2.0, 2.0, 1.5, 1.0])
    mu_a, mu_b = np.array([0.0, 1.0, -1.0, 2.0]), np.array([1.0, 1.0, 1.0, 0.0])
    a = mu_a + whitened(600, 4, 2) * sd_a
    b = mu_b + whitened(500, 4, 3) * sd_b
    expected = ((mu_a - mu_b) ** 2).sum() + ((sd_a - sd_b) ** 2).sum()  # 9 + 6 = 15
    assert expected == 15.0
    assert frechet_distance(a, b) == pytest.approx(expected, abs=1e-8)


def test_fid_symmetric_and_matches_the_eigenvalue_form():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(250, 6)) @ rng.normal(size=(6, 6)) + 0.3
    ab, ba = frechet_distance(a, b), frechet_distance(b, a)
    assert ab == pytest.approx(ba, rel=1e-9) and ab > 0
    (mu_a, s_a), (mu_b, s_b) = feature_stats(a), feature_stats(b)
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(w)) @ v.T
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ s_b @ root_a), 0, None)).sum()
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * tr_covmean
    assert ab == pytest.approx(expected, rel=1e-9)
    assert frechet_distance_from_stats(mu_a, s_a, mu_b, s_b) == pytest.approx(ab, rel=1e-12)


def test_fid_singular_covariances_fall_back_to_eps_quietly():
    x = np.random.default_rng(5).normal(size=(6, 16))  # N < D: rank-deficient covariance
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = frechet_distance(x, x)
        other = frechet_distance(x, x + 1.0)
    assert math.isfinite(value) and abs(value) < 1e-3
    assert other == pytest.approx(16.0, abs=1e-3)  # same covariance, means 1 apart in 16 dims


def test_fid_adds_eps_when_the_square_root_fails(monkeypatch):
    from augmenter.gan_eval import metrics

    real_sqrtm, seen = metrics.linalg.sqrtm, []

    def flaky(m):
        seen.append(m.copy())
        return np.full_like(m, np.nan) if len(seen) == 1 else real_sqrtm(m)

    monkeypatch.setattr(metrics.linalg, "sqrtm", flaky)
    x = whitened(50, 2, 8)  # covariance exactly I
    value = frechet_distance(x, x + [3.0, 0.0], eps=1e-3)
    assert len(seen) == 2
    np.testing.assert_allclose(seen[1], (1 + 1e-3) ** 2 * np.eye(2), atol=1e-12)
    assert value == pytest.approx(9.0 + 2 + 2 - 2 * 2 * (1 + 1e-3), abs=1e-9)


def test_fid_bad_input():
    x = np.zeros((10, 3))
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance(x, np.zeros((10, 4)))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(x[:1], x)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(bad, x)
    with pytest.raises(ValueError, match="imaginary"):  # a covariance with a negative eigenvalue
        frechet_distance_from_stats([0, 0], np.diag([1.0, -1.0]), [0, 0], np.eye(2))


# ------------------------------------------------------------------------------------------ KID


def test_kid_hand_value_one_dimensional():
    # k(a, b) = (a b + 1)^3. Kxx off-diagonal: 2 * k(0,1) = 2; Kyy: 2 * k(1,2) = 54;
    # Kxy: k(0,1) + k(0,2) + k(1,1) + k(1,2) = 1 + 1 + 8 + 27 = 37 -> (2 + 54) / 2 - 2 * 37 / 4 = 9.5
    mean, std = kernel_distance([[0.0], [1.0]], [[1.0], [2.0]], subsets=3)
    assert mean == pytest.approx(9.5, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_kid_matches_a_loop_implementation_of_the_unbiased_estimate():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3)) + 0.5
    m = 5  # subset size capped at min(N, M); with subset_size >= 5 every y row is used
    # with m = M all of y is used, x rows vary: check against torch-fidelity's subset drawing
    state = np.random.RandomState(11)
    xi, yi = state.choice(7, m, replace=False), state.choice(5, m, replace=False)
    xs, ys = x[xi], y[yi]
    k = lambda a, b: (a @ b / 3 + 1) ** 3  # noqa: E731
    xx = sum(k(xs[i], xs[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(ys[i], ys[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(xs[i], ys[j]) for i in range(m) for j in range(m))
    expected = (xx + yy) / (m * (m - 1)) - 2 * xy / m ** 2
    mean, std = kernel_distance(x, y, subsets=1, subset_size=100, seed=11)
    assert mean == pytest.approx(expected, rel=1e-12) and std == 0.0


def test_kid_identical_near_zero_shifted_positive_and_seeded():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, 8))
    same, _ = kernel_distance(x, x, subsets=10, subset_size=200)
    shifted, _ = kernel_distance(x, x + 1.0, subsets=10, subset_size=200)
    assert abs(same) < 0.1 and shifted > 1.0 and shifted > 50 * abs(same)
    assert kernel_distance(x, x + 1.0, subsets=4, subset_size=100, seed=3) == \
        kernel_distance(x, x + 1.0, subsets=4, subset_size=100, seed=3)
    assert kernel_distance(x, x + 1.0, subsets=4, subset_size=100, seed=3) != \
        kernel_distance(x, x + 1.0, subsets=4, subset_size=100, seed=4)
    with pytest.raises(ValueError):
        kernel_distance(x, x, subsets=0)
    with pytest.raises(ValueError, match="dimensions differ"):
        kernel_distance(x, x[:, :4])


# ------------------------------------------------------------------------------------------ per image


def test_l1_error_hand_made_images():
    black = np.zeros((2, 2, 3), np.uint8)
    one = black.copy()
    one[0, 0, 0] = 255
    assert l1_error(black, one) == pytest.approx(1 / 12)
    assert l1_error(np.full((4, 4, 3), 51, np.uint8), black.repeat(2, 0).repeat(2, 1)) == pytest.approx(0.2)
    assert l1_error(np.full((3,), 10, np.uint8), np.full((3,), 250, np.uint8)) == pytest.approx(240 / 255)  # no wrap
    assert l1_error(black, black) == 0.0
    assert math.isnan(l1_error(np.zeros((0, 2, 3), np.uint8), np.zeros((0, 2, 3), np.uint8)))
    with pytest.raises(TypeError):
        l1_error(black.astype(np.float32), black)
    with pytest.raises(ValueError):
        l1_error(black, np.zeros((2, 3, 3), np.uint8))


def test_cosine_similarity_rows():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [3.0, 4.0]])
    b = np.array([[0.0, 1.0], [2.0, 2.0], [1.0, 0.0], [-3.0, -4.0]])
    np.testing.assert_allclose(cosine_similarity_rows(a, b), [0.0, 1.0, 0.0, -1.0], atol=1e-12)
    with pytest.raises(ValueError):
        cosine_similarity_rows(a, b[:2])


# ------------------------------------------------------------------------------------------ targets


def test_target_accuracy():
    assert target_accuracy([0, 1, 2, 3], np.array([0, 1, 0, 3])) == 0.75
    assert math.isnan(target_accuracy([], []))
    with pytest.raises(ValueError):
        target_accuracy([0, 1], [0])


def test_lighting_neighbours_are_the_nearest_flashes():
    assert LIGHTING_NEIGHBOURS["ambient"] == frozenset()
    assert LIGHTING_NEIGHBOURS["flash01"] == {"flash02"}            # the end of the row
    assert LIGHTING_NEIGHBOURS["flash07"] == {"flash06", "flash08"}  # a tie: both 15 deg away
    assert LIGHTING_NEIGHBOURS["flash13"] == {"flash12"}
    assert LIGHTING_NEIGHBOURS["flash14"] == {"flash15"}            # 24.5 deg; flash03 below is 35
    assert LIGHTING_NEIGHBOURS["flash18"] == {"flash17"}
    assert lighting_neighbours("x") == frozenset()


def test_within_one_accuracy_hand_example():
    targets = ["flash07", "flash07", "flash07", "flash07", "ambient", "ambient", "flash01", "flash01", "flash14"]
    preds = ["flash06", "flash08", "flash09", "ambient", "flash01", "ambient", "flash02", "flash03", "flash15"]
    #          hit        hit        miss       miss       miss       hit        hit        miss       hit
    assert within_one_accuracy(preds, targets) == pytest.approx(5 / 9)
    assert within_one_accuracy(["flash07"], ["flash07"]) == 1.0
    assert math.isnan(within_one_accuracy([], []))
    # names outside the vocabulary (binned Yale B labels) only match exactly
    assert within_one_accuracy(["az+030_el+000", "x"], ["az+030_el+000", "flash01"]) == 0.5
    with pytest.raises(ValueError, match="lengths differ"):
        within_one_accuracy(["flash01"], [])
