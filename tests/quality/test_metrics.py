"""Tests of augmenter.quality.metrics: Q's predicted ratings against the raters' mean and spread.

The small cases are computed by hand in the comments; scipy is used only as a cross-check on
random data. Reports are written to tmp_path.
"""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from augmenter.quality.metrics import (
    FIT_MAX_POINTS,
    bootstrap_intervals,
    describe_quality,
    fit_logistic4,
    format_source_table,
    logistic4,
    orders_sources_as_people,
    quality_metrics,
    source_means,
    source_split,
    write_quality_report,
)

KEYS = {
    "n", "srocc", "krocc", "plcc", "plcc_logistic", "rmse", "rmse_logistic", "within_spread",
    "accuracy_at_threshold", "natural_share_true", "natural_share_pred", "logistic_params",
    "logistic_fallback",
}


# --------------------------------------------------------------------------------------------- #
# logistic4 / fit_logistic4


def test_logistic4_formula():
    # At x = b3 the curve is half-way: b2 + (b1 - b2) / 2.
    assert logistic4(5.0, 9.0, 1.0, 5.0, 2.0) == pytest.approx(5.0)
    # One width above the midpoint: 1 + 8 / (1 + e^-1).
    assert logistic4(7.0, 9.0, 1.0, 5.0, 2.0) == pytest.approx(1 + 8 / (1 + math.exp(-1)))
    # |b4|: a negative width gives the same curve.
    x = np.linspace(-3, 12, 7)
    np.testing.assert_allclose(logistic4(x, 9, 1, 5, -2), logistic4(x, 9, 1, 5, 2))
    # Far tails reach the asymptotes without overflow warnings.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(logistic4(np.array([-1e6, 1e6]), 9, 1, 5, 1e-3), [1.0, 9.0])
        assert logistic4(5.0, 9, 1, 5, 0.0) == pytest.approx(5.0)  # b4 = 0: a step, midpoint at b3


def test_fit_recovers_known_logistic():
    x = np.linspace(0, 10, 60)
    y = logistic4(x, 9.0, 1.5, 4.0, 1.2)
    fit = fit_logistic4(x, y)
    assert fit.kind == "logistic" and not fit.fallback and fit.note == ""
    p = fit.params
    assert [p["b1"], p["b2"], p["b3"], p["b4"]] == pytest.approx([9.0, 1.5, 4.0, 1.2], abs=1e-4)
    np.testing.assert_allclose(fit.predict(x), y, atol=1e-5)


def test_fit_decreasing_relation():
    x = np.linspace(0, 10, 40)
    y = logistic4(x, 2.0, 8.0, 5.0, 1.0)  # falls from 8 to 2
    fit = fit_logistic4(x, y)
    assert fit.kind == "logistic"
    np.testing.assert_allclose(fit(x), y, atol=1e-4)


def test_fit_few_points_falls_back_to_linear():
    # 4 points on y = 2x + 1: too few for 4 parameters; the line is exact.
    x = np.array([1.0, 2.0, 3.0, 4.0])
    fit = fit_logistic4(x, 2 * x + 1)
    assert fit.fallback and fit.kind == "linear"
    assert "only 4 items" in fit.note
    assert fit.params["slope"] == pytest.approx(2.0)
    assert fit.params["intercept"] == pytest.approx(1.0)


def test_fit_constant_predictions_falls_back():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_logistic4(np.full(8, 3.0), np.arange(8.0))
    assert fit.fallback and fit.kind == "constant"
    assert fit.params == {"value": pytest.approx(3.5)}
    assert "constant" in fit.note
    np.testing.assert_allclose(fit.predict([0.0, 100.0]), [3.5, 3.5])


def test_fit_subsamples_large_inputs_reproducibly():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, FIT_MAX_POINTS + 5000)
    y = logistic4(x, 9, 1, 5, 1.5) + rng.normal(0, 0.3, x.size)
    a, b = fit_logistic4(x, y), fit_logistic4(x, y)
    assert a.n_fit == FIT_MAX_POINTS
    assert f"{FIT_MAX_POINTS} of {x.size}" in a.note
    assert not a.fallback
    assert a.params == b.params  # fixed seed: same subsample, same fit
    assert a.params["b3"] == pytest.approx(5.0, abs=0.1)


# --------------------------------------------------------------------------------------------- #
# quality_metrics


def test_hand_computed_case():
    m = np.array([2.0, 4.0, 5.0, 6.0, 8.0])
    s = np.array([1.0, 0.0, 0.5, 1.0, 0.5])
    p = np.array([3.0, 4.0, 4.5, 7.5, 7.0])
    r = quality_metrics(p, m, s)
    assert KEYS <= r.keys()
    assert r["n"] == 5
    # Ranks of m: 1 2 3 4 5; of p: 1 2 3 5 4. sum d^2 = 2 -> rho = 1 - 6*2 / (5*(25-1)) = 0.9.
    assert r["srocc"] == pytest.approx(0.9)
    # 10 pairs, only (4th, 5th) discordant, no ties: tau = (9 - 1) / 10 = 0.8.
    assert r["krocc"] == pytest.approx(0.8)
    # Centred m: -3 -1 0 1 3 (ss 20); centred p (mean 5.2): -2.2 -1.2 -0.7 2.3 1.8 (ss 15.3);
    # cross 6.6 + 1.2 + 0 + 2.3 + 5.4 = 15.5 -> r = 15.5 / sqrt(20 * 15.3).
    assert r["plcc"] == pytest.approx(15.5 / math.sqrt(20 * 15.3))
    # Errors 1, 0, -0.5, 1.5, -1 -> squares 1, 0, 0.25, 2.25, 1 = 4.5 -> rmse = sqrt(0.9).
    assert r["rmse"] == pytest.approx(math.sqrt(0.9))
    # |err| <= s: 1<=1 yes, 0<=0 yes, 0.5<=0.5 yes, 1.5<=1 no, 1<=0.5 no -> 3/5.
    assert r["within_spread"] == pytest.approx(0.6)
    # p >= 5: F F F T T; m >= 5: F F T T T -> agree on 4 of 5.
    assert r["accuracy_at_threshold"] == pytest.approx(0.8)
    assert r["natural_share_true"] == pytest.approx(0.6)
    assert r["natural_share_pred"] == pytest.approx(0.4)
    # 5 points: the logistic is fitted; it can only do at least as well as the line through them.
    assert r["rmse_logistic"] <= r["rmse"]
    assert r["plcc_logistic"] >= r["plcc"] - 1e-9


def test_ties_tau_b_and_average_ranks():
    p = np.array([1.0, 1.0, 2.0, 3.0])
    m = np.array([1.0, 2.0, 2.0, 3.0])
    r = quality_metrics(p, m, np.zeros(4))
    # Pairs: (1,2) tie in p, (2,3) tie in m, the other 4 concordant.
    # tau-b = (4 - 0) / sqrt((6 - 1) * (6 - 1)) = 0.8.
    assert r["krocc"] == pytest.approx(0.8)
    # Average ranks: p 1.5 1.5 3 4, m 1 2.5 2.5 4; centred a = -1 -1 .5 1.5, b = -1.5 0 0 1.5;
    # sum ab = 3.75, sum a^2 = sum b^2 = 4.5 -> rho = 3.75 / 4.5.
    assert r["srocc"] == pytest.approx(3.75 / 4.5)


def test_matches_scipy_on_random_data():
    rng = np.random.default_rng(0)
    m = rng.integers(3, 31, 300) / 3
    p = m + rng.normal(0, 1, 300)
    r = quality_metrics(p, m, rng.uniform(0, 2, 300))
    assert r["srocc"] == pytest.approx(stats.spearmanr(p, m).statistic)
    assert r["krocc"] == pytest.approx(stats.kendalltau(p, m).statistic)
    assert r["plcc"] == pytest.approx(stats.pearsonr(p, m).statistic)


def test_monotone_nonlinear_predictions():
    m = np.linspace(1, 10, 30)
    p = np.exp(m / 3)  # same order, strongly convex
    r = quality_metrics(p, m, np.full(30, 0.5))
    assert r["srocc"] == pytest.approx(1.0)
    assert r["krocc"] == pytest.approx(1.0)
    assert r["plcc"] < 0.95
    assert not r["logistic_fallback"]
    assert r["plcc_logistic"] > 0.99
    assert r["rmse_logistic"] < 0.5 < r["rmse"]


def test_perfect_predictions():
    m = np.array([1.0, 3.0, 5.0, 7.0, 9.0, 10.0])
    r = quality_metrics(m.copy(), m, np.zeros(6))
    assert r["srocc"] == pytest.approx(1.0) and r["krocc"] == pytest.approx(1.0)
    assert r["plcc"] == pytest.approx(1.0)
    assert r["rmse"] == 0.0
    assert r["within_spread"] == 1.0
    assert r["accuracy_at_threshold"] == 1.0


def test_within_spread_zero_std_means_equal():
    m = np.full(4, 5.0)
    p = np.array([5.0, 5.0 + 1e-12, 5.0 - 1e-10, 5.1])  # equal, equal up to 1e-9 twice, not equal
    r = quality_metrics(p, m, np.zeros(4))
    assert r["within_spread"] == pytest.approx(0.75)
    assert quality_metrics([5.0, 5.0 + 1e-6], [5.0, 5.0], [0.0, 0.0])["within_spread"] == 0.5


def test_accuracy_at_exact_threshold():
    p = np.array([5.0, 4.999, 5.0, 6.0])
    m = np.array([5.0, 5.0, 4.999, 4.0])
    r = quality_metrics(p, m, np.ones(4))
    # p >= 5: T F T T; m >= 5: T T F F -> only the first agrees.
    assert r["accuracy_at_threshold"] == pytest.approx(0.25)
    assert r["natural_share_pred"] == pytest.approx(0.75)
    assert r["natural_share_true"] == pytest.approx(0.5)
    # Another threshold moves the split: at 4.5, p: T T T T, m: T T T F.
    assert quality_metrics(p, m, np.ones(4), natural_threshold=4.5)["accuracy_at_threshold"] == 0.75


def test_constant_predictions_give_nan_without_warnings():
    m = np.array([2.0, 4.0, 5.0, 6.0, 8.0, 9.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = quality_metrics(np.full(6, 5.0), m, np.ones(6))
    for key in ("srocc", "krocc", "plcc", "plcc_logistic"):
        assert math.isnan(r[key]), key
    assert r["logistic_fallback"] is True
    assert r["logistic_params"] == {"value": pytest.approx(m.mean())}
    assert r["rmse"] == pytest.approx(math.sqrt(np.mean((5.0 - m) ** 2)))
    assert r["rmse_logistic"] == pytest.approx(m.std())
    assert r["natural_share_pred"] == 1.0


def test_constant_ratings_give_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = quality_metrics([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], np.full(6, 7.0), np.zeros(6))
    for key in ("srocc", "krocc", "plcc", "plcc_logistic"):
        assert math.isnan(r[key]), key
    assert r["rmse_logistic"] == pytest.approx(0.0, abs=1e-6)


def test_two_items_work_with_linear_fallback():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = quality_metrics([3.0, 6.0], [2.0, 8.0], [1.0, 1.0])
    assert r["logistic_fallback"] is True
    assert set(r["logistic_params"]) == {"slope", "intercept"}
    assert r["rmse_logistic"] == pytest.approx(0.0)
    assert r["srocc"] == pytest.approx(1.0) and r["krocc"] == pytest.approx(1.0)


@pytest.mark.parametrize("args, match", [
    (([1, 2, 3], [1, 2], [0, 0, 0]), "same length"),
    (([1, np.nan, 3], [1, 2, 3], [0, 0, 0]), "pred has 1 non-finite"),
    (([1, 2, 3], [1, 2, np.inf], [0, 0, 0]), "mean has 1 non-finite"),
    (([1.0], [1.0], [0.0]), "at least 2"),
    (([], [], []), "at least 2"),
    (([[1, 2], [3, 4]], [1, 2], [0, 0]), "1-D"),
    (([1, 2, 3], [1, 2, 3], [0, -1, 0]), "std must be >= 0"),
    ((["a", "b"], [1, 2], [0, 0]), "numeric"),
])
def test_bad_input_raises_value_error(args, match):
    with pytest.raises(ValueError, match=match):
        quality_metrics(*args)


def test_large_input_fits_on_a_subsample():
    rng = np.random.default_rng(1)
    m = rng.integers(3, 31, 100_000) / 3
    p = m + rng.normal(0, 1, m.size)
    r = quality_metrics(p, m, rng.uniform(0, 2, m.size))
    assert r["n"] == 100_000 and not r["logistic_fallback"]
    assert "20000 of 100000" in r["logistic_note"]


# --------------------------------------------------------------------------------------------- #
# write_quality_report


def _report_data(n_a: int = 12, n_b: int = 3, n_c: int = 6):
    rng = np.random.default_rng(7)
    n = n_a + n_b + n_c
    m = rng.integers(3, 31, n) / 3
    p = m + rng.normal(0, 0.8, n)
    p[n_a + n_b:] = 6.0  # source "c": constant predictions -> NaN correlations there
    s = rng.uniform(0, 1.5, n)
    sources = ["a"] * n_a + ["b"] * n_b + ["c"] * n_c
    paths = [f"faces/{i:03d}.png" for i in range(n)]
    return p, m, s, sources, paths


def test_report_writes_three_files(tmp_path):
    p, m, s, sources, paths = _report_data()
    out = tmp_path / "eval"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = write_quality_report(out, p, m, s, paths=paths, sources=sources, title="Q v1")
    assert sorted(f.name for f in out.iterdir()) == ["q_eval.json", "q_predictions.csv", "q_scatter.png"]

    data = json.loads((out / "q_eval.json").read_text(encoding="utf-8"))
    assert KEYS <= data.keys()
    assert data["n"] == len(p) and data["title"] == "Q v1"
    assert data["srocc"] == pytest.approx(r["srocc"])
    assert data["per_source_counts"] == {"a": 12, "b": 3, "c": 6}
    # Sources with >= 5 items get their own metrics; "b" (3 items) does not.
    assert set(data["per_source"]) == {"a", "c"}
    a_only = quality_metrics(p[:12], m[:12], s[:12])
    assert data["per_source"]["a"]["srocc"] == pytest.approx(a_only["srocc"])
    # NaN (constant predictions of "c") is written as null; the returned dict keeps NaN.
    assert data["per_source"]["c"]["srocc"] is None and data["per_source"]["c"]["plcc"] is None
    assert data["per_source"]["c"]["logistic_fallback"] is True
    assert math.isnan(r["per_source"]["c"]["srocc"])

    png = (out / "q_scatter.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    import matplotlib.image as mpimg
    img = mpimg.imread(out / "q_scatter.png")
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100

    df = pd.read_csv(out / "q_predictions.csv")
    assert list(df.columns) == ["path", "source", "mean", "std", "pred"]
    assert df["path"].tolist() == paths and df["source"].tolist() == sources
    np.testing.assert_allclose(df["pred"], p)
    np.testing.assert_allclose(df["mean"], m)
    np.testing.assert_allclose(df["std"], s)


def test_report_nan_top_level_is_null_and_no_csv_without_paths(tmp_path):
    m = np.array([2.0, 4.0, 5.0, 6.0, 8.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = write_quality_report(tmp_path, np.full(5, 5.0), m, np.ones(5))
    assert sorted(f.name for f in tmp_path.iterdir()) == ["q_eval.json", "q_scatter.png"]  # no temp files
    text = (tmp_path / "q_eval.json").read_text(encoding="utf-8")
    assert "NaN" not in text
    data = json.loads(text)
    assert data["srocc"] is None and data["krocc"] is None and data["plcc"] is None
    assert data["logistic_fallback"] is True
    assert "per_source" not in data and "per_source" not in r
    assert (tmp_path / "q_scatter.png").stat().st_size > 0


def test_report_csv_without_sources_has_empty_source(tmp_path):
    p, m, s, _, paths = _report_data()
    write_quality_report(tmp_path, p, m, s, paths=paths)
    df = pd.read_csv(tmp_path / "q_predictions.csv", keep_default_na=False)
    assert (df["source"] == "").all() and len(df) == len(p)


def test_report_rejects_mismatched_labels(tmp_path):
    p, m, s, sources, paths = _report_data()
    with pytest.raises(ValueError, match="sources"):
        write_quality_report(tmp_path, p, m, s, sources=sources[:-1])
    with pytest.raises(ValueError, match="paths"):
        write_quality_report(tmp_path, p, m, s, paths=paths[1:])
    with pytest.raises(ValueError, match="same length"):
        write_quality_report(tmp_path, p[:-1], m, s)
    assert list(tmp_path.iterdir()) == []  # nothing written on bad input


def test_report_replaces_previous_files(tmp_path):
    p, m, s, _, _ = _report_data()
    write_quality_report(tmp_path, p, m, s, title="first")
    write_quality_report(tmp_path, p[:10], m[:10], s[:10], title="second")
    data = json.loads((tmp_path / "q_eval.json").read_text(encoding="utf-8"))
    assert data["title"] == "second" and data["n"] == 10
    assert sorted(f.name for f in tmp_path.iterdir()) == ["q_eval.json", "q_scatter.png"]


# --------------------------------------------------------------------------------------------- #
# bootstrap intervals, source order, the printed summary


def _noisy(n=80, seed=5):
    rng = np.random.default_rng(seed)
    m = rng.uniform(1, 10, n)
    return m + rng.normal(0, 1.5, n), m


def test_bootstrap_intervals_contain_the_estimate_and_are_seeded():
    p, m = _noisy()
    point = quality_metrics(p, m, np.ones(p.size))
    a = bootstrap_intervals(p, m, n_boot=500, seed=1)
    assert a == bootstrap_intervals(p, m, n_boot=500, seed=1)
    assert a != bootstrap_intervals(p, m, n_boot=500, seed=2)
    for key in ("srocc", "plcc", "krocc"):
        lo, hi = a[key]
        assert -1 <= lo < point[key] < hi <= 1, key
        assert hi - lo < 0.4, key  # 80 items correlated at ~0.9: a narrow interval
    # Percentile intervals by hand: the 2.5th and 97.5th percentiles of the replicates' correlations,
    # each replicate one draw of n item indices with replacement.
    rng = np.random.default_rng(1)
    reps = {"srocc": [], "plcc": [], "krocc": []}
    for _ in range(500):
        idx = rng.integers(0, p.size, p.size)
        reps["srocc"].append(stats.spearmanr(p[idx], m[idx]).statistic)
        reps["plcc"].append(stats.pearsonr(p[idx], m[idx]).statistic)
        reps["krocc"].append(stats.kendalltau(p[idx], m[idx]).statistic)
    for key, values in reps.items():
        assert a[key] == pytest.approx(tuple(np.percentile(values, [2.5, 97.5]))), key


def test_bootstrap_of_many_items_matches_the_item_pair_free_path():
    # Above 200 items Kendall's tau is computed replicate by replicate: the same numbers.
    p, m = _noisy(n=450, seed=2)
    out = bootstrap_intervals(p, m, n_boot=30, seed=0)
    rng = np.random.default_rng(0)
    taus = [stats.kendalltau(p[idx], m[idx]).statistic for idx in (rng.integers(0, 450, 450) for _ in range(30))]
    assert out["krocc"] == pytest.approx(tuple(np.percentile(taus, [2.5, 97.5])))


def test_bootstrap_of_constant_predictions_is_undefined_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = bootstrap_intervals(np.full(6, 5.0), [1.0, 2, 3, 4, 5, 6], n_boot=50)
    assert out == {"srocc": None, "plcc": None, "krocc": None}


def test_source_means_rank_sources_and_tell_whether_q_orders_them_as_people_do():
    sources = ["ffhq"] * 3 + ["pggan"] * 2 + ["stylegan2"] * 2
    mean = [6.0, 7.0, 5.0, 3.0, 4.0, 8.0, 7.0]      # people: stylegan2 7.5 > ffhq 6 > pggan 3.5
    same = [5.0, 6.0, 5.5, 2.0, 2.0, 9.0, 9.0]      # Q: 9 > 5.5 > 2, the same order
    rows = source_means(same, mean, sources)
    assert [r["source"] for r in rows] == ["stylegan2", "ffhq", "pggan"]
    assert [r["n"] for r in rows] == [2, 3, 2]
    assert [r["people_mean"] for r in rows] == pytest.approx([7.5, 6.0, 3.5])
    assert [r["q_mean"] for r in rows] == pytest.approx([9.0, 5.5, 2.0])
    assert [r["people_rank"] for r in rows] == [1, 2, 3] and [r["q_rank"] for r in rows] == [1, 2, 3]
    assert orders_sources_as_people(rows) is True
    swapped = [5.0, 6.0, 5.5, 2.0, 2.0, 5.0, 5.0]   # Q puts stylegan2 (5) below ffhq (5.5)
    rows = source_means(swapped, mean, sources)
    assert [r["q_rank"] for r in rows] == [2, 1, 3]
    assert orders_sources_as_people(rows) is False
    tied = [5.0, 6.0, 5.5, 2.0, 2.0, 5.5, 5.5]      # Q ties two sources people tell apart: not their order
    assert orders_sources_as_people(source_means(tied, mean, sources)) is False
    table = format_source_table(source_means(same, mean, sources)).splitlines()
    assert table[0].split() == ["source", "n", "people", "mean", "Q", "mean", "people", "rank", "Q", "rank"]
    assert len(table) == 4 and len({len(line) for line in table}) == 1  # aligned columns
    assert table[1].split() == ["stylegan2", "2", "7.50", "9.00", "1", "1"]


def test_source_split_gives_the_source_oracles_srocc_and_qs_within_source_order():
    # people: a = 1..5, b = 6..10; the oracle gives a 3 and b 8, so it ties within a source
    mean = np.arange(1.0, 11.0)
    sources = ["a"] * 5 + ["b"] * 5
    oracle_ranks = [3.0] * 5 + [8.0] * 5  # the oracle's ranks (ties share the mean rank), people's ranks are 1..10
    expected = np.corrcoef(oracle_ranks, np.arange(1, 11))[0, 1]
    right = source_split(mean, mean, sources)       # Q orders everything as people do
    assert right["source_only_srocc"] == pytest.approx(expected) and right["within_source_srocc"] == pytest.approx(1.0)
    reversed_within = np.concatenate([mean[:5][::-1], mean[5:][::-1]])  # sources right, order inside reversed
    assert source_split(reversed_within, mean, sources)["within_source_srocc"] == pytest.approx(-1.0)
    # weights by count: a perfect source of 5 and a reversed one of 10 average to (5 - 10) / 15
    mean3, src3 = np.arange(15.0), ["a"] * 5 + ["b"] * 10
    pred3 = np.concatenate([mean3[:5], mean3[5:][::-1]])
    assert source_split(pred3, mean3, src3)["within_source_srocc"] == pytest.approx(-1 / 3)
    assert math.isnan(source_split(mean[:4], mean[:4], ["a", "a", "b", "b"])["within_source_srocc"])  # under 5 each


def test_report_has_intervals_source_table_and_ceiling(tmp_path):
    p, m, s, sources, paths = _report_data()
    ceiling = {"spearman": 0.9, "pearson": 0.91, "spearman_corrected": 0.95, "pearson_corrected": 0.95,
               "n_images": 21, "n_splits": 200, "seed": 0}
    r = write_quality_report(tmp_path, p, m, s, paths=paths, sources=sources, human_ceiling=ceiling)
    data = json.loads((tmp_path / "q_eval.json").read_text(encoding="utf-8"))
    for key in ("srocc", "plcc", "krocc"):
        lo, hi = data[f"{key}_ci95"]
        assert lo <= data[key] <= hi
    assert data["bootstrap"] == {"n_boot": 2000, "seed": 0, "level": 0.95,
                                 "method": "percentile, items resampled with replacement"}
    assert [row["source"] for row in data["source_means"]] == [row["source"] for row in r["source_means"]]
    assert isinstance(data["orders_sources_as_people"], bool)
    assert data["human_ceiling"] == ceiling
    text = describe_quality(r)
    assert f"SROCC {r['srocc']:.3f} [95% CI {r['srocc_ci95'][0]:.3f}, {r['srocc_ci95'][1]:.3f}]" in text
    assert "people's split-half ceiling: SROCC 0.900 (Spearman-Brown 0.950)" in text
    assert f"orders sources as people do: {'yes' if r['orders_sources_as_people'] else 'no'}" in text
    assert data["source_only_srocc"] == pytest.approx(r["source_only_srocc"])
    assert f"knowing only each face's source (people's mean per source) reaches SROCC {r['source_only_srocc']:.3f}" in text
    # one source: no source table, no flag
    one = write_quality_report(tmp_path / "one", p, m, s, sources=["x"] * len(p))
    assert "source_means" not in one and "orders_sources_as_people" not in one
    assert "source" not in describe_quality(one).lower()
