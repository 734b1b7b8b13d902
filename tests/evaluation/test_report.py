"""eval-report: flattening, deltas, Markdown/HTML, and the CLI."""
import json

import pytest
from click.testing import CliRunner

from augmenter.errors import DatasetFormatError
from evaluation.cli_report import eval_report
from evaluation.report import compare_results, default_labels, flatten_numbers, to_html, to_markdown

BASE = {"kind": "expression", "accuracy": 0.5, "n_images": 100, "convention": "7-class",
        "per_class_recall": {"disgust": 0.25, "happy": 0.75, "fear": None},
        "tar_at_far": {"1e-04": 0.8}, "confusion": [[1, 2], [3, 4]], "flag": True}
AUG = {"kind": "expression", "accuracy": 0.625, "n_images": 100,
       "per_class_recall": {"disgust": 0.5, "happy": 0.75, "fear": 0.125}, "extra_metric": 2.5}


def test_flatten_numeric_leaves():
    assert flatten_numbers(BASE) == {"accuracy": 0.5, "n_images": 100, "per_class_recall.disgust": 0.25,
                                     "per_class_recall.happy": 0.75, "per_class_recall.fear": None,
                                     "tar_at_far.1e-04": 0.8}
    assert flatten_numbers({"a": float("nan"), "b": float("inf")}) == {"a": None, "b": None}


def test_rows_values_and_deltas():
    table = compare_results([BASE, AUG], labels=["base", "aug"])
    assert table.rows == ["accuracy", "n_images", "per_class_recall.disgust", "per_class_recall.happy",
                          "tar_at_far.1e-04", "per_class_recall.fear", "extra_metric"]
    assert table.values[0] == [0.5, 0.625] and table.values[4] == [0.8, None] and table.values[6] == [None, 2.5]
    assert table.deltas[0] == [] and table.deltas[1] == [0.125, 0, 0.25, 0.0, None, None, None]
    # the other result as baseline: deltas flip sign, rows start with its keys
    flipped = compare_results([BASE, AUG], labels=["base", "aug"], baseline=1)
    assert flipped.rows[:2] == ["accuracy", "n_images"] and flipped.deltas[0][0] == -0.125 and flipped.deltas[1] == []


def test_markdown_table():
    text = to_markdown(compare_results([BASE, AUG], labels=["base", "aug"]))
    lines = text.splitlines()
    assert lines[0] == "Baseline: base"
    assert lines[2] == "| metric | base | aug | Δ aug − base |"
    assert "| accuracy | 0.5000 | 0.6250 | +0.1250 |" in lines
    assert "| n_images | 100 | 100 | +0 |" in lines
    assert "| tar_at_far.1e-04 | 0.8000 | n/a | n/a |" in lines
    assert "| per_class_recall.fear | n/a | 0.1250 | n/a |" in lines


def test_html_is_self_contained_and_escaped():
    page = to_html(compare_results([{"a<b>": 1.0}, {"a<b>": 2.0}], labels=["<script>x</script>", "r&d"]))
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "a&lt;b&gt;" in page and "r&amp;d" in page and "+1.0000" in page
    assert page.startswith("<!DOCTYPE html>") and "http" not in page and "<style>" in page


def test_files_labels_and_errors(tmp_path):
    for name, data in (("base", BASE), ("aug", AUG)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "expression.json").write_text(json.dumps(data))
    paths = [tmp_path / "base" / "expression.json", tmp_path / "aug" / "expression.json"]
    assert compare_results(paths).labels == ["base", "aug"]
    assert default_labels(["x/lfw.json", "y/ijbb.json", {}]) == ["lfw", "ijbb", "result 3"]
    assert default_labels(["a/r.json", "a/r.json"]) == ["r #1", "r #2"]
    with pytest.raises(ValueError, match="different kinds"):
        compare_results([BASE, {"kind": "edc", "pauc": 0.1}])
    with pytest.raises(ValueError, match="1 label"):
        compare_results([BASE, AUG], labels=["one"])
    with pytest.raises(DatasetFormatError, match="result file not found"):
        compare_results([tmp_path / "missing.json"])


def test_cli(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(BASE))
    b.write_text(json.dumps(AUG))
    out = tmp_path / "report"
    result = CliRunner().invoke(eval_report, [str(a), str(b), "--label", "base", "--label", "aug", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "| accuracy | 0.5000 | 0.6250 | +0.1250 |" in result.stdout
    assert (out / "report.md").read_text() == result.stdout
    assert "<table>" in (out / "report.html").read_text()
    # without --out: Markdown only, nothing written
    result = CliRunner().invoke(eval_report, [str(a), str(b)])
    assert result.exit_code == 0 and "| metric | a | b | Δ b − a |" in result.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(eval_report, [str(a), str(bad)])
    assert result.exit_code == 1 and "bad.json: not a JSON result" in result.output
