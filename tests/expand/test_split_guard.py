"""``augment expand`` expands training sources only unless asked, and its manifest says each source's split.

FER-2013 (folders and the original csv) and AffectNet layouts from :mod:`tests.datasets.fixtures`; demo models
on CPU, everything kept (``q_min=0``) so that the counts are exact.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from augmenter.cli import main
from augmenter.datasets.manifest import new_manifest, read_manifest, write_manifest
from augmenter.datasets.record import FaceRecord
from augmenter.datasets.splits import (SPLIT_NAMES, canonical_split, is_evaluation_split, is_validation_split,
                                       partition_by_split, record_split)
from augmenter.expand.engine import run_expand
from augmenter.expand.sources import training_sources
from tests.datasets.fixtures import affectnet_row, fer_pixels, make_affectnet, make_fer_csv, make_fer_folders
from tests.expand.test_engine import make_config, manifest, quiet, summary

FER_COUNTS = {("train", "angry"): 2, ("train", "happy"): 2, ("validation", "disgust"): 2, ("test", "sad"): 1}


def fer_run(tmp_path: Path, **kw) -> tuple[Path, pd.DataFrame, list[str]]:
    root = make_fer_folders(tmp_path / "fer", FER_COUNTS)
    out, messages = tmp_path / "out", []
    run_expand(make_config(root, out, dataset="fer2013", min_size=8, mode="expression", per_image=1, q_min=0.0, **kw),
               log=messages.append)
    return out, manifest(out), messages


def affectnet_root(tmp_path: Path) -> Path:
    train = [affectnet_row("1/a.jpg"), affectnet_row("1/b.jpg", expression="0"),
             affectnet_row("2/c.jpg", expression="6")]
    val = [affectnet_row("3/v.jpg", expression="0"), affectnet_row("3/w.jpg", expression="6")]
    return make_affectnet(tmp_path / "affectnet", train, val)


# --- the one table of split names -----------------------------------------------------------------------

@pytest.mark.parametrize("name, split", [
    ("train", "train"), ("Training", "train"), ("val", "val"), ("validation", "val"), ("Valid", "val"),
    ("PublicTest", "val"), ("test", "test"), ("PrivateTest", "test"), ("unknown", "unknown"), ("", "unknown"),
    (None, "unknown"), ("holdout", "unknown"),
])
def test_split_names_of_every_layout_map_to_one_canonical_split(name, split):
    assert canonical_split(name) == split
    assert is_evaluation_split(name) == (split in ("val", "test"))
    assert is_validation_split(name) == (split == "val")


def test_fer_reader_and_the_split_table_are_one_table():
    from augmenter.datasets.fer2013 import SPLIT_FOLDERS
    from augmenter.datasets.fer2013_csv import USAGE_SPLITS

    assert SPLIT_FOLDERS is SPLIT_NAMES
    assert {usage: canonical_split(usage) for usage in USAGE_SPLITS} == USAGE_SPLITS  # the csv's Usage values


def test_records_without_splits_are_training_and_manifest_rows_keep_their_sources_split():
    casia = FaceRecord(path=Path("/d/0001/001.jpg"), dataset="casia", identity="0001")
    val = FaceRecord(path=Path("/d/validation/happy/1.jpg"), dataset="fer2013", split="val")
    test = FaceRecord(path=Path("/d/test/sad/2.jpg"), dataset="fer2013", split="test")
    row = FaceRecord(path=Path("/x/v.png"), dataset="manifest", extra={"source_split": "val"})
    old_row = FaceRecord(path=Path("/x/w.png"), dataset="manifest", extra={"source_path": "w.png"})
    assert record_split(casia) == "unknown" and record_split(row) == "val" and record_split(old_row) == "unknown"
    training, evaluation = partition_by_split([casia, val, row, test, old_row])
    assert training == [casia, old_row] and evaluation == [val, row, test]


def test_training_sources_leaves_out_evaluation_splits_unless_asked():
    train = FaceRecord(path=Path("/d/train/a.jpg"), dataset="fer2013", split="train")
    val = FaceRecord(path=Path("/d/validation/b.jpg"), dataset="fer2013", split="val")
    test = FaceRecord(path=Path("/d/test/c.jpg"), dataset="fer2013", split="test")
    sources, notice = training_sources([train, val, test, val])
    assert sources == [train]
    assert notice.startswith("left out 3 source image(s) of evaluation splits (test 1, val 2)")
    assert "--include-eval-splits" in notice
    sources, notice = training_sources([train, val, test], include_eval_splits=True)
    assert sources == [train, val, test] and "expanding 2 source image(s)" in notice
    assert training_sources([train]) == ([train], None)
    with pytest.raises(ValueError, match=r"all 2 source image\(s\) of fer2013 are in evaluation splits.*"
                                         r"--include-eval-splits"):
        training_sources([val, test], dataset="fer2013")


# --- FER-2013 folders --------------------------------------------------------------------------------------

def test_fer_expand_without_the_flag_writes_no_variant_of_a_validation_or_test_face(tmp_path):
    out, df, messages = fer_run(tmp_path)
    assert len(df) == 4  # the four training faces, one variant each
    assert set(df["source_split"]) == {"train"}
    assert all(p.startswith("train/") for p in [*df["source_path"], *df["out_path"]])
    assert not (out / "validation").exists() and not (out / "test").exists()
    written = {p.relative_to(out).as_posix() for p in out.rglob("*.jpg")}
    assert written == set(df["out_path"]) and not any("PublicTest" in p or "PrivateTest" in p for p in written)
    notice = "left out 3 source image(s) of evaluation splits (test 1, val 2)"
    assert any(m.startswith(notice) for m in messages)
    assert any(n.startswith(notice) for n in summary(out)["notices"])  # recorded with the run
    assert summary(out)["settings"]["include_eval_splits"] is False
    assert summary(out)["sources_planned"] == 4


def test_fer_expand_with_the_flag_expands_them_and_the_manifest_says_their_split(tmp_path):
    out, df, messages = fer_run(tmp_path, include_eval_splits=True)
    assert len(df) == 7
    by_split = {split: sorted(rows["source_path"]) for split, rows in df.groupby("source_split")}
    assert by_split == {"train": ["train/angry/Training_1000.jpg", "train/angry/Training_1001.jpg",
                                  "train/happy/Training_1000.jpg", "train/happy/Training_1001.jpg"],
                        "val": ["validation/disgust/PublicTest_1000.jpg", "validation/disgust/PublicTest_1001.jpg"],
                        "test": ["test/sad/PrivateTest_1000.jpg"]}
    for row in df.itertuples():  # each variant stays in its source's split folder
        assert row.out_path.split("/")[0] == row.source_path.split("/")[0] and (out / row.out_path).is_file()
    assert any(m.startswith("expanding 3 source image(s) of evaluation splits") for m in messages)
    back = read_manifest(out / "manifest.parquet")  # the typed copy keeps the column as text
    assert back["source_split"].tolist() == df["source_split"].tolist() and back["source_split"].dtype == "str"


def test_the_flag_on_the_command_line(tmp_path):
    root = make_fer_folders(tmp_path / "fer", FER_COUNTS)
    args = ["expand", "--dataset", "fer2013", "--root", str(root), "--min-size", "8", "--workers", "0", "--device",
            "cpu", "--mode", "expression", "--per-image", "1", "--q-min", "0", "--q", "demo"]
    default = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a")])
    assert default.exit_code == 0, default.output
    assert "left out 3 source image(s) of evaluation splits" in default.output
    assert set(manifest(tmp_path / "a")["source_split"]) == {"train"}
    flagged = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b"), "--include-eval-splits"])
    assert flagged.exit_code == 0, flagged.output
    assert manifest(tmp_path / "b")["source_split"].value_counts().to_dict() == {"train": 4, "val": 2, "test": 1}
    assert "--include-eval-splits" in CliRunner().invoke(main, ["expand", "--help"]).output


def test_a_dry_run_counts_training_sources_only(tmp_path):
    root = make_fer_folders(tmp_path / "fer", FER_COUNTS)
    config = dict(dataset="fer2013", min_size=8, mode="expression", per_image=1, dry_run=True)
    assert run_expand(make_config(root, tmp_path / "a", **config), log=quiet).sources == 4
    assert run_expand(make_config(root, tmp_path / "b", include_eval_splits=True, **config), log=quiet).sources == 7
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# --- FER-2013 csv ------------------------------------------------------------------------------------------

def test_fer_csv_public_and_private_test_rows_are_evaluation_sources(tmp_path):
    csv = make_fer_csv(tmp_path / "csv" / "fer2013.csv", [
        ("0", fer_pixels(0), "Training"), ("3", fer_pixels(1), "Training"),
        ("1", fer_pixels(2), "PublicTest"), ("4", fer_pixels(3), "PrivateTest"),
    ])
    out = tmp_path / "out"
    run_expand(make_config(csv, out, dataset="fer2013", min_size=8, mode="expression", per_image=1, q_min=0.0),
               log=quiet)
    df = manifest(out)
    assert len(df) == 2 and set(df["source_split"]) == {"train"}
    assert all(Path(p).name.startswith("Training_") for p in df["source_path"])
    out = tmp_path / "all"
    run_expand(make_config(csv, out, dataset="fer2013", min_size=8, mode="expression", per_image=1, q_min=0.0,
                           include_eval_splits=True), log=quiet)
    df = manifest(out)
    usage = {Path(p).name.split("_")[0]: s for p, s in zip(df["source_path"], df["source_split"])}
    assert usage == {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}


# --- AffectNet ---------------------------------------------------------------------------------------------

def test_affectnet_expand_leaves_out_validation_csv_rows_unless_asked(tmp_path):
    root = affectnet_root(tmp_path)
    config = dict(dataset="affectnet", min_size=8, mode="expression", per_image=1, q_min=0.0)
    run_expand(make_config(root, tmp_path / "a", **config), log=quiet)
    df = manifest(tmp_path / "a")
    assert sorted(df["source_path"]) == ["Manually_Annotated_Images/1/a.jpg", "Manually_Annotated_Images/1/b.jpg",
                                         "Manually_Annotated_Images/2/c.jpg"]
    assert set(df["source_split"]) == {"train"}
    assert not (tmp_path / "a" / "Manually_Annotated_Images" / "3").exists()
    run_expand(make_config(root, tmp_path / "b", include_eval_splits=True, **config), log=quiet)
    df = manifest(tmp_path / "b")
    val = df[df["source_split"] == "val"]
    assert len(df) == 5 and sorted(val["source_path"]) == ["Manually_Annotated_Images/3/v.jpg",
                                                           "Manually_Annotated_Images/3/w.jpg"]


def test_expanding_only_the_validation_csv_is_refused_without_the_flag(tmp_path):
    root = affectnet_root(tmp_path)
    config = dict(dataset="affectnet", csv="Manually_Annotated_file_lists/validation.csv", min_size=8,
                  mode="expression", per_image=1, q_min=0.0)
    with pytest.raises(ValueError, match=r"all 2 source image\(s\) of affectnet are in evaluation splits \(val 2\)"):
        run_expand(make_config(root, tmp_path / "a", **config), log=quiet)
    assert not (tmp_path / "a").exists()
    run_expand(make_config(root, tmp_path / "b", include_eval_splits=True, **config), log=quiet)
    assert set(manifest(tmp_path / "b")["source_split"]) == {"val"}


# --- old manifests ------------------------------------------------------------------------------------------

def test_a_manifest_without_source_split_still_reads(tmp_path):
    row = dict(out_path="a.png", source_path="train/happy/a.png", identity="unknown", dataset="fer2013",
               lighting="unknown", expression="sad", q_score=0.7, kept=True, seed=1, generator_hash="ab",
               toolkit_version="0.0.1")
    parquet, csv = write_manifest(new_manifest([row]), tmp_path / "manifest")
    for path in (parquet, csv):
        df = read_manifest(path)
        assert len(df) == 1 and "source_split" not in df.columns and df["source_path"][0] == "train/happy/a.png"


def test_a_folder_not_written_by_augment_align_gets_a_one_line_warning(tmp_path):
    from augmenter.align_tree import SETTINGS_NAME
    from augmenter.expand.engine import unaligned_notice

    raw = make_fer_folders(tmp_path / "fer", FER_COUNTS)
    message = unaligned_notice(raw)
    assert message is not None and str(raw) in message and "augment align" in message and "\n" not in message
    (raw / SETTINGS_NAME).write_text("{}")
    assert unaligned_notice(raw) is None
