"""The leak guard: trainers refuse synthetic rows made from evaluation faces, and say how many.

The pure decision (:func:`augmenter.datasets.leak.check_synthetic_sources`) on hand-made rows, then real
``augment expand`` manifests (made with ``--include-eval-splits``, the way the FER-2013 leak happened) fed to
``train-expression --remedy synthetic`` on the FER-2013 and AffectNet layouts, an old manifest without
``source_split``, the trainer's own hash hold-out, and ``train-verifier``.
"""
from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from augmenter.datasets.leak import (REFUSED, EvaluationSources, check_synthetic_sources, combine_checks,
                                     guard_manifest_frame)
from augmenter.datasets.manifest import read_manifest, write_manifest
from augmenter.datasets.registry import read_dataset
from augmenter.datasets.spec import read_specs, split_held_out
from augmenter.expand.engine import run_expand
from augmenter.skips import SkipReport
from augmenter.datasets.record import FaceRecord
from recognition.data import synthetic_samples, training_records
from recognition.train_expression import ExpressionConfig, train_expression
from recognition.train_verifier import VerifierConfig, train_verifier
from tests.datasets.fixtures import affectnet_row, make_affectnet
from tests.expand.test_engine import make_config, quiet
from tests.recognition.fixtures import (EXPRESSION_LOOKS, make_class_folders, make_identity_folders, manifest_row,
                                        pattern, seed_holding_out_every_class, write_png, write_test_manifest)

EXPRESSION_RUN = dict(backbone="small_resnet", image_size=32, width=8, embedding_size=16, epochs=1, batch_size=8,
                      workers=0, device="cpu")


def refused_line(lines: list[str]) -> str:
    found = [line for line in lines if line.startswith("refused ")]
    assert len(found) == 1, lines  # one line, whatever the number of manifests
    return found[0]


# --- the pure decision -----------------------------------------------------------------------------------------

def test_rows_are_refused_by_their_split_or_by_their_source_file():
    evaluation = EvaluationSources.of(["/data/fer/validation/happy/PublicTest_1.png",
                                       "/data/fer/test/sad/PrivateTest_2.png"])
    check = check_synthetic_sources(
        ["train/happy/Training_1.png",           # training source: kept
         "validation/happy/PublicTest_1.png",    # split says val
         "test/sad/PrivateTest_2.png",           # relative path of an evaluation file, split unknown
         "/data/fer/test/sad/PrivateTest_2.png",  # absolute path of an evaluation file, no split column
         "/elsewhere/test/sad/PrivateTest_2.png",  # absolute, but another file
         "train/sad/Training_9.png"],            # split says PrivateTest (the csv's name)
        ["train", "val", "unknown", None, None, "PrivateTest"], evaluation)
    assert check.keep == [True, False, False, False, True, False]
    assert (check.refused, check.refused_split, check.refused_file, check.no_split) == (4, 2, 2, 2)
    assert check.examples == ["validation/happy/PublicTest_1.png", "test/sad/PrivateTest_2.png",
                              "/data/fer/test/sad/PrivateTest_2.png", "train/sad/Training_9.png"]
    assert check.line() == ("refused 4 of 6 synthetic row(s) whose source is in an evaluation split "
                            "(2 by source_split, 2 by source file); 2 row(s) have no source_split (an older "
                            "manifest): checked by source file only")


def test_relative_sources_match_whole_trailing_components_only():
    evaluation = EvaluationSources.of(["/data/fer/validation/happy/PublicTest_1.png"])
    assert "happy/PublicTest_1.png" in evaluation and "validation/happy/PublicTest_1.png" in evaluation
    assert "./validation/happy/../happy/PublicTest_1.png" in evaluation
    assert "validation\\happy\\PublicTest_1.png" in evaluation  # written on Windows
    assert "py/PublicTest_1.png" not in evaluation and "train/happy/PublicTest_1.png" not in evaluation
    assert "" not in evaluation and len(evaluation) == 1
    assert check_synthetic_sources([], [], evaluation).line().startswith("refused 0 of 0 synthetic row(s)")
    with pytest.raises(ValueError, match="2 source paths but 1 source splits"):
        check_synthetic_sources(["a", "b"], ["train"], evaluation)


def test_checks_of_several_manifests_combine_into_one():
    evaluation = EvaluationSources.of(["/d/val/x.png"])
    a = check_synthetic_sources(["val/x.png", "train/y.png"], ["unknown", "train"], evaluation)
    b = check_synthetic_sources(["z.png"], ["test"], evaluation)
    total = combine_checks([a, b])
    assert total.keep == [False, True, False] and (total.refused_split, total.refused_file) == (1, 1)
    assert total.examples == ["val/x.png", "z.png"]


def test_a_manifest_frame_is_guarded_with_or_without_the_column():
    df = pd.DataFrame({"source_path": ["train/a.png", "validation/b.png", "train/c.png"],
                       "source_split": ["train", "val", ""], "out_path": ["1.png", "2.png", "3.png"]})
    kept, check = guard_manifest_frame(df, EvaluationSources.of(["/d/train/c.png"]))
    assert kept["out_path"].tolist() == ["1.png"] and list(kept.index) == [0]
    assert (check.refused_split, check.refused_file, check.no_split) == (1, 1, 1)  # an empty cell says nothing
    kept, check = guard_manifest_frame(df.drop(columns="source_split"), EvaluationSources.of(["/d/validation/b.png"]))
    assert kept["out_path"].tolist() == ["1.png", "3.png"] and (check.refused_file, check.no_split) == (1, 3)


def test_manifest_rows_given_as_data_are_not_trained_on_when_made_from_evaluation_faces():
    real = FaceRecord(path=Path("/d/train/happy/1.png"), dataset="fer2013", split="train", expression="happy")
    val = FaceRecord(path=Path("/d/validation/happy/2.png"), dataset="fer2013", split="val", expression="happy")
    rows = [FaceRecord(path=Path(f"/x/{k}.png"), dataset="manifest", expression="sad", extra={"source_split": split})
            for k, split in enumerate(["train", "val", "test", "unknown"])]
    rows.append(FaceRecord(path=Path("/x/old.png"), dataset="manifest", expression="sad"))  # no column: unknown
    lines = []
    assert training_records([real, val, *rows], lines.append) == [real, rows[0], rows[3], rows[4]]
    assert lines == ["refused 2 manifest row(s) of --data whose source is in an evaluation split"]
    lines.clear()
    assert training_records([real], lines.append) == [real] and lines == []


# --- train-expression on real expansions ---------------------------------------------------------------------

def make_fer(root: Path) -> Path:
    """FER-2013 folders of distinct-looking 32 px faces: 4 per class in train, 2 in validation, 1 in test."""
    prefix = {"train": "Training", "validation": "PublicTest", "test": "PrivateTest"}
    for c, name in enumerate(EXPRESSION_LOOKS):
        for split, n in (("train", 4), ("validation", 2), ("test", 1)):
            for k in range(n):
                write_png(root / split / name / f"{prefix[split]}_{100 * c + k}.png",
                          pattern(EXPRESSION_LOOKS[name], 32, 1000 * c + 10 * len(split) + k))
    return root


def make_affectnet_faces(root: Path) -> Path:
    train = [affectnet_row(f"1/t{k}.jpg", expression=code) for k, code in enumerate("1010")]
    val = [affectnet_row("2/v0.jpg", expression="0"), affectnet_row("2/v1.jpg", expression="1")]
    return make_affectnet(root, train, val)


def expanded_with_eval_splits(dataset: str, root: Path, out: Path) -> pd.DataFrame:
    """A real expansion of every split (the old behaviour), everything kept; its manifest."""
    run_expand(make_config(root, out, dataset=dataset, min_size=8, mode="expression", per_image=2, q_min=0.0,
                           include_eval_splits=True), log=quiet)
    return read_manifest(out / "manifest.parquet")


@pytest.mark.parametrize("dataset, make", [("fer2013", make_fer), ("affectnet", make_affectnet_faces)])
def test_train_expression_refuses_variants_of_evaluation_faces_and_says_how_many(tmp_path, dataset, make):
    root = make(tmp_path / dataset)
    df = expanded_with_eval_splits(dataset, root, tmp_path / "expanded")
    leaked = df["source_split"].isin(["val", "test"])
    assert leaked.sum() >= 4 and (~leaked).sum() >= 4  # both kinds are there to be told apart
    real = [r for r in read_dataset(dataset, root).records if r.split == "train"]
    classes = {r.expression for r in real}
    usable = int((~leaked & df["expression"].isin(classes)).sum())

    lines = []
    config = ExpressionConfig(data=[f"{dataset}:{root}"], out=str(tmp_path / "run"), remedy="synthetic",
                              synthetic=[str(tmp_path / "expanded" / "manifest.parquet")], **EXPRESSION_RUN)
    result = train_expression(config, log=lines.append)
    assert refused_line(lines) == (f"refused {leaked.sum()} of {len(df)} synthetic row(s) whose source is in an "
                                   f"evaluation split ({leaked.sum()} by source_split, 0 by source file)")
    assert result.skips.counts[REFUSED] == leaked.sum()
    assert f"synthetic: {usable} kept image(s) from 1 manifest(s)" in lines
    assert any(line.startswith(f"train: {len(real) + usable} image(s)") for line in lines)


@pytest.mark.parametrize("dataset, make", [("fer2013", make_fer), ("affectnet", make_affectnet_faces)])
def test_an_old_manifest_without_source_split_is_checked_by_source_file(tmp_path, dataset, make):
    root = make(tmp_path / dataset)
    df = expanded_with_eval_splits(dataset, root, tmp_path / "expanded")
    leaked = int(df["source_split"].isin(["val", "test"]).sum())
    old, _ = write_manifest(df.drop(columns="source_split"), tmp_path / "expanded" / "old_manifest")
    records = read_dataset(dataset, root).records
    evaluation = EvaluationSources.of([r.path for r in records if r.split != "train"])
    classes = sorted({r.expression for r in records} | set(df["expression"]))
    skips, lines = SkipReport(), []
    samples = synthetic_samples([old], classes, lambda r: r.expression, skips, evaluation, lines.append)
    assert lines == [f"refused {leaked} of {len(df)} synthetic row(s) whose source is in an evaluation split "
                     f"(0 by source_split, {leaked} by source file); {len(df)} row(s) have no source_split (an older "
                     "manifest): checked by source file only"]
    assert len(samples) == len(df) - leaked and skips.counts[REFUSED] == leaked
    source_of = {tmp_path / "expanded" / out: source for out, source in zip(df["out_path"], df["source_path"])}
    assert not any(source_of[Path(s.path)] in evaluation for s in samples)  # no variant of an evaluation face


def test_train_expression_refuses_variants_of_its_own_hash_hold_out(tmp_path):
    root = make_class_folders(tmp_path / "faces", {"happy": 6, "sad": 6, "neutral": 6})
    spec = f"class-folder:{root}"
    seed = seed_holding_out_every_class(spec, 0.3, minimum=1)
    train, val = split_held_out(read_specs([spec])[0], 0.3, seed)
    synthetic = tmp_path / "synthetic"
    rows = []
    for k, record in enumerate([train[0], val[0], val[1]]):  # class folders have no split: "unknown"
        write_png(synthetic / f"v{k}.png", pattern(EXPRESSION_LOOKS[record.expression], 32, 700 + k))
        rows.append({**manifest_row(f"v{k}.png", expression=record.expression),
                     "source_path": record.path.relative_to(root).as_posix(), "source_split": "unknown"})
    manifest = write_test_manifest(synthetic / "manifest", rows)
    lines = []
    result = train_expression(ExpressionConfig(data=[spec], out=str(tmp_path / "run"), remedy="synthetic",
                                               synthetic=[str(manifest)], holdout=0.3, seed=seed, **EXPRESSION_RUN),
                              log=lines.append)
    assert refused_line(lines) == ("refused 2 of 3 synthetic row(s) whose source is in an evaluation split "
                                   "(0 by source_split, 2 by source file)")
    assert "synthetic: 1 kept image(s) from 1 manifest(s)" in lines
    assert result.skips.counts[REFUSED] == 2
    assert all("v0.png" not in e for e in result.skips.examples[REFUSED])


# --- train-verifier -------------------------------------------------------------------------------------------

def test_train_verifier_refuses_variants_of_held_out_people_pair_images_and_test_splits(tmp_path):
    root = make_identity_folders(tmp_path / "faces", n_per_identity=4)
    spec = f"folder:{root}"
    train, held = split_held_out(read_specs([spec])[0], 0.5, 0)
    assert train and held
    pair_image = train[1]
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"first,second,same\n{pair_image.path.relative_to(root).as_posix()},"
                     f"{train[2].path.relative_to(root).as_posix()},1\n")
    synthetic = tmp_path / "synthetic"
    sources = [(train[0], "unknown"), (held[0], "unknown"), (pair_image, "unknown"), (train[3], "test")]
    rows = []
    for k, (record, split) in enumerate(sources):
        write_png(synthetic / f"v{k}.png", pattern("red", 32, 800 + k))
        rows.append({**manifest_row(f"v{k}.png", identity=record.identity),
                     "source_path": record.path.relative_to(root).as_posix(), "source_split": split})
    manifest = write_test_manifest(synthetic / "manifest", rows)
    lines = []
    result = train_verifier(VerifierConfig(data=[spec], out=str(tmp_path / "run"), synthetic=[str(manifest)],
                                           holdout=0.5, val_pairs=str(pairs), backbone="mobilefacenet",
                                           embedding_size=32, image_size=32, epochs=1, batch_size=4, optimizer="adamw",
                                           lr=1e-3, scale=16.0, workers=0, device="cpu"), log=lines.append)
    assert refused_line(lines) == ("refused 3 of 4 synthetic row(s) whose source is in an evaluation split "
                                   "(1 by source_split, 2 by source file)")
    assert "synthetic: 1 kept image(s) from 1 manifest(s)" in lines
    assert result.skips.counts[REFUSED] == 3 and math.isfinite(result.last.get("pair_accuracy", math.nan))
