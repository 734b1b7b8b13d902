"""Tests of ``report.html`` of ``augment expand`` (augmenter.expand.report)."""
from __future__ import annotations

import html
import re

import cv2
import numpy as np
import pytest

from augmenter.expand.report import ReportSource, ReportVariant, histogram_counts, render_report

PNG = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
NAN = float("nan")


def _src(path: str, scores: list[float], kept: list[bool], label: str = "lighting flash03") -> ReportSource:
    variants = [ReportVariant(f"L-flash{i:02d}", q, k, PNG) for i, (q, k) in enumerate(zip(scores, kept))]
    return ReportSource(path, f"id-{path}", label, PNG, variants)


def _sources() -> list[ReportSource]:
    return [
        _src("yaleB01/mid.png", [0.5, 0.7], [False, True]),
        _src("yaleB02/nan.png", [NAN, NAN], [False, False], label=""),
        _src("yaleB03/top.png", [0.95, 0.2, NAN], [True, False, False]),
        _src("yaleB04/low.png", [0.3], [False]),
    ]


def _page(sources=None, q_scores=(0.5, 0.7, 0.95, 0.2, 0.3, NAN), **kw) -> str:
    args = dict(q_min=0.6, keep_best=None, title="expand report", facts=[("variants", "1,152")])
    args.update(kw)
    return render_report(_sources() if sources is None else sources, np.array(q_scores), **args)


def test_page_shows_every_source_variant_and_thumbnail():
    sources = _sources()
    page = _page(sources)
    n_variants = sum(len(s.variants) for s in sources)
    for s in sources:
        assert s.source_path in page
        for v in s.variants:
            assert f"{v.target}<br>" in page
    assert page.count("<img") == len(sources) + n_variants
    assert page.count('src="data:image/png;base64,') == len(sources) + n_variants
    n_kept = sum(v.kept for s in sources for v in s.variants)
    assert page.count('class="var kept"') == n_kept == 2
    assert page.count('class="var rejected"') == n_variants - n_kept
    assert "<title>expand report</title>" in page and "<h1>expand report</h1>" in page
    assert "<th>variants</th><td>1,152</td>" in page
    assert "0.950" in page and "–" in page  # 3 decimals; NaN shown as a dash
    assert "http://" not in page and "https://" not in page


def test_user_strings_are_escaped():
    bad = 'a<b>&"c.png'
    src = ReportSource(bad, "<id>", "<label&>", PNG, [ReportVariant("<T>", 0.9, True, PNG)])
    page = render_report([src], np.array([0.9]), q_min=0.5, keep_best=None, title="<t&>",
                         facts=[("<k>", '"v"&')])
    for raw in (bad, "<id>", "<label&>", "<T>", "<t&>", "<k>"):
        assert raw not in page
        assert html.escape(raw) in page
    assert html.escape('"v"&') in page


def test_default_row_order_is_best_q_descending_nan_last():
    page = _page()
    names = re.findall(r'<div class="row" data-best="([^"]+)" data-mean="([^"]+)" data-name="([^"]+)"', page)
    assert [n for _, _, n in names] == ["yaleB03/top.png", "yaleB01/mid.png", "yaleB04/low.png",
                                       "yaleB02/nan.png"]
    best = [float(b) for b, _, _ in names]
    mean = [float(m) for _, m, _ in names]
    assert best == pytest.approx([0.95, 0.7, 0.3, -1.0])
    assert mean == pytest.approx([0.575, 0.6, 0.3, -1.0])
    # the sort control offers the four orders
    for text in ("best Q (high first)", "mean Q (high first)", "lowest best Q first", "source path"):
        assert text in page


def test_variants_within_a_row_sorted_by_q_nan_last():
    page = _page([_src("s.png", [0.2, NAN, 0.9, 0.5], [False, False, True, False])], q_scores=[0.2])
    order = re.findall(r"<figcaption>(L-flash\d\d)<br>", page)
    assert order == ["L-flash02", "L-flash03", "L-flash00", "L-flash01"]


def test_histogram_counts():
    counts = histogram_counts(np.array([0.05, 0.05, 0.97, NAN]))
    assert counts.shape == (20,)
    assert counts.sum() == 3
    assert counts[1] == 2 and counts[19] == 1
    assert histogram_counts(np.array([0.0, 1.0, NAN]), bins=4).tolist() == [1, 0, 0, 1]


def test_histogram_svg_and_caption():
    page = _page(q_scores=[0.05, 0.05, 0.97, NAN])
    assert page.count("<svg") == 1
    bars = [int(c) for c in re.findall(r'<rect class="bar[^"]*" data-count="(\d+)"', page)]
    assert len(bars) == 20 and sum(bars) == 3
    assert "3 scored variants" in page and "median q_score 0.050" in page
    # with q_min 0.6, bins 0..11 (centres < 0.6) are rejected-side, 12..19 kept-side
    assert page.count('class="bar reject"') == 12 and page.count('class="bar keep"') == 8


def test_no_scores_means_no_svg():
    page = _page(q_scores=[NAN, NAN])
    assert "<svg" not in page
    assert "No variant has a finite q_score" in page
    assert histogram_counts(np.array([NAN, NAN])).sum() == 0


def test_q_min_line_and_legend():
    with_line = _page(q_min=0.6)
    assert 'class="qmin"' in with_line and "q_score ≥ 0.60" in with_line
    without = _page(q_min=None, keep_best=2)
    assert 'class="qmin"' not in without
    assert "the 2 best per source" in without
    assert 'class="bar keep"' not in without and 'class="bar reject"' not in without
    both = _page(q_min=0.6, keep_best=2)
    assert "q_score ≥ 0.60" in both and "2 best per source" in both


def test_nan_only_row_has_minus_one_stats():
    page = _page([_src("n.png", [NAN], [False])], q_scores=[NAN])
    assert 'data-best="-1.000000" data-mean="-1.000000"' in page


def test_rejected_variants_are_fully_visible_and_marked():
    page = _page()
    style = page[page.index("<style>"):page.index("</style>")]
    assert "opacity" not in style  # no variant is faded
    n_rejected = page.count('class="var rejected"')
    assert n_rejected == 6
    assert page.count('<span class="mark no">rejected</span>') == n_rejected
    assert page.count('<span class="mark ok">kept</span>') == 2
    assert "faded" not in page


def test_lighting_targets_show_their_direction():
    src = ReportSource("s.png", "id", "", PNG, [ReportVariant("L-flash05_E-smile", 0.9, True, PNG),
                                                ReportVariant("L-ambient", 0.8, True, PNG),
                                                ReportVariant("E-smile", 0.7, False, PNG)])
    page = render_report([src], np.array([0.9, 0.8, 0.7]), q_min=0.5, keep_best=None, title="t", facts=[])
    assert 'L-flash05_E-smile<br><span class="dir">az -30°, el 0°</span><br>' in page
    assert 'L-ambient<br><span class="dir">room light, no flash</span><br>' in page
    assert "E-smile<br>0.700" in page  # no lighting target: no direction line
    assert "flash05 (az -30°, el 0°)" in page  # the legend of the lighting targets shown
    assert "subject's right" in page  # what the azimuth's sign means


def test_a_variant_the_check_marked_down_says_why_and_one_it_left_says_nothing():
    src = ReportSource("s.png", "id", "", PNG, [ReportVariant("L-flash05", 0.51, False, PNG,
                                                              "Q 0.71; light from black -0.20"),
                                                ReportVariant("L-flash06", 0.72, True, PNG)])
    page = render_report([src], np.array([0.51, 0.72]), q_min=0.6, keep_best=None, title="t", facts=[])
    assert page.count('<span class="why">') == 2  # the variant's words and the legend that explains them
    assert '<span class="why">Q 0.71; light from black -0.20</span>' in page and "q_note" in page
    quiet = render_report([ReportSource("s.png", "id", "", PNG, [ReportVariant("L-flash06", 0.72, True, PNG)])],
                          np.array([0.72]), q_min=0.6, keep_best=None, title="t", facts=[])
    assert 'class="why"' not in quiet  # no words, no legend for them
