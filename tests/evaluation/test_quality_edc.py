"""Error-versus-discard on a hand-worked example, Q-vs-human, and eval-edc through click."""
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from augmenter.quality.metrics import quality_metrics
from evaluation.cli_quality import eval_edc
from evaluation.quality import error_versus_discard, q_vs_human, step_points, threshold_at_fmr

# 8 impostor pairs: with fmr = 1/8 one false accept is allowed (k = 1); the two highest impostors tie at
# 0.6, so v = 0.6 (the 2nd highest), t = nextafter(0.6) and no impostor is accepted (achieved FMR 0).
IMPOSTOR = [0.1, 0.2, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6]
# 8 genuine pairs: (score, q_first, q_second) -> pair quality = the min; rejected = score < t (score <= 0.6)
GENUINE = [
    (0.90, 0.9, 0.95),  # q 0.9  accepted
    (0.60, 0.1, 0.8),   # q 0.1  rejected (ties the threshold impostor: not above it)
    (0.55, 0.7, 0.3),   # q 0.3  rejected
    (0.80, 0.3, 0.3),   # q 0.3  accepted  (tied in quality with the one above)
    (0.70, 0.5, 0.6),   # q 0.5  accepted
    (0.40, 0.8, 0.5),   # q 0.5  rejected
    (0.95, 0.7, 0.7),   # q 0.7  accepted
    (0.85, 1.0, 0.9),   # q 0.9  accepted
]


def _pairs(impostor_quality=(0.05, 0.2, 0.9, 0.4, 0.3, 0.6, 0.01, 0.99)):
    scores = [g[0] for g in GENUINE] + IMPOSTOR
    same = [True] * 8 + [False] * 8
    q1 = [g[1] for g in GENUINE] + list(impostor_quality)
    q2 = [g[2] for g in GENUINE] + [1.0] * 8
    return scores, same, q1, q2


def test_hand_worked_edc():
    edc = error_versus_discard(*_pairs(), fmr=1 / 8, discard_limit=0.2)
    assert edc.threshold == np.nextafter(0.6, 1.0) and edc.impostor_score_at_threshold == 0.6
    assert edc.fmr_achieved == 0.0 and (edc.n_genuine, edc.n_impostor) == (8, 8)
    # distinct genuine qualities 0.1 0.3 0.5 0.7 0.9: one point each; the 0.3 tie leaves together (1/8 -> 3/8)
    assert edc.quality_threshold.tolist() == [0.1, 0.3, 0.5, 0.7, 0.9]
    assert edc.discard_fraction.tolist() == [0.0, 1 / 8, 3 / 8, 5 / 8, 6 / 8]
    # kept:   all 8 (3 rejected) | 7 (2) | g1 g5 g6 g7 g8 (1: g6) | g1 g7 g8 (0) | g1 g8 (0)
    np.testing.assert_allclose(edc.fnmr, [3 / 8, 2 / 7, 1 / 5, 0.0, 0.0])
    # step curve: 3/8 on [0, 1/8), 2/7 on [1/8, 0.2]
    assert edc.pauc == pytest.approx(1 / 8 * 3 / 8 + (0.2 - 1 / 8) * 2 / 7)
    assert edc.fnmr_at_discard[0.0] == 3 / 8 and edc.fnmr_at_discard[0.1] == 3 / 8
    assert edc.fnmr_at_discard[0.2] == pytest.approx(2 / 7) and edc.fnmr_at_discard[0.3] == pytest.approx(2 / 7)
    wide = error_versus_discard(*_pairs(), fmr=1 / 8, discard_limit=0.5)
    assert wide.pauc == pytest.approx(1 / 8 * 3 / 8 + 2 / 8 * 2 / 7 + 1 / 8 * 1 / 5)
    # up to the whole range, the last point's FNMR (0) runs on to the limit
    full = error_versus_discard(*_pairs(), fmr=1 / 8, discard_limit=1.0)
    assert full.pauc == pytest.approx(1 / 8 * 3 / 8 + 2 / 8 * 2 / 7 + 2 / 8 * 1 / 5)


def test_impostor_quality_does_not_move_the_curve():
    a = error_versus_discard(*_pairs(), fmr=1 / 8)
    b = error_versus_discard(*_pairs(impostor_quality=[0.0] * 8), fmr=1 / 8)
    assert a.discard_fraction.tolist() == b.discard_fraction.tolist() and a.fnmr.tolist() == b.fnmr.tolist()


def test_threshold_rule():
    # k = floor(0.25 * 8) = 2: the 3rd highest impostor (0.5) is the highest rejected one
    t, v = threshold_at_fmr(np.array(IMPOSTOR[:5] + [0.5, 0.7, 0.9]), 0.25)
    assert v == 0.5 and t == np.nextafter(0.5, 1.0)
    # everything may be accepted
    assert threshold_at_fmr(np.array([0.1, 0.2]), 1.0) == (-math.inf, None)
    # fmr 0: above the highest impostor
    assert threshold_at_fmr(np.array([0.1, 0.3]), 0.0) == (np.nextafter(0.3, 1.0), 0.3)
    # a looser FMR (3/8): 0.6, 0.6, 0.5 accepted, genuine 0.55 and 0.6 now accepted too
    edc = error_versus_discard(*_pairs(), fmr=3 / 8)
    assert edc.impostor_score_at_threshold == 0.4 and edc.fmr_achieved == 3 / 8
    assert edc.fnmr[0] == 1 / 8


def test_thinning_keeps_the_ends_and_the_area():
    rng = np.random.default_rng(0)
    n = 400
    same = np.arange(n) % 2 == 0
    scores = rng.normal(size=n) + same
    q = rng.uniform(size=n)
    full = error_versus_discard(scores, same, q, q, fmr=0.05)
    thin = error_versus_discard(scores, same, q, q, fmr=0.05, steps=10)
    assert len(full.fnmr) == 200 and len(thin.fnmr) == 10
    assert thin.pauc == full.pauc and thin.fnmr[0] == full.fnmr[0] and thin.fnmr[-1] == full.fnmr[-1]
    assert thin.fnmr_at_discard == full.fnmr_at_discard


def test_bad_input():
    with pytest.raises(ValueError, match="genuine and impostor"):
        error_versus_discard([0.1, 0.2], [True, True], [0.5, 0.5], [0.5, 0.5])
    with pytest.raises(ValueError, match="one length"):
        error_versus_discard([0.1, 0.2], [True, False], [0.5], [0.5, 0.5])
    with pytest.raises(ValueError, match="q_first has 1 non-finite"):
        error_versus_discard([0.1, 0.2], [True, False], [0.5, math.nan], [0.5, 0.5])


def test_step_points():
    xs, ys = step_points(np.array([0.0, 0.25, 0.5]), np.array([0.3, 0.2, 0.1]), end=0.6)
    assert xs.tolist() == [0.0, 0.25, 0.25, 0.5, 0.5, 0.6] and ys.tolist() == [0.3, 0.3, 0.2, 0.2, 0.1, 0.1]


def test_q_vs_human_is_quality_metrics():
    pred, mean, std = [2.0, 4.5, 5.0, 7.0, 8.0, 3.0], [1.0, 4.0, 6.0, 7.5, 9.0, 2.0], [0.5, 1.0, 0.0, 0.5, 1.0, 0.5]
    got = q_vs_human(pred, mean, std)
    assert got == quality_metrics(pred, mean, std)
    assert got["srocc"] == pytest.approx(1.0) and {"plcc", "plcc_logistic", "krocc", "rmse"} <= set(got)


def _write_inputs(tmp_path):
    lines = ["first,second,score,same"]
    q_rows = {}
    scores, same, q1, q2 = _pairs()
    for i, (s, y, a, b) in enumerate(zip(scores, same, q1, q2)):
        first, second = f"img/a{i}.png", f"img/b{i}.png"
        lines.append(f"{first},{second},{s},{int(y)}")
        q_rows[first], q_rows[second] = a, b
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("\n".join(lines) + "\n")
    q = tmp_path / "q.csv"  # augment score's columns: path, q_score, rating
    q.write_text("path,q_score,rating\n" + "".join(f"./{p},{v},{10 * v}\n" for p, v in q_rows.items()))
    return pairs, q


def test_eval_edc_cli(tmp_path):
    pairs, q = _write_inputs(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(eval_edc, ["--pairs-scores", str(pairs), "--q", str(q), "--fmr", "0.125",
                                           "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "pAUC" in result.output
    data = json.loads((out / "edc.json").read_text())
    expected = error_versus_discard(*_pairs(), fmr=1 / 8)
    assert data["curve"]["fnmr"] == pytest.approx(expected.fnmr.tolist())
    assert data["pauc"] == pytest.approx(expected.pauc) and data["fnmr_at_discard"]["0.1"] == 3 / 8
    assert (out / "edc.md").read_text().startswith("# Error versus discard")
    assert (out / "edc.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_edc_names_a_path_without_q(tmp_path):
    pairs, q = _write_inputs(tmp_path)
    q.write_text("\n".join(line for line in q.read_text().splitlines() if "b3.png" not in line) + "\n")
    result = CliRunner().invoke(eval_edc, ["--pairs-scores", str(pairs), "--q", str(q), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "no Q score for 'img/b3.png'" in result.output and "line 5" in result.output
    assert len(result.output.strip().splitlines()) == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("first,second,similarity,same\n")
    result = CliRunner().invoke(eval_edc, ["--pairs-scores", str(bad), "--q", str(q), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "missing column(s) score" in result.output


def _replace_field(path, line, column, value):
    """Set ``column`` (0-based) of file line ``line`` (1-based, the header is line 1) to ``value``."""
    lines = path.read_text().splitlines()
    fields = lines[line - 1].split(",")
    fields[column] = value
    lines[line - 1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("which, line, column, value, reason", [
    ("q", 17, 1, "nan", "q_score is NaN"),
    ("q", 4, 1, "NaN", "q_score is NaN"),
    ("q", 9, 1, "inf", "q_score is inf"),
    ("pairs", 7, 2, "nan", "score is NaN"),
    ("pairs", 12, 2, "-inf", "score is -inf"),
])
def test_eval_edc_names_the_file_and_line_of_a_non_finite_value(tmp_path, which, line, column, value, reason):
    pairs, q = _write_inputs(tmp_path)
    target = {"q": q, "pairs": pairs}[which]
    _replace_field(target, line, column, value)
    result = CliRunner().invoke(eval_edc, ["--pairs-scores", str(pairs), "--q", str(q), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1, result.output
    assert result.output == f"Error: {target}: line {line}: {reason}\n"
    assert not (tmp_path / "o").exists()


def test_eval_edc_line_numbers_count_blank_lines_and_headers_may_have_spaces(tmp_path):
    pairs, q = _write_inputs(tmp_path)
    lines = q.read_text().splitlines()
    lines[0] = "path, q_score, rating"
    lines[9] = lines[9].replace(",", ",nan,", 1).split(",nan,")[0] + ",nan," + lines[9].split(",", 2)[2]
    q.write_text("\n".join(lines[:3] + [""] + lines[3:]) + "\n")  # a blank line 4 moves every later line down
    result = CliRunner().invoke(eval_edc, ["--pairs-scores", str(pairs), "--q", str(q), "--out", str(tmp_path / "o")])
    assert result.output == f"Error: {q}: line 11: q_score is NaN\n"
