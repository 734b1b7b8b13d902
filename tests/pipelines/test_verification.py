"""augment-verification: split, relit variants of training images only, two verifiers, one table."""
import json

import numpy as np
from PIL import Image

from click.testing import CliRunner

from augmenter.datasets.manifest import read_manifest
from augmenter.gan.train import GanTrainConfig, train_gan
from tests.datasets.fixtures import make_fer_folders, make_yaleb
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


def test_experiment_trains_both_verifiers_on_the_same_budget(tmp_path):
    from pipelines.cli import augment_verification

    yale = make_yale(tmp_path / "yale")
    legan = tmp_path / "legan"
    train_gan(GanTrainConfig(data=[f"yaleb:{make_yaleb(tmp_path / 'y2')}", f"fer2013:{make_fer_folders(tmp_path / 'fer')}"],
                             out=str(legan), steps=1, batch_size=4, g_width=8, d_width=8, image_size=32, holdout=0.0,
                             grid_every=10, checkpoint_every=10, workers=0, device="cpu"), log=lambda m: None)
    out = tmp_path / "run"
    result = CliRunner().invoke(augment_verification, [
        "--root", str(yale), "--out", str(out), "--legan", str(legan / "last.pt"), "--q-min", "0", "--per-image", "2",
        "--pairs-per-kind", "6", "--epochs", "1", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    comparison = json.loads((out / "comparison.json").read_text())
    assert set(comparison["runs"]) == {"real", "real+synthetic"}
    for run in comparison["runs"].values():
        assert 0 <= run["harsh"]["accuracy_mean"] <= 1 and 0 <= run["frontal"]["accuracy_mean"] <= 1
    # only variants of near-frontal images of training identities are trained on
    synthetic = read_manifest(out / "expand" / "manifest_train_sources.parquet")
    assert len(synthetic) == comparison["n_synthetic"] > 0
    assert all(("+130" not in p and "-130" not in p and "85E" not in p) for p in synthetic["source_path"])
    held = {line.split(",")[0].split("/")[0] for line in (out / "pairs_harsh.csv").read_text().splitlines()[1:]}
    assert not held & set(synthetic["identity"])
    assert all(t in comparison["targets"] for t in ("flash01", "flash13"))
    # same budget: both runs took the same number of optimizer steps
    steps = [json.loads(line)["step"] for name in ("real", "real_synthetic")
             for line in (out / name / "log.jsonl").read_text().splitlines()[-1:]]
    assert steps[0] == steps[1]
    assert "| harsh.accuracy_mean |" in (out / "comparison.md").read_text()
