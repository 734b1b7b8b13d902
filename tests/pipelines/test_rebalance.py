"""rebalance-affectnet: planning, synthesis rounds with Q and the expression judge, outputs, resume."""
import json
import os
import socket

import pandas as pd
import pytest
from click.testing import CliRunner

from augmenter.datasets.record import FaceRecord
from augmenter.errors import RunConflictError
from augmenter.gan.train import GanTrainConfig, train_gan
from augmenter.skips import SkipReport
from pipelines.rebalance.config import RebalanceConfig
from pipelines.rebalance.plan import SourcePlanner, needed_counts, parse_target, source_queue
from pipelines.rebalance.run import run_rebalance
from recognition.data import synthetic_samples
from recognition.train_expression import ExpressionConfig, train_expression
from tests.datasets.fixtures import make_yaleb
from tests.recognition.fixtures import EXPRESSION_LOOKS, pattern, write_png

COUNTS = {"happy": 12, "sad": 4, "neutral": 6}


def make_fer(root, counts=COUNTS, val=3):
    for c, (name, n) in enumerate(counts.items()):
        for k in range(n):
            write_png(root / "train" / name / f"Training_{100 * c + k}.png", pattern(EXPRESSION_LOOKS[name], 32, 1000 * c + k))
        for k in range(val):
            write_png(root / "validation" / name / f"PublicTest_{100 * c + k}.png",
                      pattern(EXPRESSION_LOOKS[name], 32, 9000 + 100 * c + k))
    return root


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("rebalance")
    fer = make_fer(base / "fer")
    yale = make_yaleb(base / "yale", subjects=("yaleB01", "yaleB02"))
    train_gan(GanTrainConfig(data=[f"yaleb:{yale}", f"fer2013:{fer}"], out=str(base / "legan"), steps=1, batch_size=4,
                             g_width=8, d_width=8, image_size=32, holdout=0.0, log_every=1, grid_every=10,
                             checkpoint_every=10, workers=0, device="cpu"), log=lambda m: None)
    train_expression(ExpressionConfig(data=[f"fer2013:{fer}"], out=str(base / "expr"), epochs=2, batch_size=8,
                                      image_size=32, width=8, embedding_size=16, workers=0, device="cpu"),
                     log=lambda m: None)
    return {"fer": fer, "legan": str(base / "legan" / "last.pt"), "expr": str(base / "expr" / "best.pt"), "base": base}


def _config(setup, out, **changes):
    settings = dict(dataset="fer2013", root=str(setup["fer"]), out=str(out), edit="expression", legan=setup["legan"], q_min=0.0,
                    expression_model=setup["expr"], budget=3.0, max_uses=2, batch_size=5, device="cpu")
    return RebalanceConfig(**{**settings, **changes})


def test_targets():
    counts = {"happy": 10, "disgust": 2, "sad": 3}
    assert parse_target("uniform", counts) == {"happy": 10, "disgust": 10, "sad": 10}
    assert parse_target("mean", counts) == {"happy": 5, "disgust": 5, "sad": 5}
    assert parse_target("7", counts) == {"happy": 7, "disgust": 7, "sad": 7}
    assert parse_target("disgust=6", counts) == {"happy": 10, "disgust": 6, "sad": 3}
    assert needed_counts(counts, parse_target("7", counts)) == {"happy": 0, "disgust": 5, "sad": 4}
    for bad in ("disgust=x", "anger=3", "lots"):
        with pytest.raises(ValueError):
            parse_target(bad, counts)


def test_sources_come_from_other_classes_spread_over_identities_and_bounded():
    records = [FaceRecord(path=f"/d/{who}_{k}.png", dataset="d", identity=who, expression=e)
               for who, e in (("a", "happy"), ("b", "happy"), ("c", "sad")) for k in range(4)]
    queue = source_queue(records, "disgust", seed=0)
    first_identities = [records[i].identity for i in queue[:3]]
    assert sorted(first_identities) == ["a", "b", "c"]  # one image of each person before a second of any
    assert all(records[i].expression != "sad" for i in source_queue(records, "sad", 0))
    planner = SourcePlanner(records, ["sad", "disgust"], seed=0, max_uses=1)
    jobs = planner.take("disgust", 100, 0)
    assert len(jobs) == 12 and len({j.source for j in jobs}) == 12
    assert planner.take("sad", 5, 1) == []  # every happy image was used once already


def test_sources_can_be_limited_to_chosen_classes():
    records = [FaceRecord(path=f"/d/{who}_{k}.png", dataset="d", identity=who, expression=e)
               for who, e in (("a", "happy"), ("b", "neutral"), ("c", "sad"), ("d", "neutral")) for k in range(3)]
    queue = source_queue(records, "disgust", seed=0, sources=["neutral"])
    assert sorted({records[i].identity for i in queue}) == ["b", "d"] and len(queue) == 6
    assert source_queue(records, "neutral", 0, sources=["neutral"]) == []  # never a class's own faces
    planner = SourcePlanner(records, ["sad", "disgust"], seed=0, max_uses=1, sources=["neutral"])
    assert {records[j.source].expression for j in planner.take("sad", 100, 0)} == {"neutral"}
    assert planner.take("disgust", 5, 1) == []  # the six neutral faces were used once already


def test_source_classes_are_checked():
    config = RebalanceConfig(dataset="fer2013", root="r", out="o", edit="expression", sources="neutral, sad,neutral")
    assert config.source_classes() == ["neutral", "sad"]
    assert config.identity()["sources"] == "neutral, sad,neutral"
    assert "sources" not in RebalanceConfig(dataset="fer2013", root="r", out="o", edit="expression").identity()
    with pytest.raises(ValueError, match="source classes are chosen for edit 'expression' only"):
        RebalanceConfig(dataset="fer2013", root="r", out="o", sources="neutral")
    with pytest.raises(ValueError, match="no source class"):
        RebalanceConfig(dataset="fer2013", root="r", out="o", edit="expression", sources=" , ")


def test_rebalance_from_neutral_faces_only(setup, tmp_path):
    result = run_rebalance(_config(setup, tmp_path / "run", sources="neutral", verify_expression=False),
                           log=lambda m: None)
    rows = [r for line in open(tmp_path / "run" / ".rebalance" / "journal.jsonl") for r in json.loads(line)["rows"]]
    assert rows and {r["source_expression"] for r in rows} == {"neutral"}
    assert {r["target"] for r in rows} == {"sad"}  # neutral itself is below the target but has no other source
    assert result.summary["facts"]["sources"] == "neutral"
    with pytest.raises(ValueError, match="--sources angry: not a class of"):
        run_rebalance(_config(setup, tmp_path / "bad", sources="angry"), log=lambda m: None)


def test_rebalance_keeps_judged_faces_up_to_the_quota_and_resumes(setup, tmp_path):
    out = tmp_path / "run"
    result = run_rebalance(_config(setup, out), log=lambda m: None)
    classes = result.summary["classes"]
    assert classes["happy"]["needed"] == 0 and classes["happy"]["generated"] == 0
    for c in ("sad", "neutral"):
        t = classes[c]
        assert t["needed"] == 12 - COUNTS[c]
        assert 0 < t["generated"] <= 3 * t["needed"]
        assert t["kept"] + t["shortfall"] == t["needed"] and t["kept"] <= t["needed"]
        assert t["generated"] == (t["kept"] + t["rejected_q"] + t["rejected_expression"] + t["unreadable_sources"]
                                  + t["over_quota"])
    df = pd.read_parquet(out / "manifest.parquet")
    real, synthetic = df[~df["synthetic"]], df[df["synthetic"]]
    assert len(real) == sum(COUNTS.values())
    assert len(synthetic) == sum(t["kept"] for t in classes.values())
    assert all((out / p).is_file() for p in synthetic["out_path"])
    assert (synthetic["expression"] == synthetic["predicted_expression"]).all()  # the judge agreed on every kept face
    rows = [r for line in open(out / ".rebalance" / "journal.jsonl") for r in json.loads(line)["rows"]]
    uses = pd.Series([r["source_path"] for r in rows]).value_counts()
    assert uses.max() <= 2
    assert all(r["source_expression"] != r["target"] for r in rows)
    files = sorted(p.relative_to(out) for p in (out / "synthetic").rglob("*.png"))
    assert len(files) == len(synthetic)
    assert (out / "report.html").read_text().count("<h2>") >= 1

    # synthetic_samples reads the kept synthetic rows only (real rows are already the real data)
    samples = synthetic_samples([out / "manifest.parquet"], ["happy", "sad", "neutral"], lambda r: r.expression, SkipReport())
    assert len(samples) == len(synthetic)

    # a finished run reruns from its journal; a killed one (last batch lost) finishes identically
    again = run_rebalance(_config(setup, out), log=lambda m: None)
    assert again.summary["facts"]["batches resumed from the journal"] > 0
    assert pd.read_parquet(out / "manifest.parquet").equals(df)
    journal = out / ".rebalance" / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:-1]) + lines[-1][:10])  # torn last line
    run_rebalance(_config(setup, out), log=lambda m: None)
    assert pd.read_parquet(out / "manifest.parquet").equals(df)
    assert sorted(p.relative_to(out) for p in (out / "synthetic").rglob("*.png")) == files
    lost = out / synthetic["out_path"].iloc[-1]
    kept_bytes = lost.read_bytes()
    lost.unlink()  # a kept face gone: its batch is redone, byte for byte
    messages = []
    run_rebalance(_config(setup, out), log=messages.append)
    assert any("missing" in m for m in messages) and lost.read_bytes() == kept_bytes
    assert pd.read_parquet(out / "manifest.parquet").equals(df)
    assert sorted(p.relative_to(out) for p in (out / "synthetic").rglob("*.png")) == files

    assert not (out / ".rebalance" / "rebalance.lock").exists()  # released at the end of each run
    with pytest.raises(RunConflictError, match=r"\.rebalance/run\.json: holds a run with other settings \(target\); "
                                               "use another --out$"):
        run_rebalance(_config(setup, out, target="mean"), log=lambda m: None)


def test_a_second_run_into_a_locked_out_is_refused(setup, tmp_path):
    out = tmp_path / "run"
    lock = out / ".rebalance" / "rebalance.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}) + "\n")  # this process: alive
    with pytest.raises(RunConflictError) as err:
        run_rebalance(_config(setup, out), log=lambda m: None)
    message = str(err.value)
    assert message.startswith(f"{lock}: another rebalance-affectnet (pid {os.getpid()} on {socket.gethostname()})")
    assert "\n" not in message
    assert sorted(p.name for p in out.rglob("*")) == [".rebalance", "rebalance.lock"]  # nothing written
    assert lock.is_file()  # the holder's lock is left alone

    from pipelines.cli import rebalance_affectnet  # the command line says it in one line

    result = CliRunner().invoke(rebalance_affectnet, ["--dataset", "fer2013", "--root", str(setup["fer"]), "--out",
                                                      str(out), "--legan", setup["legan"], "--device", "cpu"])
    assert result.exit_code == 1 and "another rebalance-affectnet" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_without_the_judge_q_alone_decides(setup, tmp_path):
    result = run_rebalance(_config(setup, tmp_path / "q", expression_model=None, q_min=1.01, budget=1.0),
                           log=lambda m: None)
    classes = result.summary["classes"]
    assert all(t["kept"] == 0 and t["rejected_q"] == t["generated"] for t in classes.values())
    assert classes["sad"]["shortfall"] == 8 and classes["sad"]["generated"] == 8  # budget 1 x needed


def test_cli_runs_and_trains_the_comparison(setup, tmp_path):
    from pipelines.cli import rebalance_affectnet

    out = tmp_path / "cli"
    args = ["--dataset", "fer2013", "--root", str(setup["fer"]), "--out", str(out), "--legan", setup["legan"],
            "--q-min", "0", "--expression-model", setup["expr"], "--batch-size", "8", "--device", "cpu",
            "--train", "--epochs", "2", "--also", "synthetic", "--workers", "0", "--seeds", "2"]
    result = CliRunner().invoke(rebalance_affectnet, args)
    assert result.exit_code == 0, result.output
    for seed in (0, 1):  # every seed keeps its own single-seed comparison and run folders
        comparison = json.loads((out / "train" / f"seed{seed}" / "compare.json").read_text())
        remedies = {"none", "synthetic", "sampler", "synthetic+sampler"}
        assert comparison["seed"] == seed and set(comparison["runs"]) == remedies
        assert all(0 <= r["balanced_accuracy"] <= 1 for r in comparison["runs"].values())
        assert comparison["epoch"] == "last" and all(r["epoch"] == 1 for r in comparison["runs"].values())
        for remedy in remedies:  # the figures are the last logged epoch's, not the best one's
            logged = [json.loads(line) for line in (out / "train" / f"seed{seed}" / remedy / "log.jsonl")
                      .read_text().splitlines()]
            last = [r for r in logged if "balanced_accuracy" in r][-1]
            assert comparison["runs"][remedy]["balanced_accuracy"] == pytest.approx(last["balanced_accuracy"])
        assert "| balanced_accuracy |" in (out / "train" / f"seed{seed}" / "compare.md").read_text()
        assert all((out / "train" / f"seed{seed}" / remedy / "best.pt").is_file()
                   for remedy in remedies)
    table = json.loads((out / "seeds.json").read_text())
    # the defaults: the class's own faces relit, compared against the sampler, synthetic faces at a quarter of draws
    assert json.loads((out / "config.json").read_text())["edit"] == "lighting"
    assert table["baseline"] == "sampler" and table["seeds"] == [0, 1]
    assert table["arms"] == ["sampler", "none", "synthetic+sampler", "synthetic"]
    runs = out / "train" / "seed0"
    assert json.loads((runs / "synthetic+sampler" / "config.json").read_text())["synthetic_share"] == 0.25
    assert json.loads((runs / "synthetic" / "config.json").read_text())["synthetic_share"] is None
    assert "balanced_accuracy" in table["metrics"] and "per_class_recall.sad" in table["metrics"]
    assert "epoch" not in table["metrics"] and "train_minutes" not in table["metrics"]
    for arm in table["arms"]:
        cell = table["stats"][arm]["balanced_accuracy"]
        per_seed = [json.loads((out / "train" / f"seed{s}" / "compare.json").read_text())["runs"][arm]
                    ["balanced_accuracy"] for s in (0, 1)]
        assert cell["n"] == 2 and list(cell["values"].values()) == pytest.approx(per_seed)
        assert cell["mean"] == pytest.approx(sum(per_seed) / 2)
        if arm != "sampler":
            base = table["stats"]["sampler"]["balanced_accuracy"]["values"]
            assert cell["delta"]["n"] == 2
            assert cell["delta"]["mean"] == pytest.approx(cell["mean"] - table["stats"]["sampler"]["balanced_accuracy"]["mean"])
            assert cell["delta"]["differences"] == pytest.approx([cell["values"][s] - base[s] for s in ("0", "1")])
            assert cell["delta"]["lo"] <= cell["delta"]["mean"] <= cell["delta"]["hi"]
    markdown = (out / "seeds.md").read_text()
    assert "| balanced_accuracy | synthetic | 2 |" in markdown and markdown in result.output
    assert json.loads((out / "config.json").read_text())["train"]["seeds"] == [0, 1]

    # a rerun reuses every finished run (each seed its own folder) and gives the same table
    again = CliRunner().invoke(rebalance_affectnet, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("resumed from") == 8  # 2 seeds x 4 remedies
    assert json.loads((out / "seeds.json").read_text())["stats"] == table["stats"]

    # one seed: the single-seed comparison is printed as before, the table has no interval
    one = CliRunner().invoke(rebalance_affectnet, args[:-1] + ["1,"])
    assert one.exit_code == 0, one.output
    assert "# Expression classifier: baseline vs rebalanced (seed 1)" in one.output
    single = json.loads((out / "seeds.json").read_text())
    assert single["seeds"] == [1] and single["stats"]["synthetic"]["balanced_accuracy"]["delta"]["lo"] is None

    missing = CliRunner().invoke(rebalance_affectnet, ["--dataset", "fer2013", "--root", str(tmp_path / "nope"),
                                                        "--out", str(tmp_path / "x"), "--device", "cpu"])
    assert missing.exit_code == 1 and "Error" in missing.output
    bad = CliRunner().invoke(rebalance_affectnet, args[:-1] + ["0,0"])
    assert bad.exit_code == 2 and "--seeds" in bad.output


def test_an_unreadable_source_is_counted_not_fatal(setup, tmp_path):
    import shutil

    fer = tmp_path / "fer"
    shutil.copytree(setup["fer"], fer)
    broken = sorted((fer / "train" / "neutral").iterdir())[0]
    broken.write_bytes(b"not an image")
    result = run_rebalance(_config(setup, tmp_path / "run", root=str(fer), expression_model=None), log=lambda m: None)
    classes = result.summary["classes"]
    assert sum(t["unreadable_sources"] for t in classes.values()) >= 1
    rows = [r for line in open(tmp_path / "run" / ".rebalance" / "journal.jsonl") for r in json.loads(line)["rows"]]
    bad = [r for r in rows if r["reason"] == "unreadable source"]
    assert bad and all(r["source_path"] == str(broken) and str(broken) in r["message"] for r in bad)
    by_round = {}
    for r in rows:
        by_round.setdefault(r["round"], []).append(r["job_index"])
    assert all(ix == list(range(len(ix))) for ix in by_round.values())  # rows in job order


def test_lighting_rebalancing_relights_each_class_own_faces_once_per_light(setup, tmp_path):
    from augmenter.gan.models import load_translator

    lights = list(load_translator(setup["legan"], "cpu").lighting)[:2]
    out = tmp_path / "light"
    result = run_rebalance(_config(setup, out, edit="lighting", lights=",".join(lights), expression_model=None,
                                   max_uses=1), log=lambda m: None)
    classes = result.summary["classes"]
    assert classes["sad"]["kept"] == 8  # 4 sad photos x 2 lights: max_uses does not limit relighting
    for c in ("sad", "neutral"):
        t = classes[c]
        assert t["needed"] == 12 - COUNTS[c] and t["kept"] + t["shortfall"] == t["needed"]
        assert 0 < t["generated"] <= COUNTS[c] * len(lights)  # each own face at most once per light
    assert result.summary["facts"]["edit"] == f"lighting ({', '.join(lights)})"
    rows = [r for line in open(out / ".rebalance" / "journal.jsonl") for r in json.loads(line)["rows"]]
    assert rows and all(r["source_expression"] == r["target"] for r in rows)  # own class: the label stays right
    assert {r["lighting"] for r in rows} <= set(lights)
    pairs = [(r["source_path"], r["lighting"]) for r in rows]
    assert len(pairs) == len(set(pairs))
    df = pd.read_parquet(out / "manifest.parquet")
    synthetic = df[df["synthetic"]]
    assert len(synthetic) == sum(t["kept"] for t in classes.values())
    assert all("_L-" in p and (out / p).is_file() for p in synthetic["out_path"])
    assert set(synthetic["lighting"]) <= set(lights)
    again = run_rebalance(_config(setup, out, edit="lighting", lights=",".join(lights), expression_model=None,
                                  max_uses=1), log=lambda m: None)
    assert again.summary["facts"]["batches resumed from the journal"] > 0
    assert pd.read_parquet(out / "manifest.parquet").equals(df)


def test_lighting_settings_are_checked():
    with pytest.raises(ValueError, match="lights are chosen for edit 'lighting' only"):
        RebalanceConfig(dataset="fer2013", root="r", out="o", edit="expression", lights="az+050_el+00")
    with pytest.raises(ValueError, match="unknown edit 'colour'"):
        RebalanceConfig(dataset="fer2013", root="r", out="o", edit="colour")
    # settings added later stay out of an expression run's identity: runs made before them still resume
    assert "edit" not in RebalanceConfig(dataset="fer2013", root="r", out="o", edit="expression").identity()
    assert RebalanceConfig(dataset="fer2013", root="r", out="o").identity()["edit"] == "lighting"  # the default


def test_an_unknown_light_is_one_line_naming_the_generator(setup, tmp_path):
    from pipelines.cli import rebalance_affectnet

    result = CliRunner().invoke(rebalance_affectnet, ["--dataset", "fer2013", "--root", str(setup["fer"]), "--out",
                                                      str(tmp_path / "o"), "--legan", setup["legan"], "--device", "cpu",
                                                      "--edit", "lighting", "--lights", "az+999_el+00"])
    assert result.exit_code == 1, result.output
    error = result.output.strip().splitlines()[-1]  # after the run's first log lines, the error in one line
    assert error.startswith(f"Error: {setup['legan']}: has no light az+999_el+00; its lights are "), result.output


def test_lighting_planner_walks_each_light_queue_once():
    records = [FaceRecord(path=f"/d/{who}_{k}.png", dataset="d", identity=who, expression=e)
               for who, e in (("a", "happy"), ("b", "sad")) for k in range(3)]
    planner = SourcePlanner(records, ["sad"], seed=0, max_uses=10, lights=["L1", "L2"])
    first = planner.take(("sad", "L1"), 100, 0)
    assert sorted(os.path.basename(records[j.source].path) for j in first) == ["b_0.png", "b_1.png", "b_2.png"]
    assert planner.take(("sad", "L1"), 100, 1) == []  # walked once: no light twice on one face
    assert len(planner.take(("sad", "L2"), 100, 0)) == 3
    other = [os.path.basename(records[i].path) for i in source_queue(records, "sad", 0, own=True, salt="L2")]
    assert sorted(other) == ["b_0.png", "b_1.png", "b_2.png"]
    assert source_queue(records, "sad", 0) == source_queue(records, "sad", 0, salt="")  # unsalted order unchanged


def test_compare_defaults_are_the_measured_recipe():
    from pipelines.rebalance.compare import CompareSettings

    settings = CompareSettings()
    assert settings.remedies == ("none", "sampler", "synthetic+sampler") and settings.baseline == "sampler"
    assert settings.synthetic_share == 0.25 and settings.epochs == 12
    assert CompareSettings(remedies=("none", "synthetic")).baseline == "none"  # no sampler: against no remedy
    assert CompareSettings(remedies=("reweight", "synthetic")).baseline == "reweight"
    with pytest.raises(ValueError, match="synthetic_share must be in"):
        CompareSettings(synthetic_share=1.5)
