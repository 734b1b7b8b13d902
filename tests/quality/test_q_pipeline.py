"""Q end to end on a tiny fixture in the perceptual-dataset format: train -> score -> eval, and resume."""
import errno
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from augmenter.checkpoint import load_checkpoint, save_checkpoint
from augmenter.cli import main
from augmenter.errors import CheckpointError
from augmenter.io import write_image_atomic
from augmenter.losses import rating_margin_loss
from augmenter.nets.quality import QNet, QNetConfig, q_score
from augmenter.quality.model import load_q
from augmenter.quality.train import QTrainConfig, train_q
from tests.fs_traps import add_traps


def test_margin_loss_hand_values():
    pred = torch.tensor([7.0, 3.0, 5.0, 5.2])
    mean = torch.tensor([6.0, 6.0, 5.0, 5.0])
    std = torch.tensor([0.5, 0.0, 0.0, 1.0])
    # |7-6|-0.5 = 0.5; |3-6|-0 = 3 (s = 0: plain L1); exact hit 0; inside the spread 0
    assert rating_margin_loss(pred, mean, std).item() == pytest.approx((0.5 + 3 + 0 + 0) / 4)
    assert rating_margin_loss(pred, mean, std, margin_scale=0).item() == pytest.approx((1 + 3 + 0 + 0.2) / 4)
    assert rating_margin_loss(pred, mean, std, margin_scale=2).item() == pytest.approx(3 / 4)


def test_q_layouts():
    paper = QNet()
    assert paper.config.widths == (64, 128, 256, 512, 1024, 2048)
    convs = [m for m in paper.features if isinstance(m, torch.nn.Conv2d)]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)
    assert [m.out_features for m in paper.head if isinstance(m, torch.nn.Linear)] == [256, 1]
    small = QNet(QNetConfig(image_size=64, base_width=8))
    assert len(small.config.widths) == 5 and small(torch.zeros(3, 3, 64, 64)).shape == (3,)
    with pytest.raises(ValueError, match="power of two"):
        QNetConfig(image_size=100)
    assert q_score(torch.tensor([12.0, 0.0, 6.0])).tolist() == pytest.approx([1.0, 0.1, 0.6])


def _fixture(root, n=48, size=32):
    """A perceptual-dataset-like file list: noisier images get lower ratings (a learnable signal)."""
    rng = np.random.default_rng(0)
    rows = []
    base = np.linspace(60, 200, size, dtype=np.float32)[None, :, None].repeat(size, 0).repeat(3, 2)
    for i in range(n):
        severity = i / (n - 1)
        image = np.clip(base + rng.normal(0, 80 * severity, base.shape), 0, 255).astype(np.uint8)
        source = ("stylegan", "progan", "deepfake")[i % 3]
        write_image_atomic(root / "images" / source / f"{i:03d}.png", image)
        ratings = np.clip(9 - 7 * severity + rng.normal(0, 0.4, 3), 1, 10)
        rows.append({"image": f"images/{source}/{i:03d}.png", "mean": ratings.mean(), "std": ratings.std(),
                     "source": source})
    pd.DataFrame(rows).to_csv(root / "ratings.csv", index=False)
    return root


def _config(root, out, **changes):
    settings = dict(image_size=16, base_width=4, hidden=16, epochs=3, batch_size=8, lr=3e-3, workers=0,
                    device="cpu", checkpoint_every=2)
    return QTrainConfig(data=str(root), out=str(out), **{**settings, **changes})


def test_train_resume_equals_uninterrupted(tmp_path):
    root = _fixture(tmp_path / "data")
    full = train_q(_config(root, tmp_path / "full"))
    assert (tmp_path / "full" / "best.pt").is_file() and (tmp_path / "full" / "splits.csv").is_file()
    assert full.epochs_run == 3 and len((tmp_path / "full" / "log.jsonl").read_text().splitlines()) == 3

    calls = []

    def interrupt(state):
        calls.append(state)
        if len(calls) == 7:  # in the middle of the second epoch, after a checkpoint at step 6
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_q(_config(root, tmp_path / "cut"), progress=interrupt)
    resumed = train_q(_config(root, tmp_path / "cut"))
    assert resumed.epochs_run == 2  # epoch 0 was finished before the interruption
    a = load_checkpoint(tmp_path / "full" / "last.pt", kind="q")
    b = load_checkpoint(tmp_path / "cut" / "last.pt", kind="q")
    assert a.step == b.step
    for key in a.model:
        torch.testing.assert_close(a.model[key], b.model[key])

    with pytest.raises(CheckpointError, match="other settings"):
        train_q(_config(root, tmp_path / "cut", lr=1e-4))


def test_train_score_eval_commands(tmp_path):
    root = _fixture(tmp_path / "data")
    runner = CliRunner()
    result = runner.invoke(main, ["train-q", "--data", str(root), "--out", str(tmp_path / "run"), "--image-size", "16",
                                  "--base-width", "4", "--epochs", "2", "--batch-size", "8", "--workers", "0",
                                  "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "val SROCC" in result.output
    ckpt = tmp_path / "run" / "best.pt"

    (tmp_path / "bad.png").write_bytes(b"not a png")
    result = runner.invoke(main, ["score", "--q", str(ckpt), str(root / "images"), str(tmp_path / "bad.png"),
                                  "--out", str(tmp_path / "scores.csv"), "--workers", "0", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert list(scores.columns) == ["path", "q_score", "rating"] and len(scores) == 48
    assert scores["q_score"].between(0.1, 1.0).all()
    np.testing.assert_allclose(scores["q_score"], scores["rating"] / 10, atol=1e-5)
    assert "bad.png" in (tmp_path / "scores_unreadable.txt").read_text()

    result = runner.invoke(main, ["eval-q", "--q", str(ckpt), "--data", str(tmp_path / "run" / "splits.csv"),
                                  "--split", "all", "--out", str(tmp_path / "eval"), "--workers", "0",
                                  "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval" / "q_eval.json").read_text())
    assert report["n"] == 48 and -1 <= report["srocc"] <= 1 and (tmp_path / "eval" / "q_scatter.png").is_file()


def test_load_q_refuses_other_kinds(tmp_path):
    path = tmp_path / "g.pt"
    save_checkpoint(path, kind="legan", model={"w": torch.zeros(1)}, config={})
    with pytest.raises(CheckpointError, match="expected 'q'"):
        load_q(path)


def _score(*args):
    return CliRunner().invoke(main, ["score", *map(str, args), "--workers", "0", "--device", "cpu"])


def test_score_accounts_for_every_input_with_reasons(tmp_path):
    src = tmp_path / "images"
    write_image_atomic(src / "a.png", np.full((16, 16, 3), 90, np.uint8))
    write_image_atomic(src / "sub" / "b.png", np.full((16, 16, 3), 160, np.uint8))
    (src / "corrupt.png").write_bytes(b"not a png")
    expected = add_traps(src / "sub")
    os.symlink("..", src / "sub" / "up")  # a folder link back to an ancestor: a loop, not walked again
    expected["unreadable entry (symlink loop)"] += 1
    expected["unreadable image"] = 1
    result = _score(src, "--out", tmp_path / "scores.csv")
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "scores.csv")) == 2
    assert "scored 2 of 8 image(s)" in result.output and "skipped 6:" in result.output
    for reason, n in expected.items():
        assert f"{n} {reason}" in result.output


def test_score_fifo_named_like_a_manifest_is_never_opened(tmp_path):
    os.mkfifo(tmp_path / "list.csv")
    result = _score(tmp_path / "list.csv", "--out", tmp_path / "scores.csv")  # would block forever if opened
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == f"Error: {tmp_path / 'list.csv'}: not a regular file"


@pytest.mark.parametrize("case", ["parent is a file", "out is a folder", "permission denied"])
def test_score_unwritable_out_is_a_one_line_error_before_any_work(tmp_path, monkeypatch, case):
    import augmenter.quality.model
    import augmenter.quality.score

    write_image_atomic(tmp_path / "images" / "a.png", np.full((16, 16, 3), 90, np.uint8))
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    out, named = {"parent is a file": (tmp_path / "file.txt" / "sub" / "scores.csv", tmp_path / "file.txt"),
                  "out is a folder": (tmp_path / "folder", tmp_path / "folder"),
                  "permission denied": (tmp_path / "ro" / "scores.csv", tmp_path / "ro")}[case]
    if case == "permission denied":
        (tmp_path / "ro").mkdir()
        real_open = os.open

        def read_only_open(path, flags, *args, **kwargs):  # what a folder without write permission does
            if os.path.dirname(os.fspath(path)) == str(tmp_path / "ro") and flags & os.O_CREAT:
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", read_only_open)

    def no_work(*args, **kwargs):
        raise AssertionError("the scoring work started before --out was checked")

    monkeypatch.setattr(augmenter.quality.model, "load_q", no_work)
    monkeypatch.setattr(augmenter.quality.score, "predict_ratings", no_work)
    result = _score(tmp_path / "images", "--out", out)
    assert result.exit_code == 1, result.output
    error = result.output.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(f"Error: {named}: ")
