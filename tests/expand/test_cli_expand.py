"""``augment expand`` / ``augment merge`` from the command line: a real kill and resume, one-line errors."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from augmenter.cli import main
from augmenter.datasets.registry import read_dataset
from augmenter.expand.config import ExpandConfig
from augmenter.expand.engine import run_expand
from tests.datasets.fixtures import make_casia, write_image

REPO = Path(__file__).resolve().parents[2]


def make_faces(root: Path, identities: int, per_identity: int, size: int = 40) -> Path:
    """A CASIA tree of distinct ``size`` px JPEGs (smooth gradients plus seeded noise)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(identities):
        for k in range(per_identity):
            base = np.stack([(xx * (3 + k)) % 256, (yy * (5 + i)) % 256, ((xx + yy) * 2) % 256], axis=-1)
            pixels = np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)
            path = root / f"{i + 1:07d}" / f"{k + 1:03d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(path, quality=90)
    return root


def images(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*.jpg")
            if not p.relative_to(out).as_posix().startswith(".expand/")}


def temp_files(out: Path) -> set[Path]:
    return {p for p in out.rglob(".*.tmp")}


def journal_lines(journal: Path) -> int:
    try:
        return journal.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


# --- 17. kill -9 in the middle, rerun the same command -----------------------------------------------

def test_killed_expand_resumes_to_the_uninterrupted_outputs(tmp_path):
    root = make_faces(tmp_path / "faces", identities=4, per_identity=10)
    out = tmp_path / "out"
    args = ["--dataset", "casia", "--root", str(root), "--per-image", "4", "--batch-size", "2", "--workers", "0",
            "--device", "cpu", "--keep-best", "2"]
    command = [sys.executable, "-m", "augmenter.cli", "expand", *args, "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    journal = out / ".expand" / "parts" / "all" / "journal.jsonl"

    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while journal_lines(journal) < 2:
            assert process.poll() is None, "expand ended before two chunks were journaled:\n" + \
                process.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "expand journaled nothing in 120 s"
            time.sleep(0.005)
        assert process.poll() is None, "the job is too small: it finished before the kill"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    done_at_kill = journal_lines(journal)
    assert 2 <= done_at_kill < 20  # 40 sources in chunks of 2
    assert not (out / "manifest.csv").exists() and not (out / "manifest.parquet").exists()
    assert (out / ".expand" / "run.json").is_file()
    assert not (out / "expand.json").exists() and not (out / "parts").exists()

    rerun = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "resuming" in rerun.stdout and "already done" in rerun.stdout
    assert "160 variant(s) of 40 source image(s): 80 kept" in rerun.stdout

    reference = tmp_path / "reference"
    run_expand(ExpandConfig(dataset="casia", root=str(root), out=str(reference), per_image=4, batch_size=2,
                            workers=0, device="cpu", keep_best=2), log=lambda _: None)
    assert (out / "manifest.csv").read_bytes() == (reference / "manifest.csv").read_bytes()
    assert (out / "manifest.parquet").read_bytes() == (reference / "manifest.parquet").read_bytes()
    written = images(out)
    assert len(written) == 80 and written == images(reference)
    assert journal_lines(journal) >= 20  # every chunk journaled (a torn line would have been cut)
    # a kill in the middle of an atomic write leaves its hidden temp file; the rerun removes it, and leaves none
    # of its own
    assert not temp_files(out)
    assert not temp_files(reference)
    # the expanded tree reads back as CASIA: the variants, nothing skipped
    listing = read_dataset("casia", out)
    assert listing.skips.total == 0, dict(listing.skips.counts)
    assert sorted(Path(r.path).relative_to(out).as_posix() for r in listing.records) == sorted(written)


# --- 18. errors are one line, exit status 1 ---------------------------------------------------------

def one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert result.stderr.strip() == errors[0]  # nothing else on stderr
    assert result.output.strip().splitlines()[-1] == errors[0]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def casia_root(tmp_path) -> Path:
    return make_casia(tmp_path / "casia", {"0000045": 2, "0000099": 2})


def base_args(root: Path, out: Path) -> list[str]:
    return ["expand", "--dataset", "casia", "--root", str(root), "--out", str(out), "--min-size", "8",
            "--per-image", "2", "--batch-size", "2", "--workers", "0", "--device", "cpu"]


def test_unknown_lighting_name_is_a_one_line_error(casia_root, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [*base_args(casia_root, out), "--lighting", "flash07,flash99"])
    one_line_error(result, "fields_generator.pt", "'flash99'", "lighting")
    assert not out.exists()


def test_bad_shard_is_a_one_line_error(casia_root, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [*base_args(casia_root, out), "--shard", "5/2"])
    one_line_error(result, "--shard", "5/2")
    result = CliRunner().invoke(main, [*base_args(casia_root, out), "--shard", "a/b"])
    one_line_error(result, "--shard", "a/b")
    assert not out.exists()


def test_out_folder_of_another_run_is_a_one_line_error(casia_root, tmp_path):
    out = tmp_path / "out"
    first = CliRunner().invoke(main, [*base_args(casia_root, out), "--q-min", "0.3"])
    assert first.exit_code == 0, first.output
    assert "8 variant(s) of 4 source image(s)" in first.output
    before = (out / "manifest.csv").read_bytes()

    result = CliRunner().invoke(main, [*base_args(casia_root, out), "--q-min", "0.5"])
    one_line_error(result, str(out / ".expand" / "run.json"), "q_min", "0.3", "0.5", "--resume")
    assert (out / "manifest.csv").read_bytes() == before

    resumed = CliRunner().invoke(main, [*base_args(casia_root, out), "--q-min", "0.5", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert (out / "manifest.csv").read_bytes() == before

    # merge of a run without shards, and of a folder without a run
    one_line_error(CliRunner().invoke(main, ["merge", str(out)]), "no shard")
    one_line_error(CliRunner().invoke(main, ["merge", str(tmp_path / "nothing")]),
                   str(tmp_path / "nothing" / ".expand" / "run.json"), "not found")


def test_sources_whose_variants_would_collide_are_a_one_line_error(tmp_path):
    root = make_casia(tmp_path / "faces", {"0000045": 1})  # 0000045/001.jpg
    write_image(root / "0000045" / "001.png")  # beside 001.jpg: allowed (001_<tag>.jpg and 001_<tag>.png differ)
    write_image(root / "0000045" / "001.bmp")  # beside 001.png: both would write 001_<tag>.png
    out = tmp_path / "out"
    args = [*base_args(root, out)]
    args[args.index("casia")] = "folder"
    one_line_error(CliRunner().invoke(main, args), "0000045/001.png", "0000045/001.bmp")
    assert not out.exists()


def test_torchrun_environment_picks_the_shard_and_the_gpu(monkeypatch):
    from augmenter.cli_expand import device_for_rank, shard_from_env

    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert shard_from_env() is None and device_for_rank("auto") == "auto"
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert shard_from_env() == (5, 8)
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert device_for_rank("auto") == "cuda:1" and device_for_rank("cuda") == "cuda:1"
    assert device_for_rank("cpu") == "cpu"  # an explicit device is kept
