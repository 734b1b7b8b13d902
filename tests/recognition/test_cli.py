"""train-verifier / train-expression on the command line: a run prints its summary, errors are one line."""
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from augmenter.checkpoint import load_checkpoint
from augmenter.errors import DatasetFormatError
from recognition.cli import embed_command, train_expression, train_verifier
from recognition.train_expression import ExpressionConfig, train_expression as train_expression_run
from recognition.train_verifier import VerifierConfig, train_verifier as train_verifier_run
from tests.recognition.fixtures import make_class_folders, make_identity_folders, pattern, write_png

REPO = Path(__file__).resolve().parents[2]
QUICK = ["--epochs", "1", "--batch-size", "4", "--image-size", "32", "--workers", "0", "--device", "cpu"]


def one_line_error(result, *needles, alone=True):
    """Exit 1 with one ``Error: ...`` line and no traceback (``alone``: nothing else printed either)."""
    assert result.exit_code == 1, result.output
    text = result.output.strip()
    errors = [line for line in text.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in text, text
    if alone:
        assert text == errors[0], text
    for needle in needles:
        assert needle in errors[0], text


def test_train_expression_on_a_missing_folder(tmp_path):
    result = CliRunner().invoke(train_expression, ["--data", f"class-folder:{tmp_path / 'nowhere'}",
                                                   "--out", str(tmp_path / "run"), *QUICK])
    one_line_error(result, "nowhere", "does not exist")


def test_train_expression_with_an_unknown_dataset_name(tmp_path):
    result = CliRunner().invoke(train_expression, ["--data", f"mystery:{tmp_path}", "--out", str(tmp_path / "run"), *QUICK])
    one_line_error(result, "unknown dataset 'mystery'")


def test_train_verifier_with_one_identity(tmp_path):
    root = make_identity_folders(tmp_path / "faces", n_per_identity=3, identities=("id_a",))
    result = CliRunner().invoke(train_verifier, ["--data", f"folder:{root}", "--out", str(tmp_path / "run"), *QUICK])
    one_line_error(result, "1 identity in", "needs two or more")
    assert not (tmp_path / "run").exists()


def test_train_verifier_with_a_malformed_pair_list(tmp_path):
    root = make_identity_folders(tmp_path / "faces", n_per_identity=2, identities=("id_a", "id_b"))
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("1 1\nid_a 1 2\n")
    result = CliRunner().invoke(train_verifier, ["--data", f"folder:{root}", "--out", str(tmp_path / "run"),
                                                 "--val-pairs", str(pairs), *QUICK])
    one_line_error(result, "pairs.txt", "the header promises 2 pairs", alone=False)  # after the "train:" log line


@pytest.mark.parametrize("command", [train_expression, train_verifier], ids=["expression", "verifier"])
@pytest.mark.parametrize("device, needle", [("cuda", "CUDA is not available; use --device cpu or auto"),
                                            ("cuda:3", "CUDA is not available; use --device cpu or auto"),
                                            ("gpu", "not a device; use --device auto, cpu")])
def test_a_device_this_machine_lacks_is_one_line_before_training(tmp_path, monkeypatch, command, device, needle):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    root = make_class_folders(tmp_path / "faces", {"happy": 2, "sad": 2})
    args = [a for a in QUICK if a not in ("--device", "cpu")]
    result = CliRunner().invoke(command, ["--data", f"class-folder:{root}", "--out", str(tmp_path / "run"), *args,
                                          "--device", device])
    one_line_error(result, f"--device {device}: ", needle)
    assert not (tmp_path / "run").exists()


def test_embed_with_a_device_this_machine_lacks_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = CliRunner().invoke(embed_command, [str(tmp_path), "--model", str(tmp_path / "m.pt"),
                                                "--out", str(tmp_path / "e.npz"), "--device", "cuda"])
    one_line_error(result, "--device cuda: CUDA is not available")


def _fer_tree(root, splits):
    for split in splits:
        for emotion, look in (("happy", "bright"), ("sad", "dark")):
            for k in range(2):
                write_png(root / split / emotion / f"{split}_{k}.png", pattern(look, 32, k))
    return root


@pytest.mark.parametrize("splits, found", [(("validation",), "val 4"), (("test",), "test 4"),
                                           (("validation", "test"), "test 4, val 4")])
def test_train_expression_on_fer_without_a_train_split(tmp_path, splits, found):
    root = _fer_tree(tmp_path / "fer", splits)
    result = CliRunner().invoke(train_expression, ["--data", f"fer2013:{root}", "--out", str(tmp_path / "run"), *QUICK])
    one_line_error(result, f"Error: {root}: no training images", "train split", found)
    assert not (tmp_path / "run").exists()


def test_train_expression_on_one_training_image_leaves_no_run_folder(tmp_path):
    root = _fer_tree(tmp_path / "fer", ("validation",))
    write_png(root / "train" / "happy" / "train_0.png", pattern("bright", 32, 0))
    result = CliRunner().invoke(train_expression, ["--data", f"fer2013:{root}", "--out", str(tmp_path / "run"), *QUICK])
    one_line_error(result, "1 training image(s): nothing to train on", alone=False)  # after the "train:" log line
    assert not (tmp_path / "run").exists()


def test_train_expression_with_every_image_held_out(tmp_path):
    root = make_class_folders(tmp_path / "faces", {"happy": 1})
    config = ExpressionConfig(data=[f"class-folder:{root}"], out=str(tmp_path / "run"), holdout=0.999, workers=0,
                              device="cpu")
    with pytest.raises(DatasetFormatError, match=r"faces: no training images left: all 1 image\(s\) fall in the "
                                                 r"validation hold-out"):
        train_expression_run(config, log=lambda m: None)
    assert not (tmp_path / "run").exists()


def test_train_verifier_without_training_images(tmp_path):
    root = make_identity_folders(tmp_path / "faces", n_per_identity=1, identities=("id_a", "id_b"))
    config = VerifierConfig(data=[f"folder:{root}"], out=str(tmp_path / "run"), holdout=0.999, workers=0,
                            device="cpu")
    with pytest.raises(DatasetFormatError, match=r"faces: no training images left: all 2 image\(s\) fall in the "
                                                 r"held-out identities"):
        train_verifier_run(config, log=lambda m: None)
    classes = make_class_folders(tmp_path / "c", {"happy": 2})
    result = CliRunner().invoke(train_verifier, ["--data", f"class-folder:{classes}", "--out", str(tmp_path / "run"),
                                                 *QUICK])
    one_line_error(result, f"Error: {tmp_path / 'c'}: no identity-labelled images")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", [train_expression, train_verifier], ids=["expression", "verifier"])
@pytest.mark.parametrize("case", ["file", "under_file", "unwritable"])
def test_an_unusable_out_is_one_line_before_reading_the_data(tmp_path, monkeypatch, command, case):
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "locked").mkdir()
    out = {"file": tmp_path / "afile", "under_file": tmp_path / "afile" / "run",
           "unwritable": tmp_path / "locked" / "run"}[case]
    needle = {"file": "is a file, not a folder", "under_file": f"{tmp_path / 'afile'} is a file, not a folder",
              "unwritable": "cannot write in"}[case]
    real_access = os.access
    locked = tmp_path / "locked"  # root may write anywhere: os.access is told that this folder is not writable
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != locked and real_access(p, mode, **kw))
    read = []
    monkeypatch.setattr("augmenter.datasets.spec.read_dataset", lambda *a, **k: read.append(a) or 1 / 0)
    result = CliRunner().invoke(command, ["--data", f"folder:{tmp_path}", "--out", str(out), *QUICK])
    one_line_error(result, f"Error: {out}: ", needle)
    assert read == [] and (tmp_path / "afile").read_text() == "not a folder"
    assert not (tmp_path / "locked" / "run").exists()


def test_train_expression_command_runs_and_reports(tmp_path):
    root = make_class_folders(tmp_path / "faces", {"happy": 4, "sad": 4})
    result = CliRunner().invoke(train_expression, ["--data", f"class-folder:{root}", "--out", str(tmp_path / "run"),
                                                   "--width", "8", "--remedy", "sampler", *QUICK])
    assert result.exit_code == 0, result.output
    assert "1 epoch(s)" in result.output and "train:" in result.output
    assert (tmp_path / "run" / "last.pt").is_file()


# --- torchrun ---------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ENVIRONMENT_FAILURES = ("Connection refused", "getaddrinfo", "Address family not supported", "Network is unreachable",
                        "Cannot assign requested address", "No such device")  # a sandbox without usable loopback


def _torchrun(data: Path, out: Path, timeout: float) -> tuple[int | None, str]:
    """``torchrun --nproc-per-node 2`` of a one-epoch CPU verifier run: (exit code or None on timeout, output)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
               "--master-port", str(_free_port()), "-m", "recognition.cli", "verifier", "--data", f"folder:{data}",
               "--out", str(out), "--epochs", "1", "--batch-size", "4", "--image-size", "32", "--backbone",
               "mobilefacenet", "--embedding-size", "32", "--workers", "0", "--device", "cpu", "--optimizer", "adamw",
               "--lr", "1e-3", "--scale", "16"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "PYTHONPATH": str(REPO)}
    env.pop("WORLD_SIZE", None)
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout)
        return proc.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)  # torchrun and the two workers it started
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
        return None, output


@pytest.mark.slow
def test_two_cpu_processes_train_one_model(tmp_path):
    data = make_identity_folders(tmp_path / "faces", n_per_identity=4)  # 16 images: 4 batches, 2 per process
    code, output = _torchrun(data, tmp_path / "run", timeout=240)
    if code != 0 and any(marker in output for marker in ENVIRONMENT_FAILURES):
        pytest.skip(f"torch.distributed with gloo does not run here: {output.strip().splitlines()[-1]}")
    assert code == 0, output[-3000:]
    assert output.count("train: 16 image(s) of 4 identities") == 2  # both processes read the data
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt", kind="verifier")
    assert ckpt.step == 2 and ckpt.extra["progress"]["epoch"] == 1
    assert ckpt.extra["progress"]["images"] == 16  # every image once, counted over both processes
    assert (tmp_path / "run" / "best.pt").is_file() and (tmp_path / "run" / "log.jsonl").is_file()


@pytest.mark.slow
def test_two_processes_with_an_odd_number_of_batches_finish(tmp_path):
    data = make_identity_folders(tmp_path / "faces", n_per_identity=5)  # 20 images: 5 batches of 4
    code, output = _torchrun(data, tmp_path / "run", timeout=30)  # the even case takes ~5-10 s
    if code is not None and code != 0 and any(marker in output for marker in ENVIRONMENT_FAILURES):
        pytest.skip(f"torch.distributed with gloo does not run here: {output.strip().splitlines()[-1]}")
    assert code == 0, output[-3000:]
    assert load_checkpoint(tmp_path / "run" / "last.pt").extra["progress"]["epoch"] == 1
