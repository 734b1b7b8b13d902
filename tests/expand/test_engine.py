"""``run_expand`` end to end on tiny sources with the built-in demo models (64 px, CPU, in-process decoding).

The shared source set is a 12-image rendered sample (2 faces x 2 expressions x 3 lights); with
``batch_size=2`` it is cut into 6 chunks, so resuming and sharding have something to split.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from augmenter.datasets.registry import read_dataset
from augmenter.errors import CheckpointError, DatasetFormatError, RunConflictError
from augmenter.expand import sources as expand_sources
from augmenter.expand.config import ExpandConfig
from augmenter.expand.engine import run_expand
from augmenter.expand.finalize import merge_run
from augmenter.expand.layout import REJECTED
from tests.datasets.fixtures import affectnet_row, make_affectnet, make_casia, make_fer_folders, write_image
from tests.expand.helpers import Q_MIN, make_config, quiet

OUTPUT_FILES = ("manifest.csv", "manifest.parquet", "summary.json", "report.html")
RUN_FILE = ".expand/run.json"  # the run's bookkeeping is hidden, so dataset readers skip it


def images(out: Path) -> dict[str, bytes]:
    """Every image under ``out`` (relative POSIX path -> bytes), kept and rejected variants; the run's
    bookkeeping and the rendered built-in sample excluded."""
    found = {}
    for path in out.rglob("*"):
        rel = path.relative_to(out).as_posix()
        if path.is_file() and path.suffix in (".png", ".jpg") and not rel.startswith((".expand/", ".sample/")):
            found[rel] = path.read_bytes()
    return found


def all_files(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def journal_of(out: Path, part: str = "all") -> Path:
    return out / ".expand" / "parts" / part / "journal.jsonl"


def manifest(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "manifest.csv", dtype={"identity": str})


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def check_against_reference(out: Path, reference: Path) -> None:
    assert (out / "manifest.csv").read_bytes() == (reference / "manifest.csv").read_bytes()
    assert images(out) == images(reference)


# --- 7. determinism ------------------------------------------------------------------------------

def test_two_runs_give_byte_identical_outputs(sample_root, reference, tmp_path):
    out = tmp_path / "again"
    # workers and writers are runtime settings: a decoding process and one writer give the same bytes
    run_expand(make_config(sample_root, out, workers=1, writers=1), log=quiet)
    df = manifest(reference)
    kept = df[df["kept"]]
    assert 0 < len(kept) < len(df), "the test wants both kept and rejected variants"
    assert (out / "manifest.parquet").read_bytes() == (reference / "manifest.parquet").read_bytes()
    check_against_reference(out, reference)
    assert sorted(images(reference)) == sorted(kept["out_path"])  # exactly the kept variants are written
    assert df["seed"].nunique() == len(df)
    assert set(df["source_path"]) == {p.relative_to(sample_root).as_posix() for p in sample_root.rglob("*.png")}


# --- 8. resume ---------------------------------------------------------------------------------

def test_resume_after_a_kill_ends_like_an_uninterrupted_run(sample_root, reference, tmp_path):
    out = tmp_path / "out"
    config = make_config(sample_root, out)
    run_expand(config, log=quiet)
    journal = journal_of(out)
    lines = journal.read_bytes().splitlines(keepends=True)
    assert len(lines) == 6
    # simulate a kill: the last two chunks were not journaled, their images may be missing, the last
    # append is torn, and the outputs written at the end do not exist yet
    lost = [json.loads(line) for line in lines[-2:]]
    journal.write_bytes(b"".join(lines[:-2]) + lines[-1][:25])
    deleted = 0
    for entry in lost:
        for row in entry["rows"]:
            if row["kept"]:
                (out / row["out_path"]).unlink()
                deleted += 1
    assert deleted > 0
    for name in ("manifest.csv", "manifest.parquet", "summary.json", "report.html"):
        (out / name).unlink()

    messages = []
    result = run_expand(config, log=messages.append)
    assert any("4 of 6" in m for m in messages), messages
    check_against_reference(out, reference)
    assert result.summary["variants"] == 24
    assert sorted(json.loads(line)["chunk"] for line in journal.read_text().splitlines()) == list(range(6))

    # a rerun of a finished run changes nothing
    files = all_files(out)
    stamps = {rel: os.stat(out / rel).st_mtime_ns for rel in images(out)}
    journal_bytes = journal.read_bytes()
    run_expand(config, log=quiet)
    check_against_reference(out, reference)
    assert all_files(out) == files
    assert {rel: os.stat(out / rel).st_mtime_ns for rel in images(out)} == stamps  # no image rewritten
    assert journal.read_bytes() == journal_bytes


def test_resume_removes_the_temp_file_of_a_write_cut_by_a_kill(sample_root, tmp_path):
    out = tmp_path / "out"
    config = make_config(sample_root, out, limit=4, q_min=0.0)
    run_expand(config, log=quiet)
    journal = journal_of(out)
    lines = journal.read_bytes().splitlines(keepends=True)
    assert len(lines) == 2
    lost = json.loads(lines[1])["rows"][0]["out_path"]
    journal.write_bytes(lines[0])
    (out / lost).unlink()
    for name in ("manifest.csv", "manifest.parquet", "summary.json", "report.html"):
        (out / name).unlink()
    stale = (out / lost).parent / f".{Path(lost).name}.k1ll3d_x.tmp"  # what atomic_path leaves after SIGKILL
    stale.write_bytes(b"half an image")
    stale_manifest = out / ".manifest.csv.k1ll3d_y.tmp"  # a kill while the final outputs were being written
    stale_manifest.write_bytes(b"out_path,")
    # a temp file that is no planned output of this run is none of its business
    foreign = (out / lost).parent / ".someone_else.png.x.tmp"
    foreign.write_bytes(b"?")
    run_expand(config, log=quiet)
    assert (out / lost).is_file()
    assert set(out.rglob(".*.tmp")) == {foreign}


# --- 9. shards and merge ---------------------------------------------------------------------------

def test_sharded_run_merges_into_the_single_run_outputs(sample_root, reference, tmp_path):
    out = tmp_path / "sharded"
    for shard in (0, 2):
        result = run_expand(make_config(sample_root, out, shard=shard, shards=3), log=quiet)
        assert result.summary["variants"] == 8  # 2 of the 6 chunks, 2 sources each, 2 variants each
        part = out / ".expand" / "parts" / f"shard-{shard:02d}-of-03"
        assert part / "journal.jsonl" == journal_of(out, f"shard-{shard:02d}-of-03")
        assert {p.name for p in part.iterdir()} == {"journal.jsonl", *OUTPUT_FILES}
    assert not (out / "manifest.csv").exists()
    assert not any((out / name).exists() for name in OUTPUT_FILES)

    with pytest.raises(RunConflictError) as err:  # shard 1 never ran
        merge_run(out)
    assert "shard-01-of-03" in str(err.value) and "1/3" in str(err.value)
    assert not (out / "manifest.csv").exists()

    run_expand(make_config(sample_root, out, shard=1, shards=3), log=quiet)
    outputs, merged = merge_run(out)
    assert outputs["manifest (csv)"] == out / "manifest.csv"
    check_against_reference(out, reference)
    assert (out / "manifest.parquet").read_bytes() == (reference / "manifest.parquet").read_bytes()
    single = summary(reference)
    for key in ("variants", "kept", "rejected", "per_target", "per_identity", "q_score", "sources_planned",
                "sources_processed", "skips"):
        assert merged[key] == single[key], key
    assert merged["shards"] == 3 and merged["part"] == "merged"

    # an unfinished shard (its last chunk lost) is refused by name
    journal = journal_of(out, "shard-02-of-03")
    journal.write_bytes(journal.read_bytes().splitlines(keepends=True)[0])
    with pytest.raises(RunConflictError, match=r"shard-02-of-03.*1 of 2 chunk"):
        merge_run(out)

    # a run without shards needs no merge
    with pytest.raises(RunConflictError, match="no shard"):
        merge_run(reference)


# --- 10. bad inputs are counted, the run finishes -----------------------------------------------------

def test_unreadable_and_too_small_images_are_counted(tmp_path):
    root = make_casia(tmp_path / "casia", {"0000045": 3, "0000099": 2})
    (root / "0000045" / "004.jpg").write_bytes(np.random.default_rng(0).bytes(300))
    write_image(root / "0000099" / "003.jpg", size=4)
    out = tmp_path / "out"
    result = run_expand(make_config(root, out, dataset="casia", min_size=8, keep_best=1), log=quiet)
    skips = summary(out)["skips"]
    assert skips["counts"] == {"unreadable image": 1, "face too small": 1}
    assert skips["total"] == 2
    assert any("004.jpg" in e for e in skips["examples"]["unreadable image"])
    assert any("003.jpg" in e and "4x4" in e for e in skips["examples"]["face too small"])
    assert result.summary["sources_processed"] == 5 and result.summary["sources_planned"] == 7
    df = manifest(out)
    assert len(df) == 10 and not df["source_path"].isin(["0000045/004.jpg", "0000099/003.jpg"]).any()
    assert "skipped 2" in result.describe()


def test_affectnet_rows_without_their_image_are_counted(tmp_path):
    rows = [affectnet_row("1/a.jpg"), affectnet_row("1/b.jpg"), affectnet_row("2/c.jpg", expression="0")]
    root = make_affectnet(tmp_path / "affectnet", rows, images=["1/a.jpg", "2/c.jpg"])
    out = tmp_path / "out"
    result = run_expand(make_config(root, out, dataset="affectnet", csv="Manually_Annotated_file_lists/training.csv",
                                    min_size=8, per_image=2, mode="expression", keep_best=1), log=quiet)
    skips = summary(out)["skips"]
    assert skips["counts"] == {"missing file": 1}
    assert any("1/b.jpg" in e for e in skips["examples"]["missing file"])
    assert summary(out)["reader_skips"]["counts"] == {"missing file": 1}
    assert result.summary["sources_processed"] == 2
    df = manifest(out)
    assert len(df) == 4
    assert set(df["source_expression"]) == {"happy", "neutral"}
    # AffectNet variants are labelled with emotions; a happy face is never made to smile
    assert set(df["expression"]) <= {"neutral", "happy", "surprise", "disgust", "squint", "scream"}
    assert not ((df["source_expression"] == "happy") & (df["expression"] == "happy")).any()


def test_progress_reaches_its_total_when_sources_are_skipped(tmp_path):
    root = make_casia(tmp_path / "casia", {"0000045": 3})
    (root / "0000045" / "004.jpg").write_bytes(b"not a jpeg at all")
    calls = []
    result = run_expand(make_config(root, tmp_path / "out", dataset="casia", min_size=8, keep_best=1),
                        progress=lambda done, total: calls.append((done, total)), log=quiet)
    assert result.summary["variants"] == 6
    assert calls and calls[-1] == (8, 8)  # 4 planned sources x 2 variants, one of them unreadable
    assert all(total == 8 for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


# --- 11. another run in the out folder --------------------------------------------------------------

def test_another_run_in_the_out_folder_is_refused_unless_resumed(sample_root, tmp_path):
    out = tmp_path / "out"
    run_expand(make_config(sample_root, out, limit=4), log=quiet)
    before = (out / "manifest.csv").read_bytes()

    with pytest.raises(RunConflictError) as err:
        run_expand(make_config(sample_root, out, limit=4, q_min=0.5), log=quiet)
    assert "q_min" in str(err.value) and "0.92" in str(err.value) and "0.5" in str(err.value)
    assert err.value.path == out / ".expand" / "run.json"
    assert str(err.value).startswith(str(out / ".expand" / "run.json") + ": ")
    assert "\n" not in str(err.value)
    assert (out / "manifest.csv").read_bytes() == before

    # --resume continues the saved run with its own settings
    result = run_expand(make_config(sample_root, out, limit=4, q_min=0.5), resume=True, log=quiet)
    assert result.summary["settings"]["q_min"] == Q_MIN
    assert summary(out)["settings"]["q_min"] == Q_MIN
    assert (out / "manifest.csv").read_bytes() == before

    # --resume where there is no run
    with pytest.raises(RunConflictError, match="not found"):
        run_expand(make_config(sample_root, tmp_path / "empty"), resume=True, log=quiet)


def test_a_bare_manifest_without_run_json_is_refused(sample_root, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.parquet").write_bytes(b"PAR1 someone else's manifest PAR1")
    with pytest.raises(RunConflictError) as err:
        run_expand(make_config(sample_root, out, limit=2), log=quiet)
    assert err.value.path == out / "manifest.parquet" and RUN_FILE in str(err.value)
    assert all_files(out) == {"manifest.parquet"}


# --- 12. targets outside the checkpoint's vocabulary ------------------------------------------------

def test_a_target_the_checkpoint_does_not_know_is_refused(sample_root, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(CheckpointError) as err:
        run_expand(make_config(sample_root, out, lighting="flash07,flash99"), log=quiet)
    assert "demo_legan.pt" in str(err.value) and "'flash99'" in str(err.value) and "lighting" in str(err.value)
    assert "'flash07'" not in str(err.value)
    with pytest.raises(CheckpointError, match="expression 'grin'"):
        run_expand(make_config(sample_root, out, expression="smile, grin"), log=quiet)
    assert not out.exists()


# --- 13. keep_best and --save-rejected -------------------------------------------------------------

def test_keep_best_and_save_rejected(sample_root, tmp_path):
    for save in (False, True):
        out = tmp_path / f"save-{save}"
        run_expand(make_config(sample_root, out, keep_best=1, per_image=3, save_rejected=save), log=quiet)
        df = manifest(out)
        assert len(df) == 36
        per_source = df.groupby("source_path")["kept"].sum()
        assert len(per_source) == 12 and (per_source == 1).all()
        # the kept one is the source's best
        best = df.loc[df.groupby("source_path")["q_score"].idxmax()]
        assert best["kept"].all()
        assert all(not p.startswith(".rejected/") for p in df.loc[df["kept"], "out_path"])
        assert all(p.startswith(".rejected/") for p in df.loc[~df["kept"], "out_path"])
        assert all((out / p).is_file() for p in df.loc[df["kept"], "out_path"])
        rejected_written = [(out / p).is_file() for p in df.loc[~df["kept"], "out_path"]]
        if save:
            assert all(rejected_written) and len(rejected_written) == 24
            assert len(list((out / REJECTED).rglob("*.png"))) == 24
        else:
            assert not any(rejected_written)
            assert not (out / REJECTED).exists()
        assert not (out / "rejected").exists()
        # outside the hidden .rejected/ there are exactly the kept variants
        assert sorted(p for p in images(out) if not p.startswith(".")) == sorted(df.loc[df["kept"], "out_path"])
        assert summary(out)["kept"] == 12 and summary(out)["rejected"] == 24


# --- 13b. two sources whose variants would overwrite each other ---------------------------------------

@pytest.mark.parametrize("names", [("a.png", "a.bmp"), ("a.jpg", "a.jpeg")])
def test_sources_sharing_a_stem_and_an_output_format_are_refused(tmp_path, names):
    root = tmp_path / "faces"
    for name in (*names, "b.png"):
        write_image(root / "alice" / name)
    write_image(root / "bob" / "a.png")  # the same stem in another folder is fine
    out = tmp_path / "out"
    with pytest.raises(DatasetFormatError) as err:
        run_expand(make_config(root, out, dataset="folder", min_size=8), log=quiet)
    message = str(err.value)
    assert f"alice/{names[0]}" in message and f"alice/{names[1]}" in message and "\n" not in message
    assert err.value.path == root / "alice" / sorted(names)[1]  # the second in listing order, by its path
    assert not out.exists()  # refused before anything is written


def test_sources_sharing_a_stem_with_different_output_formats_are_expanded(tmp_path):
    root = tmp_path / "faces"
    for name in ("a.jpg", "a.png"):
        write_image(root / "alice" / name)
    out = tmp_path / "out"
    run_expand(make_config(root, out, dataset="folder", min_size=8, per_image=1, q_min=0.0), log=quiet)
    df = manifest(out)
    assert len(df) == 2 and df["kept"].all() and df["out_path"].is_unique
    assert sorted(Path(p).suffix for p in df["out_path"]) == [".jpg", ".png"]
    assert all(Path(p).stem.startswith("a_") for p in df["out_path"])
    assert sorted(images(out)) == sorted(df["out_path"])


# --- 14. CASIA layout and reading the expanded set back ----------------------------------------------

@pytest.fixture
def casia_run(tmp_path) -> tuple[Path, Path]:
    root = make_casia(tmp_path / "casia", {"0000045": 3, "0000099": 2})
    out = tmp_path / "out"
    run_expand(make_config(root, out, dataset="casia", min_size=8, keep_best=1), log=quiet)
    return root, out


def test_casia_variants_land_in_their_identity_folders(casia_run):
    root, out = casia_run
    df = manifest(out)
    kept = df[df["kept"]]
    assert len(df) == 10 and len(kept) == 5
    for row in kept.itertuples():
        identity, stem = row.source_path.split("/")[0], Path(row.source_path).stem
        assert row.identity == identity
        assert row.out_path == f"{identity}/{stem}_{row.target}.jpg"
        assert (out / row.out_path).is_file()
    assert sorted(images(out)) == sorted(kept["out_path"])
    assert {p.name for p in out.iterdir()} == {"0000045", "0000099", ".expand", *OUTPUT_FILES}
    assert (out / RUN_FILE).is_file() and journal_of(out).is_file()
    assert not (out / REJECTED).exists()
    # the expanded tree reads back as identity folders; the run's own files are neither images nor skips
    listing = read_dataset("folder", out)
    assert listing.skips.total == 0, dict(listing.skips.counts)
    assert sorted(Path(r.path).relative_to(out).as_posix() for r in listing.records) == sorted(kept["out_path"])
    assert {(Path(r.path).parent.name, r.identity) for r in listing.records} == {("0000045", "0000045"),
                                                                                ("0000099", "0000099")}


def test_expanded_casia_tree_reads_back_as_casia(casia_run):
    root, out = casia_run
    kept = manifest(out).query("kept")
    listing = read_dataset("casia", out)
    assert listing.skips.total == 0, dict(listing.skips.counts)  # no output file or bookkeeping is counted
    assert listing.dataset == "casia"
    rows = {row.out_path: row for row in kept.itertuples()}
    back = [Path(r.path).relative_to(out).as_posix() for r in listing.records]
    assert sorted(back) == sorted(rows) and len(back) == len(set(back)) == 5  # exactly the kept variants
    for r in listing.records:
        assert r.identity == rows[Path(r.path).relative_to(out).as_posix()].identity
    assert {r.identity for r in listing.records} == {"0000045", "0000099"}


def test_expanded_casia_tree_with_rejected_and_sources_reads_back_as_casia(tmp_path):
    # the sources copied in beside their variants, the rejected ones saved: still a clean CASIA tree
    root = make_casia(tmp_path / "casia", {"0000045": 2, "0000099": 1})
    out = tmp_path / "out"
    run_expand(make_config(root, out, dataset="casia", min_size=8, keep_best=1, save_rejected=True), log=quiet)
    df = manifest(out)
    assert (out / REJECTED).is_dir() and (~df["kept"]).sum() == 3
    for source in root.rglob("*.jpg"):
        shutil.copy(source, out / source.relative_to(root))
    listing = read_dataset("casia", out)
    assert listing.skips.total == 0, dict(listing.skips.counts)
    expected = sorted(df.loc[df["kept"], "out_path"]) + sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jpg"))
    assert sorted(Path(r.path).relative_to(out).as_posix() for r in listing.records) == sorted(expected)


def test_fer_variants_go_to_the_class_folder_of_their_expression_and_read_back(tmp_path):
    root = make_fer_folders(tmp_path / "fer", {("train", "angry"): 2, ("train", "happy"): 2, ("test", "sad"): 1})
    out = tmp_path / "out"
    # squint is no FER class: it is only drawn with a class to go to (see tests/expand/test_bad_inputs.py);
    # the test split is expanded on request only (tests/expand/test_split_guard.py), here to check its layout
    run_expand(make_config(root, out, dataset="fer2013", min_size=8, mode="expression", per_image=3,
                           expression="neutral,smile,squint", expression_map="squint=disgust", q_min=0.0,
                           include_eval_splits=True), log=quiet)
    df = manifest(out)
    assert len(df) == 13  # the happy faces have 2 candidates (no smile), the others 3
    assert df.groupby("source_split").size().to_dict() == {"test": 3, "train": 10}
    assert not ((df["source_expression"] == "happy") & (df["expression"] == "happy")).any()
    assert set(df.loc[df["target"] == "E-squint", "expression"]) == {"disgust"}
    for row in df.itertuples():
        split, source_class, name = row.source_path.split("/")
        # <split>/<new class>/<source class>_<stem>_<tag>, a JPEG like its source
        assert row.out_path == f"{split}/{row.expression}/{source_class}_{Path(name).stem}_{row.target}.jpg"
        assert (out / row.out_path).is_file()
    assert df["out_path"].is_unique
    listing = read_dataset("fer2013", out)
    assert listing.skips.total == 0, dict(listing.skips.counts)  # every variant is in a FER class folder
    back = {Path(r.path).relative_to(out).as_posix(): r for r in listing.records}
    assert set(back) == set(df["out_path"])
    for row in df.itertuples():
        assert back[row.out_path].expression == row.expression
        assert back[row.out_path].split == {"train": "train", "test": "test"}[row.source_path.split("/")[0]]


# --- 15. summary.json and report.html ------------------------------------------------------------------

def test_summary_and_report_agree_with_the_manifest(sample_root, reference, tmp_path):
    df = manifest(reference)
    s = summary(reference)
    assert s["variants"] == len(df) == 24
    assert s["kept"] == int(df["kept"].sum()) and s["kept"] + s["rejected"] == s["variants"]
    assert s["kept_rate"] == pytest.approx(s["kept"] / s["variants"])
    assert sum(t["variants"] for t in s["per_target"].values()) == s["variants"]
    assert sum(t["kept"] for t in s["per_target"].values()) == s["kept"]
    assert set(s["per_target"]) == set(df["target"])
    assert sum(i["variants"] for i in s["per_identity"].values()) == s["variants"]
    assert set(s["per_identity"]) == {"001", "002"}
    q = s["q_score"]
    assert q["scored"] == s["variants"] and sum(q["histogram"]["counts"]) == q["scored"]
    assert len(q["histogram"]["counts"]) == 20 and q["min"] <= q["quantiles"]["p50"] <= q["max"]
    assert s["sources_planned"] == s["sources_processed"] == 12
    assert s["skips"] == {"total": 0, "counts": {}, "examples": {}}
    assert s["settings"]["q_min"] == Q_MIN and s["generator"]["demo"] and s["q"]["demo"]

    page = (reference / "report.html").read_text()
    assert shown_sources(page) == set(df["source_path"])  # all 12 shown (default 48)
    assert page.count("<img") == 12 + 24  # a thumbnail per shown source and per variant of it
    assert page.count('class="var kept"') == s["kept"]

    out = tmp_path / "few"
    run_expand(make_config(sample_root, out, report_sources=3), log=quiet)
    page = (out / "report.html").read_text()
    shown = shown_sources(page)
    assert len(shown) == 3 and shown <= set(df["source_path"])
    ordered = list(df["source_path"].drop_duplicates())
    assert ordered[0] in shown and ordered[-1] in shown  # spread over the listing
    n_variants = int(df["source_path"].isin(shown).sum())
    assert n_variants == 6
    assert page.count("<img") == len(shown) + n_variants


def shown_sources(page: str) -> set[str]:
    return {html.unescape(p) for p in re.findall(r'<div class="path">([^<]*)</div>', page)}


# --- 16. dry run ---------------------------------------------------------------------------------

def test_dry_run_writes_nothing(sample_root, tmp_path):
    out = tmp_path / "out"
    estimate = run_expand(make_config(sample_root, out, dry_run=True, per_image=3), log=quiet)
    assert not out.exists()
    assert estimate.sources == 12 and estimate.variants == 36
    assert sum(estimate.per_target.values()) == 36
    text = estimate.describe()
    assert "36 variant(s)" in text and "12 source image(s)" in text and "nothing was written" in text
    assert estimate.bytes_if_all_kept > 0 and estimate.seconds > 0


def test_dry_run_of_the_builtin_sample_writes_nothing(tmp_path, monkeypatch):
    # the built-in sample, cut to 6 images so the test stays quick
    monkeypatch.setattr(expand_sources, "SAMPLE_IDENTITIES", 1)
    monkeypatch.setattr(expand_sources, "SAMPLE_LIGHTING", ("ambient",))
    out = tmp_path / "out"
    config = ExpandConfig(dataset="sample", out=str(out), per_image=2, batch_size=2, workers=0, device="cpu", q="demo",
                          dry_run=True)
    estimate = run_expand(config, log=quiet)
    assert estimate.sources == 6 and estimate.variants == 12
    assert not out.exists()

    # the real run renders the sample into <out>/.sample, beside the variants and the bookkeeping
    config.dry_run = False
    result = run_expand(config, log=quiet)
    assert result.summary["variants"] == 12
    df = manifest(out)
    tops = {p.split("/")[0] for p in df.loc[df["kept"], "out_path"]}  # the sample's session folders
    assert tops and all(t.startswith("session") for t in tops)
    assert {p.name for p in out.iterdir()} == {".sample", ".expand", *OUTPUT_FILES} | tops
    assert sorted(images(out)) == sorted(df.loc[df["kept"], "out_path"])
    assert len(list((out / ".sample").rglob("*.png"))) == 6

    # a dry run with the sample already rendered reads it and changes nothing
    before = {rel: (out / rel).read_bytes() for rel in all_files(out)}
    config.dry_run = True
    assert run_expand(config, log=quiet).variants == 12
    assert {rel: (out / rel).read_bytes() for rel in all_files(out)} == before
