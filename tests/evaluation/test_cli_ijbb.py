"""``eval-ijbb`` end to end with click's runner on meta files and features written to tmp_path."""
import json

import numpy as np
import pytest
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


class _Payload:
    """Unpickling it would create the file named in ``marker`` (so a test can tell if anything unpickled)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _names():
    return np.array([g[0] for g in GOLDEN])


def _emb(n=len(GOLDEN), dtype=np.float32):
    return np.ones((n, 2), dtype)


BAD_FEATURES = {
    "garbage": lambda p: p.write_bytes(b"this is not a zip file at all\x00\x01\x02" * 10),
    "empty": lambda p: p.write_bytes(b""),
    "truncated": lambda p: (np.savez(p, names=_names(), embeddings=_emb(), flip_embeddings=_emb()),
                            p.write_bytes(p.read_bytes()[:200])),
    "object_names": lambda p: np.savez(p, names=np.array(_names(), dtype=object), embeddings=_emb(),
                                       flip_embeddings=_emb()),
    "object_embeddings": lambda p: np.savez(p, names=_names(), embeddings=np.array([[1, 2]] * 7, dtype=object),
                                            flip_embeddings=_emb()),
    "pickle": lambda p: p.write_bytes(__import__("pickle").dumps(_Payload(p.parent / "UNPICKLED"))),
    "no_names": lambda p: np.savez(p, embeddings=_emb(), flip_embeddings=_emb()),
    "no_embeddings": lambda p: np.savez(p, names=_names(), flip_embeddings=_emb()),
    "names_2d": lambda p: np.savez(p, names=_names().reshape(7, 1), embeddings=_emb(), flip_embeddings=_emb()),
    "names_0d": lambda p: np.savez(p, names=np.array("a.jpg"), embeddings=_emb(), flip_embeddings=_emb()),
    "names_numeric": lambda p: np.savez(p, names=np.arange(7.0), embeddings=_emb(), flip_embeddings=_emb()),
    "embeddings_1d": lambda p: np.savez(p, names=_names(), embeddings=np.ones(7, np.float32),
                                        flip_embeddings=_emb()),
    "embeddings_strings": lambda p: np.savez(p, names=_names(), embeddings=np.full((7, 2), "x"),
                                             flip_embeddings=_emb()),
    "embeddings_zero_width": lambda p: np.savez(p, names=_names(), embeddings=np.ones((7, 0), np.float32),
                                                flip_embeddings=np.ones((7, 0), np.float32)),
    "flips_strings": lambda p: np.savez(p, names=_names(), embeddings=_emb(), flip_embeddings=np.full((7, 2), "x")),
    "flips_shape": lambda p: np.savez(p, names=_names(), embeddings=_emb(), flip_embeddings=_emb(6)),
}


BAD_FEATURE_REASONS = {
    "garbage": "not a readable .npz of features: no zip signature",
    "empty": "not a readable .npz of features: no zip signature",
    "pickle": "not a readable .npz of features: no zip signature",
    "truncated": "not a readable .npz of features (BadZipFile",
    "object_names": "not a readable .npz of features: it holds an object array (pickled data), which is never loaded",
    "object_embeddings": "it holds an object array",
    "no_names": "has neither 'names' nor 'paths' array", "no_embeddings": "has no 'embeddings' array",
    "names_2d": "'names' must be a 1-D array of strings", "embeddings_strings": "'embeddings' must be a numeric",
    "flips_shape": "'flip_embeddings' float32 (6, 2) does not match 'embeddings' (7, 2)",
}


@pytest.mark.parametrize("case", sorted(BAD_FEATURES))
def test_bad_features_file_is_a_one_line_error_naming_it(tmp_path, case):
    folder = write_case(tmp_path / "meta", GOLDEN, GOLDEN_PAIRS, features=False)
    bad = folder / "bad.npz"
    BAD_FEATURES[case](bad)
    result = CliRunner().invoke(eval_ijbb, ["--meta-dir", str(folder), "--features", str(bad),
                                            "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: {bad}: ") and result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, (TypeError, ValueError))
    assert BAD_FEATURE_REASONS.get(case, "") in result.output
    assert not (folder / "UNPICKLED").exists()
