"""The table over seeds: mean ± sd, paired differences with Student-t intervals, Markdown and JSON."""
import json
import math

import pytest

from pipelines.seed_table import mean_sd, paired_delta, parse_seeds, seed_table, to_markdown, write_seed_table

# hand-worked: baseline 0.50, 0.52, 0.54; arm 0.53, 0.56, 0.55
#   differences 0.03, 0.04, 0.01 -> mean 0.08 / 3 = 0.026667
#   deviations 0.003333, 0.013333, -0.016667 -> squares sum 0.00046667 -> / 2 -> sd sqrt(0.00023333) = 0.015275
#   t(0.975, 2) = 4.302653; half-width 4.302653 * 0.015275 / sqrt(3) = 0.037946 -> [-0.011279, 0.064613]
#   baseline mean 0.52, sd sqrt((0.0004 + 0 + 0.0004) / 2) = 0.02; arm mean 0.546667, sd 0.015275
VALUES = {"none": {0: {"balanced_accuracy": 0.50, "macro_f1": 0.40},
                   1: {"balanced_accuracy": 0.52, "macro_f1": 0.42},
                   2: {"balanced_accuracy": 0.54, "macro_f1": 0.44}},
          "synthetic": {0: {"balanced_accuracy": 0.53, "macro_f1": 0.40},
                        1: {"balanced_accuracy": 0.56, "macro_f1": 0.42},
                        2: {"balanced_accuracy": 0.55, "macro_f1": 0.44}}}


def test_hand_worked_case():
    table = seed_table(VALUES, baseline="none")
    assert table.arms == ["none", "synthetic"] and table.seeds == [0, 1, 2]
    assert table.metrics == ["balanced_accuracy", "macro_f1"]
    base = table.stats["none"]["balanced_accuracy"]
    assert base.n == 3 and base.mean == pytest.approx(0.52) and base.sd == pytest.approx(0.02)
    assert base.delta is None
    arm = table.stats["synthetic"]["balanced_accuracy"]
    assert arm.mean == pytest.approx(0.546667, abs=1e-6) and arm.sd == pytest.approx(0.015275, abs=1e-6)
    d = arm.delta
    assert d.seeds == [0, 1, 2] and d.differences == pytest.approx([0.03, 0.04, 0.01])
    assert d.mean == pytest.approx(0.026667, abs=1e-6)
    assert d.sd == pytest.approx(0.015275, abs=1e-6)
    assert d.t == pytest.approx(4.302653, abs=1e-6)
    assert d.hi - d.mean == pytest.approx(0.037946, abs=1e-6)
    assert (d.lo, d.hi) == (pytest.approx(-0.011279, abs=1e-6), pytest.approx(0.064613, abs=1e-6))
    # identical arms: every difference 0, sd 0, the interval collapses on 0
    same = table.stats["synthetic"]["macro_f1"].delta
    assert same.mean == pytest.approx(0) and same.sd == pytest.approx(0, abs=1e-12)
    assert same.lo == pytest.approx(0, abs=1e-12) and same.hi == pytest.approx(0, abs=1e-12)


def test_paired_over_shared_seeds_only_and_missing_values():
    # seed 2 of the arm is missing (None / NaN count as missing), seed 3 only the arm has
    arm = {0: 0.6, 1: 0.7, 2: float("nan"), 3: 0.9}
    base = {0: 0.5, 1: 0.5, 2: 0.5}
    d = paired_delta(arm, base, confidence=0.9)
    assert d.seeds == [0, 1] and d.differences == pytest.approx([0.1, 0.2])
    # t(0.95, 1) = 6.313752; sd of (0.1, 0.2) = 0.070711; half-width 6.313752 * 0.070711 / sqrt(2) = 0.315688
    assert d.t == pytest.approx(6.313752, abs=1e-6)
    assert (d.lo, d.hi) == (pytest.approx(0.15 - 0.315688, abs=1e-6), pytest.approx(0.15 + 0.315688, abs=1e-6))
    table = seed_table({"a": {0: {"m": 1.0}, 1: {"m": None}}, "b": {0: {"m": 2.0}, 1: {"m": 3.0}}}, "a")
    assert table.stats["a"]["m"].n == 1 and table.stats["a"]["m"].sd is None
    assert table.stats["b"]["m"].delta.n == 1 and table.stats["b"]["m"].delta.lo is None
    with pytest.raises(ValueError):
        seed_table(VALUES, baseline="sampler")
    with pytest.raises(ValueError):
        paired_delta(arm, base, confidence=1.5)
    assert mean_sd([]) == (None, None)


def test_one_seed_has_no_interval_and_no_made_up_number(tmp_path):
    table = seed_table({"real": {0: {"harsh.accuracy_mean": 0.578}},
                        "real+synthetic": {0: {"harsh.accuracy_mean": 0.598}}}, baseline="real")
    s = table.stats["real+synthetic"]["harsh.accuracy_mean"]
    assert s.n == 1 and s.sd is None
    assert s.delta.mean == pytest.approx(0.02) and s.delta.sd is None and s.delta.t is None
    assert s.delta.lo is None and s.delta.hi is None
    write_seed_table(tmp_path, table)
    data = json.loads((tmp_path / "seeds.json").read_text())
    delta = data["stats"]["real+synthetic"]["harsh.accuracy_mean"]["delta"]
    assert delta["lo"] is None and delta["hi"] is None and delta["n"] == 1
    row = next(line for line in (tmp_path / "seeds.md").read_text().splitlines() if "| real+synthetic |" in line)
    assert "+0.0200 [n/a: 1 paired seed]" in row and "0.5980 |" in row and "±" not in row


def test_markdown_and_json(tmp_path):
    table = seed_table(VALUES, baseline="none", context={"pipeline": "test"})
    paths = write_seed_table(tmp_path, table, "Title", notes=["A note."])
    assert [p.name for p in paths] == ["seeds.json", "seeds.md"]
    data = json.loads((tmp_path / "seeds.json").read_text())
    assert data["kind"] == "seed_table" and data["baseline"] == "none" and data["confidence"] == 0.95
    assert data["seeds"] == [0, 1, 2] and data["arms"] == ["none", "synthetic"]
    assert data["context"] == {"pipeline": "test"}
    cell = data["stats"]["synthetic"]["balanced_accuracy"]
    assert cell["n"] == 3 and cell["values"] == {"0": 0.53, "1": 0.56, "2": 0.55}
    assert cell["mean"] == pytest.approx(0.546667, abs=1e-6)
    assert cell["delta"]["differences"] == pytest.approx([0.03, 0.04, 0.01])
    assert cell["delta"]["lo"] == pytest.approx(-0.011279, abs=1e-6)
    assert data["stats"]["none"]["balanced_accuracy"]["delta"] is None
    # every figure can be redone from the JSON's per-seed values
    for arm in data["arms"]:
        for metric in data["metrics"]:
            c = data["stats"][arm][metric]
            assert c["mean"] == pytest.approx(sum(c["values"].values()) / c["n"])
    md = (tmp_path / "seeds.md").read_text()
    assert md == to_markdown(table, "Title", ["A note."])
    assert md.startswith("# Title\n\nA note.\n")
    assert "| metric | arm | n | mean ± sd | Δ vs none [95% interval] | per seed (0, 1, 2) |" in md
    assert "| balanced_accuracy | none | 3 | 0.5200 ± 0.0200 | baseline | 0.5000, 0.5200, 0.5400 |" in md
    assert ("| balanced_accuracy | synthetic | 3 | 0.5467 ± 0.0153 | +0.0267 [-0.0113, +0.0646] | "
            "0.5300, 0.5600, 0.5500 |") in md


def test_parse_seeds():
    assert parse_seeds("3") == [0, 1, 2] and parse_seeds(2, start=4) == [4, 5]
    assert parse_seeds("0,1,2") == [0, 1, 2] and parse_seeds("7,") == [7] and parse_seeds(" 3, 5 ") == [3, 5]
    for bad in ("0", "-1", "a", "1,1", "1,-2", ",", "1.5"):
        with pytest.raises(ValueError):
            parse_seeds(bad)
    assert math.isclose(mean_sd([1.0, 3.0])[1], math.sqrt(2))
