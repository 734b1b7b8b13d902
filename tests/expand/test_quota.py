"""The synthesis engine's library features: extra judges besides Q, and quota runs (rounds until every
target has its quota of kept variants, within a budget of attempts), with resume."""
from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from augmenter.datasets.record import FaceRecord
from augmenter.datasets.registry import read_dataset
from augmenter.errors import RunConflictError
from augmenter.expand.engine import Models, run_expand
from augmenter.expand.journal import ChunkJournal
from augmenter.expand.plan import Target, Variant
from augmenter.expand.quota import ROUND_STRIDE, QuotaState, round_requests, run_quotas
from augmenter.expand.synthesis import Chunk, ChunkProcessor, KeepRule, judge_batch
from tests.expand.helpers import make_config, quiet
from tests.expand.test_engine import images, journal_of, manifest

SMILE, NEUTRAL = Target(expression="smile"), Target(expression="neutral")


# --- units --------------------------------------------------------------------------------------------

def test_round_requests_follow_the_acceptance_seen_so_far_within_the_budget():
    states = {
        "fresh": QuotaState(quota=10, budget=40),                                  # prior acceptance 0.5
        "poor": QuotaState(quota=10, budget=40, generated=10, kept=2, rejected={"q": 8}),
        "capped": QuotaState(quota=10, budget=12, generated=10, kept=1, rejected={"q": 9}),
        "hopeless": QuotaState(quota=10, budget=100, generated=10, kept=0, rejected={"q": 10}),
        "done": QuotaState(quota=3, budget=12, generated=5, kept=3, rejected={"q": 2}),
        "spent": QuotaState(quota=3, budget=5, generated=5, kept=1, rejected={"q": 4}),
        "nothing": QuotaState(quota=0, budget=0),
    }
    assert round_requests(states) == {"fresh": 22,           # ceil(1.1 x 10 / 0.5)
                                      "poor": 30,            # ceil(1.1 x 8 / 0.2) = 44, 30 attempts left
                                      "capped": 2,           # budget left
                                      "hopeless": 90}        # acceptance counts as 0.02: 495, 90 left
    s = QuotaState(quota=2, budget=8)
    for reason in ("", "q", "judge", ""):
        s.count(reason)
    assert (s.generated, s.kept, s.rejected, s.short, s.attempts_left) == (4, 2, {"q": 1, "judge": 1}, 0, 4)


def test_a_judge_answer_is_checked_and_may_carry_labels():
    images_ = torch.zeros(3, 3, 8, 8)
    targets = [SMILE] * 3
    verdicts = judge_batch("j", lambda x, t: ([True, False, True], [0.9, 0.1, 0.5], ["a", "b", "c"]), images_, targets)
    assert [(v.accept, v.score, v.label) for v in verdicts] == [(True, 0.9, "a"), (False, 0.1, "b"), (True, 0.5, "c")]
    assert judge_batch("j", lambda x, t: (np.ones(3, bool), np.zeros(3)), images_, targets)[0].label is None
    with pytest.raises(ValueError, match="judge 'short'"):
        judge_batch("short", lambda x, t: ([True], [1.0]), images_, targets)


class FakeModels:
    """A generator that adds a colour cast, and a Q that answers the given scores in turn."""

    def __init__(self, q: list[float]):
        self.translator = SimpleNamespace(lighting=["ambient"], expression=["neutral", "smile"], image_size=4)
        self.q = q

    def forward(self, x, lighting, expression, take=None):
        x = x if take is None else x[take]
        y = (x + torch.tensor([0.2, 0.0, -0.2])[None, :, None, None]).clamp(-1, 1)
        return y, np.array(self.q[:len(x)], dtype=np.float64), [""] * len(x)


class RecordingLayout:
    records = [FaceRecord(path=f"/s{i}.png", dataset="d") for i in range(3)]  # no expression: any target is applied

    def paths(self, v):
        return f"kept/{v.source}_{v.index}.png", f"rejected/{v.source}_{v.index}.png"

    def row(self, o):
        return {"out_path": o.path, "kept": o.kept, "reason": o.reason, "q": o.q,
                "verdicts": {k: [v.accept, v.score, v.label] for k, v in o.verdicts.items()}}

    def annotate(self, entry, batch):
        entry["pixels"] = batch.pixels.tolist()


def test_keep_rule_q_then_judges_then_quota_and_grey_sources_stay_grey(tmp_path):
    seen = {}

    def judge(x, targets):
        seen["x"] = x.clone()
        return [True, False, True, True], [1.0, 0.0, 1.0, 1.0], ["smile", "neutral", "smile", "smile"]

    rule = KeepRule(q_min=0.5, judges={"mood": judge}, match_grey=True)
    models = FakeModels([0.9, 0.9, 0.4, 0.9])
    with ThreadPoolExecutor(1) as pool:
        processor = ChunkProcessor(RecordingLayout(), models, torch.device("cpu"), pool, tmp_path, rule,
                                   room=lambda: {SMILE: 1})
        grey = torch.full((1, 3, 4, 4), 100, dtype=torch.uint8)
        colour = torch.tensor([10, 20, 30], dtype=torch.uint8)[None, :, None, None].expand(1, 3, 4, 4).clone()
        variants = [Variant(0, 0, SMILE, 1), Variant(0, 1, SMILE, 2), Variant(1, 0, SMILE, 3), Variant(1, 1, NEUTRAL, 4)]
        futures, entry = processor.process(Chunk(7, [0, 1, 2], variants), [0, 1], torch.cat([grey, colour]),
                                           [(2, "unreadable image", "x.png: broken")])
        for f in futures:
            f.result()
    x = seen["x"]
    assert torch.equal(x[0, 0], x[0, 1]) and torch.equal(x[0, 1], x[0, 2])  # the grey source's output is grey
    assert not torch.equal(x[2, 0], x[2, 2])                                   # the colour one keeps its cast
    assert [r["reason"] for r in entry["rows"]] == ["", "mood", "q", ""]      # Q first, then the judge
    assert entry["reasons"] == ["", "mood", "q", ""]
    assert [r["kept"] for r in entry["rows"]] == [True, False, False, True]   # NEUTRAL has no quota: not limited
    assert entry["rows"][0]["verdicts"] == {"mood": [True, 1.0, "smile"]}
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")) == ["kept/0_0.png", "kept/1_1.png"]
    # the quota: SMILE had room for one, so a second passing SMILE variant is over quota
    models.q = [0.9, 0.9, 0.9, 0.9]
    with ThreadPoolExecutor(1) as pool:
        processor = ChunkProcessor(RecordingLayout(), models, torch.device("cpu"), pool, tmp_path / "two",
                                   KeepRule(q_min=0.5), room=lambda: {SMILE: 1})
        _, entry = processor.process(Chunk(8, [0, 1], variants[:3]), [0, 1], torch.cat([grey, colour]), [])
    assert entry["reasons"] == ["", "over quota", "over quota"]


# --- extra judges in augment expand --------------------------------------------------------------------

def flash07_only(x, targets):
    """Accepts the variants relit to flash07; scores by the image's mean."""
    return [t.lighting == "flash07" for t in targets], x.mean(dim=(1, 2, 3)).cpu().numpy()


def test_run_expand_keeps_only_what_q_and_every_judge_accept(sample_root, reference, tmp_path):
    out = tmp_path / "judged"
    config = make_config(sample_root, out)
    result = run_expand(config, log=quiet, judges={"light": flash07_only})
    df, ref = manifest(out), manifest(reference)
    assert list(df["out_path"].str.replace(".rejected/", "", regex=False)) == \
        list(ref["out_path"].str.replace(".rejected/", "", regex=False))
    judged = df["target"].str.contains("L-flash07")
    assert judged.any() and (~judged).any()
    assert list(df["kept"]) == list(ref["kept"] & judged)
    assert list(df["q_score"]) == list(ref["q_score"])  # Q is still the built-in judge
    assert df["judge_light"].between(-1, 1).all() and "judge_light" not in ref.columns
    assert sorted(images(out)) == sorted(df.loc[df["kept"], "out_path"])
    assert result.summary["kept"] == int(df["kept"].sum())
    assert json.loads((out / ".expand" / "run.json").read_text())["judges"] == ["light"]

    before = (out / "manifest.csv").read_bytes(), images(out)
    lines = journal_of(out).read_text().splitlines(keepends=True)
    journal_of(out).write_text("".join(lines[:-2]))  # killed: the last two chunks lost
    run_expand(config, log=quiet, judges={"light": flash07_only})
    assert ((out / "manifest.csv").read_bytes(), images(out)) == before
    with pytest.raises(RunConflictError, match="extra judges"):
        run_expand(config, log=quiet)
    with pytest.raises(RunConflictError, match="extra judges"):
        run_expand(config, log=quiet, judges={"other": flash07_only})


# --- quota runs ----------------------------------------------------------------------------------------

class QuotaLayout:
    def __init__(self, records):
        self.records = records

    def paths(self, v):
        return f"quota/{v.target.tag}/{v.source:03d}_u{v.index}.png", f"rejected/{v.source:03d}_u{v.index}.png"

    def row(self, o):
        return {"out_path": o.path, "kept": o.kept, "reason": o.reason, "target": o.variant.target.tag,
                "source": o.variant.source, "use": o.variant.index, "q": o.q, "position": o.position}

    def annotate(self, entry, batch):
        pass


class Supply:
    """Sources of other expressions, in listing order, each used at most ``max_uses`` times."""

    def __init__(self, records, max_uses=2):
        self.records, self.max_uses = records, max_uses
        self.uses = [0] * len(records)
        self.calls = []

    def __call__(self, target, n, round_number):
        self.calls.append((target, n, round_number))
        out = []
        for i, r in enumerate(self.records):
            while len(out) < n and r.expression != target.expression and self.uses[i] < self.max_uses:
                out.append(Variant(i, self.uses[i], target, 1000 * i + self.uses[i]))
                self.uses[i] += 1
        return out


def best_of_each_batch(x, targets):
    """Accepts the brightest output(s) of each chunk: about one in four, so a quota takes several rounds."""
    score = x.mean(dim=(1, 2, 3)).cpu().numpy()
    return score >= score.max(), score


def quota_run(sample_root, out, quotas, rule, models, **kw):
    records = read_dataset("sample", str(sample_root)).records
    supply = Supply(records)
    run = run_quotas(QuotaLayout(records), models, torch.device("cpu"), out, ChunkJournal(out / "journal.jsonl"),
                     rule, quotas, supply, **{"batch_size": 4, "budget": 3.0, "log": quiet, **kw})
    return run, supply


def written(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.png"))}


@pytest.fixture(scope="module")
def demo_models():
    return Models.load("demo", "demo", torch.device("cpu"), tear_check="none")  # mechanics, not judgement


def test_a_quota_run_meets_its_quotas_counts_rejections_and_resumes(sample_root, demo_models, tmp_path):
    out = tmp_path / "quota"
    quotas = {SMILE: 4, NEUTRAL: 3}
    rule = KeepRule(q_min=0.0, judges={"best": best_of_each_batch})
    run, supply = quota_run(sample_root, out, quotas, rule, demo_models)
    for target, s in run.states.items():
        assert 0 < s.kept <= quotas[target] and s.kept + s.short == quotas[target]
        assert s.generated <= math.floor(3.0 * quotas[target])
        assert s.generated == s.kept + sum(s.rejected.values())
        assert s.rejected.get("best", 0) > 0  # the judge's rejections are counted under its name
    assert run.rounds >= 2 and len({e["chunk"] // ROUND_STRIDE for e in run.entries}) == run.rounds
    rows = run.rows
    assert [r["reason"] for r in rows].count("") == sum(s.kept for s in run.states.values())
    assert sorted(written(out)) == sorted(r["out_path"] for r in rows if r["kept"])  # over quota: not written
    assert all(r["out_path"] == "" for r in rows if not r["kept"])
    assert supply.calls[0] == (SMILE, 9, 0) and supply.calls[1] == (NEUTRAL, 7, 0)  # ceil(1.1 x quota / 0.5)
    files = written(out)

    # killed: the last chunk lost and a kept image gone -> the rerun ends with the same outputs
    journal = out / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:-1]) + lines[-1][:7])
    kept = next(r["out_path"] for r in rows if r["kept"])
    (out / kept).unlink()
    messages = []
    again, again_supply = quota_run(sample_root, out, quotas, rule, demo_models, log=messages.append)
    assert any("missing" in m and kept in m for m in messages), messages
    assert again.rows == rows and written(out) == files
    assert again_supply.calls == supply.calls
    assert 0 < again.chunks_resumed < again.chunks_resumed + again.chunks_run
    assert {t: (s.kept, s.generated, s.rejected) for t, s in again.states.items()} == \
        {t: (s.kept, s.generated, s.rejected) for t, s in run.states.items()}


def test_a_round_that_overshoots_keeps_exactly_the_quota(sample_root, demo_models, tmp_path):
    out = tmp_path / "over"
    run, _ = quota_run(sample_root, out, {SMILE: 3}, KeepRule(q_min=0.0), demo_models)
    s = run.states[SMILE]
    assert run.rounds == 1 and s.generated == 7 and s.kept == 3 and s.rejected == {"over quota": 4}
    assert [r["reason"] for r in run.rows] == [""] * 3 + ["over quota"] * 4  # in job order
    assert [r["position"] for r in run.rows] == list(range(7))
    assert len(written(out)) == 3


def test_a_quota_the_judges_never_allow_ends_at_the_budget_with_a_shortfall(sample_root, demo_models, tmp_path):
    out = tmp_path / "short"
    never = KeepRule(q_min=0.0, judges={"never": lambda x, t: (np.zeros(len(t), bool), np.zeros(len(t)))})
    run, _ = quota_run(sample_root, out, {SMILE: 2, NEUTRAL: 0}, never, demo_models, budget=2.5)
    s = run.states[SMILE]
    assert s.kept == 0 and s.short == 2 and s.generated == 5 and s.rejected == {"never": 5}  # floor(2.5 x 2)
    assert run.states[NEUTRAL].generated == 0
    assert written(out) == {}


def test_an_expression_the_source_already_shows_is_kept_not_applied_again(tmp_path):
    models = SimpleNamespace(translator=SimpleNamespace(lighting=["L"], expression=["neutral", "smile", "sad"]))
    processor = ChunkProcessor(SimpleNamespace(records=[]), models, torch.device("cpu"), None, tmp_path, KeepRule(0.0))
    happy = FaceRecord(path="/x.png", dataset="d", expression="happy")
    assert processor._expression("happy", happy) == -1 and processor._expression("smile", happy) == -1
    assert processor._expression(None, happy) == -1
    assert processor._expression("sad", happy) == 2  # another expression is applied
