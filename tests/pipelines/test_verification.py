"""augment-verification: split, relit variants of training images only, two verifiers, one table."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from click.testing import CliRunner

from augmenter.datasets.manifest import manifest_records, read_manifest
from augmenter.gan.train import GanTrainConfig, train_gan
from tests.datasets.fixtures import make_fer_folders, make_yaleb, multipie_path
from tests.recognition.fixtures import pattern

SUBJECTS = tuple(f"yaleB{i:02d}" for i in range(1, 9))
DIRECTIONS = ("A+000E+00", "A+010E+00", "A-010E+00", "A+020E-10", "A+130E+20", "A-130E+20", "A+085E+20", "A-085E+20")


def make_yale(root):
    kinds = ("red", "green", "blue", "checker", "bright", "dark", "vstripes", "hstripes")
    for s, subject in enumerate(SUBJECTS):
        for d, direction in enumerate(DIRECTIONS):
            path = root / subject / f"{subject}_P00{direction}.pgm"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pattern(kinds[s], 32, 100 * s + d).mean(2).astype(np.uint8), "L").save(path, format="PPM")
    return root


@pytest.fixture(scope="module")
def tiny_legan(tmp_path_factory):
    """A one-step LEGAN that knows Yale B lights and FER-2013 expressions."""
    base = tmp_path_factory.mktemp("legan")
    legan = base / "legan"
    train_gan(GanTrainConfig(data=[f"yaleb:{make_yaleb(base / 'y2')}", f"fer2013:{make_fer_folders(base / 'fer')}"],
                             out=str(legan), steps=1, batch_size=4, g_width=8, d_width=8, image_size=32, holdout=0.0,
                             grid_every=10, checkpoint_every=10, workers=0, device="cpu"), log=lambda m: None)
    return legan / "last.pt"


def test_experiment_trains_both_verifiers_on_the_same_budget(tmp_path, tiny_legan):
    from pipelines.cli import augment_verification

    yale = make_yale(tmp_path / "yale")
    out = tmp_path / "run"
    args = ["--root", str(yale), "--out", str(out), "--legan", str(tiny_legan), "--q-min", "0", "--per-image", "2",
            "--pairs-per-kind", "6", "--epochs", "1", "--device", "cpu", "--seeds", "2"]
    result = CliRunner().invoke(augment_verification, args)
    assert result.exit_code == 0, result.output
    expanded = read_manifest(out / "expand" / "manifest.parquet")
    for seed in (0, 1):
        run_dir = out / f"seed{seed}"
        comparison = json.loads((run_dir / "comparison.json").read_text())
        assert comparison["seed"] == seed and set(comparison["runs"]) == {"real", "real+synthetic"}
        for run in comparison["runs"].values():
            assert 0 <= run["harsh"]["accuracy_mean"] <= 1 and 0 <= run["frontal"]["accuracy_mean"] <= 1
        # only variants of near-frontal images of this seed's training identities are trained on
        synthetic = read_manifest(run_dir / "manifest_train_sources.parquet")
        assert len(synthetic) == comparison["n_synthetic"] > 0
        # the cut manifest lives in the seed's folder: its paths must still reach the expansion's images
        # (they once did not, and the "real+synthetic" arm trained on real faces alone)
        records, missing = manifest_records(run_dir / "manifest_train_sources.parquet")
        assert len(records) == len(synthetic) and missing.total == 0
        assert {r.path.resolve() for r in records} <= {(out / "expand" / p).resolve() for p in expanded["out_path"]}
        assert all(("+130" not in p and "-130" not in p and "85E" not in p) for p in synthetic["source_path"])
        held = {line.split(",")[0].split("/")[0] for name in ("harsh", "frontal")
                for line in (run_dir / f"pairs_{name}.csv").read_text().splitlines()[1:]}
        assert held and not held & set(synthetic["identity"])
        trained = set(json.loads((run_dir / "real_synthetic" / "best.pt").with_name("config.json").read_text())
                      ["synthetic"])
        assert trained == {str(run_dir / "manifest_train_sources.parquet")}
        assert all(t in comparison["targets"] for t in ("flash01", "flash13"))
        # same budget: both runs took the same number of optimizer steps
        steps = [json.loads(line)["step"] for name in ("real", "real_synthetic")
                 for line in (run_dir / name / "log.jsonl").read_text().splitlines()[-1:]]
        assert steps[0] == steps[1]
        assert "| harsh.accuracy_mean |" in (run_dir / "comparison.md").read_text()

    table = json.loads((out / "seeds.json").read_text())
    assert table["baseline"] == "real" and table["arms"] == ["real", "real+synthetic"] and table["seeds"] == [0, 1]
    assert {"harsh.accuracy_mean", "frontal.accuracy_mean", "harsh.auc"} <= set(table["metrics"])
    for arm in table["arms"]:
        for metric in ("harsh.accuracy_mean", "frontal.accuracy_mean"):
            cell = table["stats"][arm][metric]
            pair_list, figure = metric.split(".")
            per_seed = [json.loads((out / f"seed{s}" / "comparison.json").read_text())["runs"][arm][pair_list][figure]
                        for s in (0, 1)]
            assert cell["n"] == 2 and [cell["values"][s] for s in ("0", "1")] == pytest.approx(per_seed)
            assert cell["mean"] == pytest.approx(sum(per_seed) / 2)
    delta = table["stats"]["real+synthetic"]["harsh.accuracy_mean"]["delta"]
    base = table["stats"]["real"]["harsh.accuracy_mean"]
    assert delta["n"] == 2 and delta["mean"] == pytest.approx(
        table["stats"]["real+synthetic"]["harsh.accuracy_mean"]["mean"] - base["mean"])
    assert delta["lo"] <= delta["mean"] <= delta["hi"]
    markdown = (out / "seeds.md").read_text()
    assert "| harsh.accuracy_mean | real+synthetic | 2 |" in markdown and markdown in result.output

    # a rerun reuses the expansion and every finished verifier, and gives the same table
    again = CliRunner().invoke(augment_verification, args)
    assert again.exit_code == 0, again.output
    assert again.output.count("resumed from") == 4
    assert json.loads((out / "seeds.json").read_text())["stats"] == table["stats"]
    bad = CliRunner().invoke(augment_verification, args[:-1] + ["x"])
    assert bad.exit_code == 2 and "--seeds" in bad.output


def test_the_compared_epoch_is_the_last_unless_asked_and_nothing_else_is_accepted(tmp_path):
    from pipelines.verification import VerificationExperiment

    assert VerificationExperiment(root=str(tmp_path), out=str(tmp_path / "o")).epoch == "last"
    assert VerificationExperiment(root=str(tmp_path), out=str(tmp_path / "o"), epoch="best-frontal").epoch == "best-frontal"
    with pytest.raises(ValueError, match="epoch must be"):
        VerificationExperiment(root=str(tmp_path), out=str(tmp_path / "o"), epoch="best")


def test_added_synthetic_draws_keep_the_real_draws_of_the_real_only_verifier(tmp_path):
    from pipelines.verification import VerificationExperiment, arm_epoch_size

    replace = VerificationExperiment(root=str(tmp_path), out=str(tmp_path / "o"), synthetic_ratio=0.5)
    assert replace.synthetic_draws == "replace"
    assert arm_epoch_size(replace, 369, "real") == arm_epoch_size(replace, 369, "real+synthetic") == 369
    add = VerificationExperiment(root=str(tmp_path), out=str(tmp_path / "o"), synthetic_ratio=0.5, synthetic_draws="add")
    assert arm_epoch_size(add, 369, "real") == 369
    assert arm_epoch_size(add, 369, "real+synthetic") == 738  # half of 738 draws are real: 369, as without
    quarter = VerificationExperiment(root=str(tmp_path), out=str(tmp_path / "o"), synthetic_ratio=0.25,
                                     synthetic_draws="add")
    assert arm_epoch_size(quarter, 300, "real+synthetic") * 0.75 == 300
    with pytest.raises(ValueError, match="synthetic draws must be one of replace, add"):
        VerificationExperiment(root=str(tmp_path), out=str(tmp_path / "o"), synthetic_draws="more")


def test_all_frontal_pairs_take_every_same_person_pair_of_the_held_out_people(tmp_path):
    import csv

    from pipelines.verification_all_pairs import all_frontal_pairs

    yale = make_yale(tmp_path / "yale")
    path = all_frontal_pairs(yale, {"yaleB01", "yaleB02", "yaleB03"}, tmp_path / "pairs.csv")
    rows = list(csv.reader(path.read_text().splitlines()))[1:]
    near = ("A+000E+00", "A+010E+00", "A-010E+00", "A+020E-10")  # 4 of the 8 lights are within 35 degrees
    assert all(any(d in cell for d in near) for row in rows for cell in row[:2])
    people = {cell.split("/")[0] for row in rows for cell in row[:2]}
    assert people == {"yaleB01", "yaleB02", "yaleB03"}
    same = [row for row in rows if row[0].split("/")[0] == row[1].split("/")[0]]
    assert len(same) == 3 * (4 * 3 // 2) and len(rows) == 2 * len(same)  # every same pair, as many different
    assert len({tuple(sorted(row[:2])) for row in same}) == len(same)


MULTIPIE_SUBJECTS = tuple(f"{i:03d}" for i in range(1, 9))


def make_multipie_faces(root):
    """Eight subjects, neutral (recording 01) and smile (02), frontal-ish flashes 06/07/08 and harsh 01/13."""
    kinds = ("red", "green", "blue", "checker", "bright", "dark", "vstripes", "hstripes")
    for s, subject in enumerate(MULTIPIE_SUBJECTS):
        for recording in ("01", "02"):
            for k, flash in enumerate(("06", "07", "08", "01", "13")):
                path = multipie_path(root, subject, "01", recording, "05_1", flash)
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pattern(kinds[s], 32, 100 * s + 10 * int(recording) + k)).save(path)
    return root


def test_second_experiment_trains_on_neutral_faces_and_tests_other_expressions(tmp_path, tiny_legan):
    from pipelines.cli import augment_verification

    root = make_multipie_faces(tmp_path / "multipie")
    out = tmp_path / "run"
    held = ["006", "007", "008"]
    result = CliRunner().invoke(augment_verification, [
        "--dataset", "multipie", "--root", str(root), "--out", str(out), "--mode", "both",
        "--train-expressions", "neutral", "--legan", str(tiny_legan), "--q-min", "0", "--per-image", "2",
        "--pairs-per-kind", "3", "--epochs", "1", "--device", "cpu", "--seeds", "1,", "--held-out", ",".join(held)])
    assert result.exit_code == 0, result.output
    comparison = json.loads((out / "seed1" / "comparison.json").read_text())
    assert set(comparison["runs"]["real"]) >= {"frontal", "harsh", "expression"}
    assert comparison["n_real"] == 5 * 3  # five training subjects x three near-frontal neutral photos
    expanded = read_manifest(out / "expand" / "manifest.parquet")
    assert set(expanded["expression"]) - {"neutral"}  # joint edits: expressions as well as lights
    synthetic = read_manifest(out / "seed1" / "manifest_train_sources.parquet")
    assert len(synthetic) == comparison["n_synthetic"] == 15 * 2
    assert all("_01_05" in Path(p).name and not Path(p).name.endswith(("_01.png", "_13.png"))
               for p in synthetic["source_path"])  # neutral, near-frontal training photos only
    assert not set(synthetic["identity"]) & set(held)
    for name in ("frontal", "harsh", "expression"):
        pairs = (out / "seed1" / f"pairs_{name}.csv").read_text().splitlines()[1:]
        names = [Path(p).name for line in pairs for p in line.split(",")[:2]]
        assert names and all(n.split("_")[0] in held for n in names)
        assert all(("_02_05" in n) == (name == "expression") for n in names)
        assert all(n.endswith(("_01.png", "_13.png")) == (name == "harsh") for n in names)
    config = json.loads((out / "seed1" / "real" / "config.json").read_text())
    assert config["expressions"] == ["neutral"] and config["data"] == [f"multipie:{root}"]


def test_training_expressions_accept_their_aliases():
    from augmenter.datasets.record import FaceRecord
    from pipelines.verification import VerificationExperiment

    config = VerificationExperiment(root="r", out="o", dataset="multipie", train_expressions=["happy", "neutral"])
    shows = lambda e: config.usual_expression(FaceRecord(path="/x.png", dataset="multipie", expression=e))  # noqa: E731
    assert shows("smile") and shows("happy") and shows("neutral")  # Multi-PIE's smile is the emotion happy
    assert not shows("scream") and not shows("unknown")


def test_the_expansion_relights_in_the_recipes_lab_style_only_for_a_fields_generator():
    from augmenter.expand.config import ExpandConfig
    from pipelines.verification import VerificationExperiment, expand_settings

    settings, targets = expand_settings(VerificationExperiment(root="r", out="o"))
    assert settings["relight_style"] == "lab" and settings["mode"] == "lighting" and targets
    assert ExpandConfig(dataset="yaleb", out="o", **settings).relight_style == "lab"
    photo, _ = expand_settings(VerificationExperiment(root="r", out="o", relight_style="photo", mode="both"))
    assert photo["relight_style"] == "photo" and photo["mode"] == "both"
    legan, _ = expand_settings(VerificationExperiment(root="r", out="o", legan="demo"))
    assert "relight_style" not in legan
