"""train-verifier on tiny identity folders: it learns, synthetic skips are counted, lighting filters."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from augmenter.checkpoint import load_checkpoint
from augmenter.datasets.pairs import Pair, write_pair_csv
from augmenter.datasets.record import FaceRecord
from augmenter.errors import AugmenterError
from augmenter.nets.backbones import backbone_from_checkpoint
from recognition.embedding import embed_batches
from recognition.train_verifier import VerifierConfig, light_angle, train_verifier
from tests.datasets.fixtures import make_yaleb
from tests.recognition.fixtures import make_identity_folders, manifest_row, pattern, write_png, write_test_manifest


def _config(data, out, **changes):
    settings = dict(backbone="mobilefacenet", embedding_size=32, image_size=32, epochs=1, batch_size=8,
                    optimizer="adamw", lr=1e-3, scale=16.0, workers=0, device="cpu")
    return VerifierConfig(data=data, out=str(out), **{**settings, **changes})


def _cosines(checkpoint, paths):
    net, size = backbone_from_checkpoint(load_checkpoint(checkpoint))
    embeddings, errors = embed_batches(net, [str(p) for p in paths], size, "cpu")
    assert not errors
    return embeddings @ embeddings.T


def test_a_tiny_verifier_run_learns(tmp_path):
    root = make_identity_folders(tmp_path / "faces", n_per_identity=6)
    ids = sorted(p.name for p in root.iterdir())
    same = [Pair(root / i / "000.png", root / i / "001.png", True, 0) for i in ids]
    different = [Pair(root / a / "002.png", root / b / "003.png", False, 0) for a, b in zip(ids, ids[1:] + ids[:1])]
    pairs = write_pair_csv(tmp_path / "val_pairs.csv", same + different, root)
    out, lines, losses = tmp_path / "run", [], []
    torch.manual_seed(0)
    # 36 steps: fewer leave the eval-mode BatchNorm statistics behind and every embedding nearly the same
    result = train_verifier(_config([f"folder:{root}"], out, epochs=12, val_pairs=str(pairs)),
                            progress=lambda s: losses.append(s["loss"]), log=lines.append)
    assert "train: 24 image(s) of 4 identities" in lines and "validation: 8 pair(s) from " + str(pairs) in lines
    assert result.epochs_done == 12 and result.steps == 36 and len(losses) == 36
    assert np.mean(losses[-6:]) < 0.3 * losses[0], (losses[0], losses[-6:])
    best = json.loads((out / "best.json").read_text())
    assert best["pairs_scored"] == 8 and best["unreadable"] == 0
    assert best["pair_accuracy"] >= 0.75 and 0.0 <= best["auc"] <= 1.0 and math.isfinite(best["threshold"])
    assert result.best["pair_accuracy"] == best["pair_accuracy"]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in log] == list(range(12)) and all("pair_accuracy" in row for row in log)
    assert log[-1]["pair_accuracy"] == 1.0
    # the final embeddings separate the identities with a margin, not by rounding
    cos = _cosines(out / "last.pt", [root / i / f"{k:03d}.png" for i in ids for k in range(6)])
    label = np.repeat(np.arange(4), 6)
    same_id, other = label[:, None] == label[None], ~np.eye(24, dtype=bool)
    assert cos[same_id & other].min() > cos[~same_id].max() + 0.05
    assert cos[same_id & other].mean() - cos[~same_id].mean() > 0.3
    ckpt = load_checkpoint(out / "best.pt", kind="verifier")
    assert ckpt.vocabularies["identity"] == ids
    assert ckpt.config["backbone"] == {"name": "mobilefacenet", "embedding_size": 32, "image_size": 32, "width": 16}
    assert set(ckpt.model) == {"backbone", "head"} and ckpt.model["head"]["weight"].shape == (4, 32)


def test_synthetic_rows_with_missing_files_are_skipped_not_fatal(tmp_path):
    root = make_identity_folders(tmp_path / "faces", n_per_identity=4, identities=("id_a", "id_b"))
    expanded = tmp_path / "expanded"
    write_png(expanded / "a_relit.png", pattern("red", 32, 77))
    write_png(expanded / "z_relit.png", pattern("blue", 32, 78))
    manifest = write_test_manifest(expanded / "manifest", [
        manifest_row("a_relit.png", identity="id_a", q_score=0.9),
        manifest_row("lost_1.png", identity="id_a"),
        manifest_row("lost_2.png", identity="id_b"),
        manifest_row("z_relit.png", identity="id_z"),  # its source identity is not in the real data
    ])
    out, lines = tmp_path / "run", []
    result = train_verifier(_config([f"folder:{root}"], out, synthetic=[str(manifest)], synthetic_ratio=0.3,
                                    q_weighted=True, batch_size=4), log=lines.append)
    assert dict(result.skips.counts) == {"missing file": 2, "synthetic class not in the real data": 1}
    assert any("lost_1.png" in e for e in result.skips.examples["missing file"])
    assert "synthetic: 1 kept image(s) from 1 manifest(s)" in lines and "train: 9 image(s) of 2 identities" in lines
    # 9 images in batches of 4: the lone ninth joins the second batch; no validation pairs: best.pt = last weights
    assert result.steps == 2 and (out / "best.pt").is_file()
    assert "skipped 3 item(s)" in result.describe()


def test_light_angle_from_yale_extras_and_flash_names():
    record = FaceRecord(path=Path("x.pgm"), dataset="yaleb", lighting="flash17",
                        extra={"azimuth": "35", "elevation": "20"})
    # extras win over the lighting name: acos(cos 35 cos 20) = 39.67 degrees
    assert light_angle(record) == pytest.approx(math.degrees(math.acos(math.cos(math.radians(35)) *
                                                                       math.cos(math.radians(20)))))
    assert light_angle(record) == pytest.approx(39.668, abs=1e-3)
    assert light_angle(FaceRecord(path=Path("x"), dataset="d", extra={"azimuth": "0", "elevation": "-20"})) == \
        pytest.approx(20.0)
    assert light_angle(FaceRecord(path=Path("x"), dataset="multipie", lighting="flash07")) == pytest.approx(0.0)
    assert light_angle(FaceRecord(path=Path("x"), dataset="multipie", lighting="flash01")) == pytest.approx(90.0)
    assert light_angle(FaceRecord(path=Path("x"), dataset="multipie", lighting="flash16")) == pytest.approx(35.0)
    bad_extra = FaceRecord(path=Path("x"), dataset="d", lighting="flash16", extra={"azimuth": "?", "elevation": "0"})
    assert light_angle(bad_extra) == pytest.approx(35.0)  # unparsable extras fall back to the name
    assert light_angle(FaceRecord(path=Path("x"), dataset="yaleb", lighting="ambient")) is None
    assert light_angle(FaceRecord(path=Path("x"), dataset="casia")) is None


def test_max_light_angle_keeps_near_frontal_and_undirected_images(tmp_path):
    root = make_yaleb(tmp_path / "yale")  # per subject: 0, 20, 39.7, 39.7, 127, 127 degrees and an ambient frame
    lines = []
    result = train_verifier(_config([f"yaleb:{root}"], tmp_path / "run", max_light_angle=30, batch_size=4),
                            log=lines.append)
    assert "lighting within 30 degrees of frontal: 6 of 14 image(s)" in lines
    assert "train: 6 image(s) of 2 identities" in lines
    assert result.steps == 2



def _run_with_unscorable_pairs(tmp_path, pair_text):
    """A verifier run whose validation pairs all involve a missing image: either a one-line refusal naming the
    pair list, or epochs that report no scored pair."""
    root = make_identity_folders(tmp_path / "faces", n_per_identity=2, identities=("id_a", "id_b"))
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(pair_text)
    out = tmp_path / "run"
    try:
        train_verifier(_config([f"folder:{root}"], out, val_pairs=str(pairs), batch_size=4), log=lambda m: None)
    except (ValueError, AugmenterError) as err:
        assert "pairs.csv" in str(err)
    else:
        row = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
        assert row["pairs_scored"] == 0, row


def test_validation_pairs_that_are_all_unreadable_are_not_scored(tmp_path):
    _run_with_unscorable_pairs(tmp_path, "first,second,same\nid_a/x.png,id_a/y.png,1\nid_a/x.png,id_b/z.png,0\n")


def test_validation_pairs_each_missing_an_image_do_not_crash_the_run(tmp_path):
    _run_with_unscorable_pairs(tmp_path, "first,second,same\nid_a/000.png,id_a/gone.png,1\n"
                                         "id_a/000.png,id_b/gone.png,0\n")
