"""``eval-ijbb`` end to end with click's runner on meta files and features written to tmp_path."""
import json

import numpy as np
from click.testing import CliRunner

from evaluation.cli_ijbb import eval_ijbb
from tests.evaluation.test_ijbb import GOLDEN, GOLDEN_PAIRS, loop_scores, random_images, write_case


def test_eval_ijbb_writes_json_markdown_plot_and_scores(tmp_path):
    images, pairs = random_images(np.random.default_rng(11))
    folder = write_case(tmp_path / "meta", images, pairs, shuffle_features=True)
    out = tmp_path / "out"
    result = CliRunner().invoke(eval_ijbb, ["--meta-dir", str(folder), "--features", str(folder / "feats.npz"),
                                            "--out", str(out), "--save-scores", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    written = json.loads((out / "ijbb.json").read_text())
    assert printed == written
    assert {"protocol", "tar_at_far", "auc", "n_pairs", "n_genuine", "n_impostor", "n_templates", "n_images",
            "switches", "timings_s"} <= set(written)
    assert list(written["tar_at_far"]) == ["1e-06", "1e-05", "1e-04", "1e-03", "1e-02", "1e-01"]
    assert written["n_pairs"] == len(pairs) == written["n_genuine"] + written["n_impostor"]
    assert written["n_templates"] == 40 and written["n_images"] == len(images)
    assert {"read_meta", "features", "pooling", "scoring", "tar_far", "write"} <= set(written["timings_s"])
    assert (out / "ijbb_roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| 1e-04 |" in (out / "ijbb.md").read_text()
    scores = np.load(out / "ijbb_scores.npy")
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, loop_scores(images, pairs), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(np.load(out / "ijbb_labels.npy"), [p[2] for p in pairs])


def test_eval_ijbb_summary_line_switches_and_errors(tmp_path):
    folder = write_case(tmp_path / "meta", GOLDEN, GOLDEN_PAIRS, dtype=np.float64)
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(eval_ijbb, ["--meta-dir", str(folder), "--features", str(folder / "feats.npz"),
                                       "--out", str(out), "--no-flip", "--no-detector-score", "--normalize-images"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("IJB-B 1:1: TAR@FAR 1e-06 ") and result.stdout.count("\n") == 1
    assert json.loads((out / "ijbb.json").read_text())["switches"] == \
        {"flip": False, "detector_score": False, "normalize_images": True}
    assert not (out / "ijbb_scores.npy").exists()

    (folder / "ijbb_template_pair_label.txt").write_text("1 2 1\n1 3 x\n")
    result = runner.invoke(eval_ijbb, ["--meta-dir", str(folder), "--features", str(folder / "feats.npz"),
                                       "--out", str(out)])
    assert result.exit_code == 1
    assert "ijbb_template_pair_label.txt: line 2: label is not a valid label (0 or 1): 'x'" in result.output
    assert "Traceback" not in result.output

    result = runner.invoke(eval_ijbb, ["--meta-dir", str(folder), "--out", str(out)])
    assert result.exit_code == 2 and "either --features or --checkpoint" in result.output
    result = runner.invoke(eval_ijbb, ["--meta-dir", str(folder), "--checkpoint", "x.pt", "--out", str(out)])
    assert result.exit_code == 2 and "--image-dir" in result.output
