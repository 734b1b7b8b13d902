"""``augment expand`` / ``augment merge`` on bad input: where it writes, resuming after lost files, targets a
dataset cannot hold, two processes on one folder, stray shard sets, operating-system errors, duplicated
sources, empty results, and the file names it really writes.

Library entry points on the tiny sources of :mod:`tests.expand.test_engine` (in-process, CPU, demo models).
"""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from augmenter.cli import main
from augmenter.attributes import FER_NAMES, FIELD_LIGHTING
from augmenter.errors import CheckpointError, DatasetFormatError, RunConflictError
from augmenter.expand import sources as expand_sources
from augmenter.expand import synthesis as expand_synthesis
from augmenter.expand.engine import run_expand
from augmenter.expand.finalize import merge_run
from augmenter.expand.journal import ChunkJournal
from augmenter.expand.run_dir import check_out_and_root
from tests.datasets.fixtures import affectnet_row, make_affectnet, make_casia, make_fer_folders, write_image
from tests.expand.test_engine import (check_against_reference, images, journal_of, make_config, manifest,
                                      quiet, summary)

LOCK_NAME = "expand.lock"  # the dataset readers ignore this name


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


# --- 1. --out and --root must not overlap ------------------------------------------------------------

def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("where", ["same", "same via ..", "same via a symlink", "inside", "inside via a symlink"])
def test_out_equal_to_or_inside_root_is_refused(tmp_path, where):
    root = make_casia(tmp_path / "casia", {"0000045": 2})
    (tmp_path / "link").symlink_to(root)
    out = {"same": root, "same via ..": root / "0000045" / "..", "same via a symlink": tmp_path / "link",
           "inside": root / "expanded", "inside via a symlink": tmp_path / "link" / "x"}[where]
    before = snapshot(root)
    with pytest.raises(DatasetFormatError) as err:
        run_expand(make_config(root, out, dataset="casia", min_size=8, q_min=0.0), log=quiet)
    message = str(err.value)
    assert message.startswith(f"{out}: ") and "--root" in message and "\n" not in message
    assert snapshot(root) == before  # nothing written into the real identity folders
    assert not (root / "expanded").exists()


def test_out_equal_to_root_is_a_one_line_error(tmp_path):
    root = make_casia(tmp_path / "casia", {"0000045": 2})
    before = snapshot(root)
    result = CliRunner().invoke(main, ["expand", "--dataset", "casia", "--root", str(root), "--out", str(root),
                                       "--min-size", "8", "--workers", "0", "--device", "cpu"])
    one_line_error(result, str(root), "--root")
    assert snapshot(root) == before


def test_root_inside_out_is_refused(tmp_path):
    out = tmp_path / "out"
    root = make_casia(out / "casia", {"0000045": 2})
    before = snapshot(out)
    with pytest.raises(DatasetFormatError) as err:
        run_expand(make_config(root, out, dataset="casia", min_size=8), log=quiet)
    assert str(err.value).startswith(f"{root}: ") and "--out" in str(err.value)
    assert snapshot(out) == before


def test_overlap_rules_for_the_built_in_sample_and_a_manifest_file(tmp_path):
    out = tmp_path / "out"
    check_out_and_root(out, out / ".sample", ".sample")  # the built-in sample lives there: fine
    check_out_and_root(out, None, ".sample")
    with pytest.raises(DatasetFormatError):
        check_out_and_root(out, out / "data", ".sample")
    manifest_file = tmp_path / "data" / "manifest.csv"  # --dataset manifest: rows keyed under data/
    manifest_file.parent.mkdir()
    manifest_file.write_text("out_path\n")
    with pytest.raises(DatasetFormatError, match="--root"):
        check_out_and_root(manifest_file.parent, manifest_file, ".sample")
    check_out_and_root(manifest_file.parent / "expanded", manifest_file, ".sample")  # beside the rows: fine


def test_root_and_out_side_by_side_are_fine(sample_root, tmp_path):
    # a sibling whose name starts like the root's is not inside it
    out = sample_root.parent / (sample_root.name + "_expanded")
    try:
        result = run_expand(make_config(sample_root, out, limit=2), log=quiet)
        assert result.summary["variants"] == 4
    finally:
        shutil.rmtree(out, ignore_errors=True)


# --- 2. a rerun checks that the journal's files exist ---------------------------------------------------

def test_rerun_redoes_the_chunks_whose_kept_images_were_deleted(sample_root, reference, tmp_path):
    out = tmp_path / "out"
    config = make_config(sample_root, out)
    run_expand(config, log=quiet)
    df = manifest(out)
    kept = list(df.loc[df["kept"], "out_path"])
    (out / kept[0]).unlink()
    (out / kept[-1]).unlink()
    lines_before = journal_of(out).read_text().splitlines()

    messages = []
    result = run_expand(config, log=messages.append)
    assert (out / kept[0]).is_file() and (out / kept[-1]).is_file()
    check_against_reference(out, reference)
    assert (out / "manifest.parquet").read_bytes() == (reference / "manifest.parquet").read_bytes()
    assert result.summary["variants"] == 24 and result.summary["kept"] == summary(reference)["kept"]
    assert any("missing" in m and kept[0] in m for m in messages), messages
    # the redone chunks' journal rows are replaced, not doubled
    lines = journal_of(out).read_text().splitlines()
    chunks = [json.loads(line)["chunk"] for line in lines]
    assert sorted(chunks) == list(range(6)) and len(lines) == len(lines_before)


def test_rerun_with_save_rejected_redoes_a_chunk_that_lost_a_rejected_image(sample_root, tmp_path):
    out = tmp_path / "out"
    config = make_config(sample_root, out, limit=4, save_rejected=True)
    run_expand(config, log=quiet)
    df = manifest(out)
    rejected = list(df.loc[~df["kept"], "out_path"])
    assert rejected and rejected[0].startswith(".rejected/")
    (out / rejected[0]).unlink()
    run_expand(config, log=quiet)
    assert (out / rejected[0]).is_file()
    assert len(ChunkJournal(journal_of(out)).read()) == 2
    assert journal_of(out).read_text().count("\n") == 2


# --- 3. targets the dataset's classes can hold ------------------------------------------------------------

def fer_root(tmp_path: Path) -> Path:
    return make_fer_folders(tmp_path / "fer", {("train", "angry"): 2, ("train", "happy"): 2, ("train", "surprise"): 1})


def test_fer_draws_only_targets_that_map_to_its_classes(tmp_path):
    root = fer_root(tmp_path)
    out = tmp_path / "out"
    messages = []
    run_expand(make_config(root, out, dataset="fer2013", min_size=8, mode="expression", per_image=6, q_min=0.0),
               log=messages.append)
    df = manifest(out)
    fer_folders = set(FER_NAMES)
    assert set(df["expression"]) <= set(FER_NAMES.values())
    assert not df["target"].str.contains("squint|scream").any()
    assert {Path(p).parts[1] for p in df["out_path"]} <= fer_folders
    # neutral, smile (happy), surprise, disgust: four targets, the source's own class excluded
    assert set(df["target"]) == {"E-neutral", "E-smile", "E-surprise", "E-disgust"}
    notice = [m for m in messages if "squint" in m]
    assert len(notice) == 1 and "scream" in notice[0] and "fer2013" in notice[0], messages
    assert notice[0] in summary(out)["notices"]  # recorded with the run
    assert summary(out)["kept"] == len(df)


def test_an_explicit_target_the_dataset_cannot_hold_is_refused(tmp_path):
    root = fer_root(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(ValueError) as err:
        run_expand(make_config(root, out, dataset="fer2013", min_size=8, mode="expression", expression="smile,squint"),
                   log=quiet)
    message = str(err.value)
    assert "'squint'" in message and "fer2013" in message and "\n" not in message
    for name in FER_NAMES.values():
        assert name in message
    assert "'smile'" not in message
    assert not out.exists()


def test_an_explicit_expression_map_sends_a_target_to_a_class(tmp_path):
    root = fer_root(tmp_path)
    out = tmp_path / "out"
    run_expand(make_config(root, out, dataset="fer2013", min_size=8, mode="expression", per_image=6, q_min=0.0,
                           expression_map="scream=surprise, squint=disgust"), log=quiet)
    df = manifest(out)
    scream = df[df["target"] == "E-scream"]
    assert len(scream) and set(scream["expression"]) == {"surprise"}
    assert all(Path(p).parts[1] == "surprise" for p in scream["out_path"])
    assert set(df.loc[df["target"] == "E-squint", "expression"]) == {"disgust"}
    # a surprise face is never given scream: it would stay in its own class
    assert not ((df["source_expression"] == "surprise") & (df["target"] == "E-scream")).any()


@pytest.mark.parametrize("mapping, needle", [("scream=grin", "'grin'"), ("yawn=surprise", "'yawn'"),
                                             ("scream", "scream")])
def test_a_bad_expression_map_is_refused(tmp_path, mapping, needle):
    root = fer_root(tmp_path)
    with pytest.raises((ValueError, CheckpointError)) as err:
        run_expand(make_config(root, tmp_path / "out", dataset="fer2013", min_size=8, expression_map=mapping),
                   log=quiet)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_expression_targets_on_the_command_line(tmp_path):
    root = fer_root(tmp_path)
    args = ["expand", "--dataset", "fer2013", "--root", str(root), "--min-size", "8", "--workers", "0",
            "--device", "cpu", "--mode", "expression", "--q-min", "0", "--legan", "demo"]  # Multi-PIE's vocabulary
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a"), "--expression", "squint"])
    one_line_error(result, "'squint'", "fer2013", "anger, disgust, fear, happy, neutral, sad, surprise")
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b"), "--expression", "scream",
                                       "--expression-map", "scream=surprise", "--per-image", "1"])
    assert result.exit_code == 0, result.output
    df = manifest(tmp_path / "b")
    assert set(df["target"]) == {"E-scream"} and set(df["expression"]) == {"surprise"} and len(df) == 4


def test_a_run_with_sources_but_no_target_they_lack_is_refused_and_lighting_mode_still_works(tmp_path):
    root = make_fer_folders(tmp_path / "fer", {("train", "neutral"): 2})  # one class: its own is never a target
    args = ["expand", "--dataset", "class-folder", "--root", str(root / "train"), "--min-size", "8", "--workers", "0",
            "--device", "cpu", "--q-min", "0", "--per-image", "1"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a")])  # --mode both by default
    one_line_error(result, "nothing to make", "2 source(s)", "expression targets left: neutral", "--mode lighting")
    assert not (tmp_path / "a").exists()
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b"), "--mode", "expression"])
    one_line_error(result, "nothing to make", "expression targets left: neutral")
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "c"), "--mode", "lighting"])
    assert result.exit_code == 0, result.output
    assert len(manifest(tmp_path / "c")) == 2


def test_affectnet_draws_only_targets_that_map_to_its_emotions(tmp_path):
    rows = [affectnet_row("1/a.jpg"), affectnet_row("1/b.jpg", expression="0"),
            affectnet_row("2/c.jpg", expression="6")]
    root = make_affectnet(tmp_path / "affectnet", rows)
    out = tmp_path / "out"
    run_expand(make_config(root, out, dataset="affectnet", csv="Manually_Annotated_file_lists/training.csv",
                           min_size=8, per_image=6, mode="expression", q_min=0.0), log=quiet)
    df = manifest(out)
    assert set(df["expression"]) <= {"neutral", "happy", "surprise", "disgust"}
    assert len(df) == 3 + 3 + 4


def test_class_folder_variants_go_to_the_existing_class_of_their_expression(tmp_path):
    root = tmp_path / "classes"
    for name in ("happy", "neutral"):
        write_image(root / name / "a.png")
    out = tmp_path / "out"
    messages = []
    run_expand(make_config(root, out, dataset="class-folder", min_size=8, per_image=6, mode="expression", q_min=0.0),
               log=messages.append)
    df = manifest(out)
    assert sorted(df["out_path"]) == ["happy/neutral_a_E-smile.png", "neutral/happy_a_E-neutral.png"]
    assert any("surprise" in m and "class-folder" in m for m in messages), messages


def test_lighting_only_runs_need_no_class_for_expressions(tmp_path):
    root = fer_root(tmp_path)
    out = tmp_path / "out"
    messages = []
    run_expand(make_config(root, out, dataset="fer2013", min_size=8, mode="lighting", per_image=1, q_min=0.0),
               log=messages.append)
    assert len(manifest(out)) == 5
    assert not any("squint" in m for m in messages)


# --- 4. one process per output folder (or per shard) --------------------------------------------------------

def write_lock(path: Path, pid: int, host: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": pid, "host": host}) + "\n")


def test_a_second_run_on_a_locked_out_is_refused(sample_root, tmp_path):
    out = tmp_path / "out"
    lock = out / LOCK_NAME
    write_lock(lock, os.getpid(), socket.gethostname())  # this very process: alive
    with pytest.raises(RunConflictError) as err:
        run_expand(make_config(sample_root, out, limit=2), log=quiet)
    message = str(err.value)
    assert message.startswith(f"{lock}: ") and str(os.getpid()) in message and socket.gethostname() in message
    assert "\n" not in message
    assert not (out / ".expand").exists() and lock.is_file()  # nothing written, the holder's lock left alone


def test_a_lock_held_on_another_host_is_respected(sample_root, tmp_path):
    out = tmp_path / "out"
    write_lock(out / LOCK_NAME, 12345, "elsewhere.example")
    with pytest.raises(RunConflictError, match=r"12345.*elsewhere\.example"):
        run_expand(make_config(sample_root, out, limit=2), log=quiet)


def test_a_stale_lock_is_taken_over_and_the_lock_is_released_at_the_end(sample_root, tmp_path):
    out = tmp_path / "out"
    pid = dead_pid()
    write_lock(out / LOCK_NAME, pid, socket.gethostname())
    messages = []
    result = run_expand(make_config(sample_root, out, limit=2), log=messages.append)
    assert result.summary["variants"] == 4
    assert any("stale" in m and str(pid) in m for m in messages), messages
    assert not (out / LOCK_NAME).exists()


def test_the_lock_is_held_during_the_run(sample_root, tmp_path):
    out = tmp_path / "out"
    seen = []

    def progress(done, total):
        lock = out / LOCK_NAME
        seen.append(json.loads(lock.read_text()) if lock.is_file() else None)

    run_expand(make_config(sample_root, out, limit=4), progress=progress, log=quiet)
    assert seen and all(s == {"pid": os.getpid(), "host": socket.gethostname()} for s in seen), seen
    assert not (out / LOCK_NAME).exists()


def test_shards_lock_their_own_part_and_run_side_by_side(sample_root, tmp_path):
    out = tmp_path / "out"
    part0 = out / ".expand" / "parts" / "shard-00-of-02" / LOCK_NAME
    write_lock(part0, os.getpid(), socket.gethostname())  # shard 0 is running
    result = run_expand(make_config(sample_root, out, shard=1, shards=2), log=quiet)
    assert result.summary["variants"] == 12
    assert part0.is_file()
    with pytest.raises(RunConflictError) as err:
        run_expand(make_config(sample_root, out, shard=0, shards=2), log=quiet)
    assert str(err.value).startswith(f"{part0}: ")


def test_the_lock_is_released_on_error(sample_root, tmp_path, monkeypatch):
    out = tmp_path / "out"

    def interrupted(self, entry):
        raise KeyboardInterrupt

    monkeypatch.setattr(ChunkJournal, "append", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_expand(make_config(sample_root, out, limit=4), log=quiet)
    assert not (out / LOCK_NAME).exists()


# --- 5. merge with shard sets of different counts ------------------------------------------------------------

def test_merge_refuses_shard_sets_of_different_counts_unless_one_is_chosen(sample_root, reference, tmp_path):
    out = tmp_path / "sharded"
    for shard in range(3):
        run_expand(make_config(sample_root, out, shard=shard, shards=3), log=quiet)
    stray = out / ".expand" / "parts" / "shard-00-of-02"
    shutil.copytree(out / ".expand" / "parts" / "shard-00-of-03", stray)

    with pytest.raises(RunConflictError) as err:
        merge_run(out)
    message = str(err.value)
    assert "of-02" in message and "of-03" in message and "--shards" in message and "\n" not in message
    assert not (out / "manifest.csv").exists()

    with pytest.raises(RunConflictError, match=r"shard-00-of-02: shard 0/2 has finished 1 of 3"):  # must be complete
        merge_run(out, shards=2)
    outputs, merged = merge_run(out, shards=3)
    assert merged["shards"] == 3
    check_against_reference(out, reference)

    with pytest.raises(RunConflictError, match="no shard set of 5"):
        merge_run(out, shards=5)

    result = CliRunner().invoke(main, ["merge", str(out)])
    one_line_error(result, "of-02", "of-03")
    result = CliRunner().invoke(main, ["merge", str(out), "--shards", "3"])
    assert result.exit_code == 0, result.output

    # a part numbered beyond its set's count is no shard of it
    (out / ".expand" / "parts" / "shard-05-of-03").mkdir()
    with pytest.raises(RunConflictError, match=r"shard-05-of-03: is no shard of a 3-shard run"):
        merge_run(out, shards=3)


# --- 6. operating-system errors: one line naming the file, finished work kept ------------------------------------

def enospc() -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as f.write raises it: no file name


def test_disk_full_while_journaling_names_the_journal_and_keeps_finished_chunks(sample_root, reference, tmp_path,
                                                                                  monkeypatch):
    out = tmp_path / "out"
    real_fsync = os.fsync
    calls = {"n": 0}

    def full_fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("journal.jsonl"):
            calls["n"] += 1
            if calls["n"] == 3:
                raise enospc()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_fsync)
    config = make_config(sample_root, out)
    with pytest.raises(OSError) as err:
        run_expand(config, log=quiet)
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(journal_of(out))
    assert len(ChunkJournal(journal_of(out)).read()) == 2  # the third append did not stick
    assert not (out / LOCK_NAME).exists()
    monkeypatch.undo()

    messages = []
    run_expand(config, log=messages.append)
    assert any("2 of 6" in m for m in messages), messages
    check_against_reference(out, reference)


@pytest.mark.parametrize("victim", ["summary.json", "report.html", "manifest.csv"])
def test_disk_full_while_finalizing_names_the_file_and_a_rerun_finishes(sample_root, reference, tmp_path, monkeypatch,
                                                                         victim):
    out = tmp_path / "out"
    from augmenter import atomic

    real_replace = os.replace

    def full(src, dst, *args, **kw):
        if Path(dst).name == victim:
            raise enospc()
        return real_replace(src, dst, *args, **kw)

    monkeypatch.setattr(atomic.os, "replace", full)
    config = make_config(sample_root, out)
    with pytest.raises(OSError) as err:
        run_expand(config, log=quiet)
    assert err.value.filename == str(out / victim)
    monkeypatch.undo()
    assert not list(out.glob(".*.tmp"))
    journal = journal_of(out).read_bytes()
    messages = []
    run_expand(config, log=messages.append)
    assert any("6 of 6" in m for m in messages), messages
    assert journal_of(out).read_bytes() == journal  # nothing redone
    check_against_reference(out, reference)


def test_disk_full_while_claiming_the_out_folder_names_run_json(sample_root, tmp_path, monkeypatch):
    out = tmp_path / "out"
    from augmenter import atomic

    real_replace = os.replace

    def full(src, dst, *args, **kw):
        if Path(dst).name == "run.json":
            raise enospc()
        return real_replace(src, dst, *args, **kw)

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(OSError) as err:
        run_expand(make_config(sample_root, out, limit=2), log=quiet)
    assert err.value.filename == str(out / ".expand" / "run.json")
    assert not (out / LOCK_NAME).exists()


def test_a_failed_image_write_names_the_image(sample_root, tmp_path, monkeypatch):
    out = tmp_path / "out"

    def full(path, image, quality=95):
        raise enospc()

    monkeypatch.setattr(expand_synthesis, "write_image_atomic", full)
    with pytest.raises(OSError) as err:
        run_expand(make_config(sample_root, out, q_min=0.0, limit=2), log=quiet)
    assert err.value.errno == errno.ENOSPC
    assert Path(err.value.filename).is_relative_to(out) and Path(err.value.filename).suffix == ".png"
    assert not (out / LOCK_NAME).exists()
    assert ChunkJournal(journal_of(out)).read() == {}


def test_disk_full_is_one_line_on_the_command_line(tmp_path, monkeypatch):
    root = make_casia(tmp_path / "casia", {"0000045": 2})
    out = tmp_path / "out"

    def full(self, entry):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))

    monkeypatch.setattr(ChunkJournal, "append", full)
    result = CliRunner().invoke(main, ["expand", "--dataset", "casia", "--root", str(root), "--out", str(out),
                                       "--min-size", "8", "--workers", "0", "--device", "cpu"])
    one_line_error(result, "journal.jsonl", "disk is full")


def test_out_that_is_a_file_is_a_one_line_error(tmp_path):
    root = make_casia(tmp_path / "casia", {"0000045": 2})
    out = tmp_path / "out.txt"
    out.write_text("not a folder\n")
    result = CliRunner().invoke(main, ["expand", "--dataset", "casia", "--root", str(root), "--out", str(out),
                                       "--min-size", "8", "--workers", "0", "--device", "cpu"])
    one_line_error(result, str(out), "not a folder")
    assert out.read_text() == "not a folder\n"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_out_in_a_read_only_folder_is_a_one_line_error(tmp_path):
    root = make_casia(tmp_path / "casia", {"0000045": 2})
    out = tmp_path / "readonly"
    out.mkdir()
    out.chmod(0o555)
    try:
        result = CliRunner().invoke(main, ["expand", "--dataset", "casia", "--root", str(root), "--out", str(out),
                                           "--min-size", "8", "--workers", "0", "--device", "cpu"])
        one_line_error(result, str(out), "ermission denied")
    finally:
        out.chmod(0o755)


# --- 7. duplicated sources ------------------------------------------------------------------------------------

def test_a_source_listed_twice_is_a_counted_skip(tmp_path, monkeypatch):
    # a reader that lists one file twice (as an AffectNet CSV with a repeated row did)
    root = make_casia(tmp_path / "casia", {"0000045": 2})
    real = expand_sources.read_dataset

    def twice(*args, **kw):
        listing = real(*args, **kw)
        listing.records = [listing.records[0], *listing.records]
        return listing

    monkeypatch.setattr(expand_sources, "read_dataset", twice)
    out = tmp_path / "out"
    result = run_expand(make_config(root, out, dataset="casia", min_size=8, per_image=1, mode="lighting", q_min=0.0),
                        log=quiet)
    assert result.summary["variants"] == 2 and result.summary["sources_planned"] == 2
    skips = summary(out)["skips"]
    assert skips["counts"] == {"duplicate source": 1}
    assert any("0000045/001.jpg" in e for e in skips["examples"]["duplicate source"])
    assert manifest(out)["out_path"].is_unique


def test_colliding_sources_are_a_dataset_format_error_naming_the_file(tmp_path):
    root = tmp_path / "faces"
    write_image(root / "alice" / "a.png")
    write_image(root / "alice" / "a.bmp")
    with pytest.raises(DatasetFormatError) as err:
        run_expand(make_config(root, tmp_path / "out", dataset="folder", min_size=8), log=quiet)
    assert err.value.path == root / "alice" / "a.png" and "alice/a.bmp" in str(err.value)
    result = CliRunner().invoke(main, ["expand", "--dataset", "folder", "--root", str(root), "--out",
                                       str(tmp_path / "out"), "--min-size", "8", "--workers", "0", "--device", "cpu"])
    one_line_error(result, str(root / "alice" / "a.png"), "alice/a.bmp")


# --- 8. a run that keeps nothing says so ---------------------------------------------------------------------

def test_a_run_that_keeps_nothing_explains_why(sample_root, tmp_path):
    result = run_expand(make_config(sample_root, tmp_path / "out", q_min=0.999, limit=4), log=quiet)
    assert result.summary["kept"] == 0
    q = result.summary["q_score"]
    notice = result.nothing_kept()
    assert notice is not None and "\n" not in notice.strip()
    assert f"{q['min']:.3f}" in notice and f"{q['quantiles']['p50']:.3f}" in notice and f"{q['max']:.3f}" in notice
    assert "--keep-best" in notice
    suggested = float(re.search(r"Try --q-min (0\.\d+)", notice).group(1))
    assert q["min"] <= suggested <= q["quantiles"]["p50"]
    assert "0.999" in notice


def test_a_run_that_keeps_something_has_no_such_notice(sample_root, reference, tmp_path):
    result = run_expand(make_config(sample_root, tmp_path / "out", q_min=0.0, limit=2), log=quiet)
    assert result.nothing_kept() is None


def test_a_run_whose_sources_were_all_skipped_says_so(tmp_path):
    root = make_casia(tmp_path / "casia", {"0000045": 2})
    result = run_expand(make_config(root, tmp_path / "out", dataset="casia", min_size=100), log=quiet)
    notice = result.nothing_kept()
    assert result.summary["variants"] == 0 and notice and "skipped" in notice and "--min-size" in notice


def test_the_command_line_prints_the_empty_result_notice_on_stderr(tmp_path):
    root = make_casia(tmp_path / "casia", {"0000045": 2})
    result = CliRunner().invoke(main, ["expand", "--dataset", "casia", "--root", str(root), "--out",
                                       str(tmp_path / "out"), "--min-size", "8", "--workers", "0", "--device", "cpu",
                                       "--q-min", "0.999", "--per-image", "1"])
    assert result.exit_code == 0, result.output
    assert "NOTHING KEPT" in result.stderr and "--keep-best" in result.stderr
    assert "NOTHING KEPT" not in result.stdout


# --- 9. lighting directions ------------------------------------------------------------------------------------

def test_help_shows_where_each_lighting_target_is():
    result = CliRunner().invoke(main, ["expand", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "az-070_el+00 (az -70°, el 0°)" in text and "az+035_el+40 (az 35°, el 40°)" in text
    assert all(f"{name} (az" in text for name in FIELD_LIGHTING)
    assert "--legan demo" in text and "flash01" in text  # the demo LEGAN's names are mentioned


def test_report_shows_the_lighting_direction_of_each_variant(reference):
    page = (reference / "report.html").read_text()
    df = manifest(reference)
    assert "az " in page and "el " in page
    from augmenter.attributes import FLASH_DIRECTIONS

    for tag in set(df["target"]):
        light = tag.split("_")[0].removeprefix("L-")
        if light in FLASH_DIRECTIONS:
            az, el = FLASH_DIRECTIONS[light]
            assert f"{light} (az {az:.0f}°, el {el:.0f}°)" in page, light  # in the legend
            assert f"{tag}<br><span class=\"dir\">az {az:.0f}°, el {el:.0f}°</span>" in page, tag  # under the variant


# --- 10. what is really written: .rejected/, and the source's format ----------------------------------------------

def test_rejected_go_under_hidden_rejected_and_kept_keep_jpeg_or_become_png(tmp_path):
    root = tmp_path / "faces"
    for name in ("a.png", "b.jpg", "c.bmp", "d.JPEG"):
        write_image(root / "alice" / name, size=16)
    out = tmp_path / "out"
    run_expand(make_config(root, out, dataset="folder", min_size=8, per_image=2, keep_best=1, save_rejected=True),
               log=quiet)
    df = manifest(out)
    suffix = {"a": ".png", "b": ".jpg", "c": ".png", "d": ".jpg"}
    magic = {".png": b"\x89PNG", ".jpg": b"\xff\xd8\xff"}
    for row in df.itertuples():
        stem = Path(row.source_path).stem
        expected = f"alice/{stem}_{row.target}{suffix[stem]}"
        assert row.out_path == (expected if row.kept else f".rejected/{expected}")
        assert (out / row.out_path).read_bytes().startswith(magic[suffix[stem]])
    assert (out / ".rejected").is_dir() and not (out / "rejected").exists()
    assert sorted(images(out)) == sorted(df["out_path"])
