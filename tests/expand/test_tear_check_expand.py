"""``augment expand`` with the tear check: the penalty lands in the q_score that decides, the run records which
check judged it, and a rerun with another check is another run."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from augmenter.datasets.manifest import file_sha256
from augmenter.errors import RunConflictError
from augmenter.expand.engine import Models, run_expand
from augmenter.quality.model import q_scores_of
from augmenter.quality.source_rules import SourceRules
from augmenter.quality.tear_check import DEFAULT_TEAR_CHECK, TEAR_NOTICE
from tests.expand.helpers import make_config, quiet


class AlwaysTorn(torch.nn.Module):
    """A check that finds every variant torn (p = 1)."""

    config = type("Config", (), {"image_size": 16})()
    rules = None  # no measured rules: only the seam penalty

    def forward(self, source, variant):
        assert source.shape == variant.shape and source.shape[-1] == 16
        return torch.full((len(variant),), 50.0)


class BoundOnly(AlwaysTorn):
    """A check that finds nothing torn and charges nothing but its bound: no variant above its source's score."""

    rules = SourceRules(penalty=0.0, source_margin=0.0)

    def forward(self, source, variant):
        return torch.full((len(variant),), -50.0)


def _judged_without_and_with(check: torch.nn.Module, n: int = 3):
    """The demo models, the inputs, the q_scores of ``n`` random inputs' outputs, Q alone and with ``check``, and what
    the check said of each."""
    models = Models.load("demo", "demo", torch.device("cpu"), tear_check="none")
    x = torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    keep = torch.full((n,), -1)
    y, q_alone, _ = models.forward(x, keep, keep)
    models.tear_check = check
    y_checked, q, why = models.forward(x, keep, keep)
    assert torch.equal(y, y_checked)
    return models, x, q_alone, q, why


def test_a_bounded_check_holds_each_variant_to_the_score_of_the_photo_the_generator_saw():
    models, x, q_alone, q, why = _judged_without_and_with(BoundOnly(), n=4)
    source_q = q_scores_of(models.q_net, x)
    assert np.allclose(q, np.minimum(q_alone, source_q), atol=1e-6)
    assert bool((q < q_alone).any())  # the demo Q rates these outputs above their noise inputs: the bound binds
    for k in range(4):  # the note names the bound where it bit, and nothing where it did not
        bound = f"Q {q_alone[k]:.2f}; at most its photo's {source_q[k]:.2f} + 0.00"
        assert why[k] == (bound if q[k] <= q_alone[k] - 0.005 else "")


def test_a_torn_variant_loses_the_penalty_from_q_and_a_whole_one_keeps_q():
    _, _, q_alone, q, why = _judged_without_and_with(AlwaysTorn())
    assert np.allclose(q, np.maximum(q_alone - 0.2, 0.1), atol=1e-6) and bool((q < q_alone).all())
    assert why == [f"Q {s:.2f}; torn -0.20" for s in q_alone]


@pytest.mark.skipif(not DEFAULT_TEAR_CHECK.is_file(), reason="the built-in tear check is not built")
def test_the_run_records_its_check_and_refuses_a_rerun_with_another(sample_root, tmp_path):
    out = tmp_path / "checked"
    lines = []
    run_expand(make_config(sample_root, out, tear_check=None, limit=2), log=lines.append)
    summary = json.loads((out / "summary.json").read_text())
    run = json.loads((out / ".expand" / "run.json").read_text())
    assert summary["tear_check"] == {"hash": file_sha256(DEFAULT_TEAR_CHECK), "path": str(DEFAULT_TEAR_CHECK)}
    assert run["tear_check_hash"] == file_sha256(DEFAULT_TEAR_CHECK) and run["settings"]["tear_check"] is None
    assert any(TEAR_NOTICE in line for line in lines)
    assert str(DEFAULT_TEAR_CHECK) in (out / "report.html").read_text()  # the report names the judge
    with pytest.raises(RunConflictError, match="tear"):
        run_expand(make_config(sample_root, out, tear_check="none", limit=2), log=quiet)


def test_a_missing_tear_check_is_a_one_line_error_naming_it(sample_root, tmp_path):
    from click.testing import CliRunner

    from augmenter.cli import main

    missing = tmp_path / "no_check.pt"
    result = CliRunner().invoke(main, ["expand", "--dataset", "sample", "--root", str(sample_root), "--out",
                                       str(tmp_path / "out"), "--legan", "demo", "--q", "demo",
                                       "--tear-check", str(missing)])
    assert result.exit_code != 0 and "no_check.pt" in result.output and len(result.output.strip().splitlines()) == 1


def test_a_run_saved_before_the_tear_check_resumes_as_it_was_made(sample_root, tmp_path):
    out = tmp_path / "old"
    run_expand(make_config(sample_root, out, limit=2), log=quiet)  # tear_check="none", as runs before it judged
    assert "none (Q alone)" in (out / "report.html").read_text()
    run_file = out / ".expand" / "run.json"
    saved = json.loads(run_file.read_text())
    del saved["settings"]["tear_check"]
    run_file.write_text(json.dumps(saved))
    before = (out / "manifest.csv").read_bytes()
    result = run_expand(make_config(sample_root, out, limit=2, tear_check=None), resume=True, log=quiet)
    assert result.summary["settings"]["tear_check"] == "none" and (out / "manifest.csv").read_bytes() == before
    if DEFAULT_TEAR_CHECK.is_file():  # the same folder judged with the check is another run
        with pytest.raises(RunConflictError, match="tear"):
            run_expand(make_config(sample_root, out, limit=2, tear_check=None), log=quiet)


def test_variants_sharing_a_source_are_judged_as_if_it_were_repeated():
    models = Models.load("demo", "demo", torch.device("cpu"), tear_check="none")
    models.tear_check = BoundOnly()
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    take = torch.tensor([0, 0, 1, 1, 0])
    keep = torch.full((5,), -1)
    y_shared, q_shared, _ = models.forward(x, keep, keep, take)
    y_repeated, q_repeated, _ = models.forward(x[take], keep, keep)
    assert torch.allclose(y_shared, y_repeated, atol=1e-6) and np.allclose(q_shared, q_repeated, atol=1e-6)


@pytest.mark.skipif(not DEFAULT_TEAR_CHECK.is_file(), reason="the built-in tear check is not built")
def test_the_manifest_and_report_say_what_the_check_did_to_each_score(sample_root, tmp_path):
    out = tmp_path / "noted"
    run_expand(make_config(sample_root, out, tear_check=None, limit=2), log=quiet)
    rows = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert "q_note" in rows.columns
    noted = rows[rows["q_note"] != ""]
    assert len(noted) > 0  # the demo Q rates the demo generator's variants above their renders: the bound bites
    for note, score in zip(noted["q_note"], noted["q_score"]):
        q_alone = float(note.split(";")[0].removeprefix("Q "))
        assert note.startswith("Q ") and score <= q_alone + 0.005
    report = (out / "report.html").read_text()
    assert report.count('class="why"') > 0
    moved = json.loads((out / "summary.json").read_text())["check_moved"]
    assert moved["variants"] == len(noted)
    assert moved["rejected"] == int((~noted["kept"].astype(str).str.lower().eq("true")).sum())
    assert sum(moved["by_cause"].values()) >= len(noted) and "check moved</th>" in report


def test_the_causes_of_a_note_and_the_runs_count_of_them():
    from augmenter.expand.summary import check_moved
    from augmenter.quality.tear_check import BOUND_WORDS, note_causes

    assert note_causes("") == []
    assert note_causes("Q 0.71; at most its photo's 0.52 + 0.05; light from black -0.20") == [BOUND_WORDS,
                                                                                          "light from black"]
    df = pd.DataFrame({"q_note": ["", "Q 0.70; torn -0.20", "Q 0.66; at most its photo's 0.55 + 0.05; torn -0.05"],
                       "kept": [True, False, True]})
    assert check_moved(df) == {"variants": 2, "rejected": 1, "by_cause": {"torn": 2, BOUND_WORDS: 1}}
    assert check_moved(df.drop(columns="q_note")) is None  # a manifest from before notes
