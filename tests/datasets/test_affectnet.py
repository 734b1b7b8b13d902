"""AffectNet reader: file-list CSVs, bbox / landmark / code validation, splits, options."""
from __future__ import annotations


import numpy as np
import pytest

from augmenter.datasets import UNKNOWN, read_dataset
from augmenter.datasets.affectnet import read_affectnet
from augmenter.errors import DatasetFormatError
from tests.datasets.fixtures import AFFECTNET_HEADER, affectnet_row, landmark_text, make_affectnet, write_image


def _rows(n, start=0, **kw):
    return [affectnet_row(f"{(start + k) % 3}/img{start + k:04d}.jpg", **kw) for k in range(n)]


def test_reads_both_splits_with_labels_bbox_and_landmarks(tmp_path):
    root = make_affectnet(tmp_path, [affectnet_row("689/b.jpg", expression="0"), affectnet_row("12/a.jpg", x=0, y=0)],
                          [affectnet_row("3/c.JPG", expression="7", valence="-0.5", arousal="0.25")])
    listing = read_affectnet(root)
    assert listing.skips.total == 0 and listing.dataset == "affectnet" and listing.root == tmp_path
    images = tmp_path / "Manually_Annotated_Images"
    assert [r.path for r in listing.records] == [images / "12/a.jpg", images / "3/c.JPG", images / "689/b.jpg"]
    a, c, b = listing.records
    assert (a.expression, a.split, a.bbox, a.identity, a.lighting) == ("happy", "train", (0.0, 0.0, 80.0, 90.0), UNKNOWN, UNKNOWN)
    assert (b.expression, b.split) == ("neutral", "train")
    assert (c.expression, c.split) == ("contempt", "val")
    assert c.extra == {"emotion_code": "7", "valence": "-0.5", "arousal": "0.25"}
    assert a.landmarks.shape == (68, 2) and a.landmarks.dtype == np.float32
    assert a.landmarks[0].tolist() == [10.0, 10.5] and a.landmarks[-1].tolist() == [77.0, 77.5]
    assert type(a.bbox[0]) is float


def test_malformed_rows_are_counted_with_line_examples(tmp_path):
    train = [
        affectnet_row("1/ok.jpg"),                                   # line 2
        affectnet_row("1/w.jpg", w="-4"),                            # line 3: bad bbox
        affectnet_row("1/x.jpg", x="-1"),                            # line 4: bad bbox
        affectnet_row("1/h.jpg", h="abc"),                           # line 5: bad bbox
        affectnet_row("1/missing.jpg"),                              # line 6: missing file
        affectnet_row("1/u.jpg", expression="12"),                   # line 7: unknown code
        affectnet_row("1/n.jpg", expression="happy"),                # line 8: unknown code
        affectnet_row("1/e8.jpg", expression="8"),                   # line 9
        affectnet_row("1/e9.jpg", expression="9"),                   # line 10
        affectnet_row("1/e10.jpg", expression="10"),                 # line 11
        affectnet_row("1/lm.jpg", landmarks=landmark_text(134)),     # line 12: bad landmarks
        affectnet_row("1/tok.jpg", landmarks="1.2.3;" + landmark_text(135)),  # line 13: bad token
        affectnet_row("1/ok.jpg") + ",extra",                        # line 14: too many fields
        "1/short.jpg,1,2,3",                                         # line 15: too few fields
        affectnet_row("1/v.jpg", valence="high"),                    # line 16
        affectnet_row("1/notes.txt"),                                # line 17: not an image
        affectnet_row(""),                                           # line 18: no path
        affectnet_row("1/ok2.jpg"),                                  # line 19
    ]
    images = [r.split(",")[0] for r in train if r.split(",")[0] not in ("1/missing.jpg", "")]
    root = make_affectnet(tmp_path, train, [], images=images)
    listing = read_affectnet(root)
    assert [r.path.name for r in listing.records] == ["ok.jpg", "ok2.jpg"]
    s = listing.skips
    assert dict(s.counts) == {
        "bad bbox": 4, "missing file": 1, "unknown expression": 2, "expression 8 (none) excluded": 1,
        "expression 9 (uncertain) excluded": 1, "expression 10 (no-face) excluded": 1, "bad landmarks": 2,
        "wrong field count": 1, "bad valence/arousal": 1, "not an image": 1, "missing path": 1,
    }
    assert s.examples["bad bbox"] == [
        "training.csv line 3: face_width=-4", "training.csv line 4: face_x=-1",
        "training.csv line 5: face_height=abc", "training.csv line 15: face_height=(empty)",
    ]
    assert s.examples["missing file"][0].startswith("training.csv line 6: 1/missing.jpg")
    assert s.examples["unknown expression"] == ["training.csv line 7: expression='12'", "training.csv line 8: expression='happy'"]
    assert s.examples["bad landmarks"][0].startswith("training.csv line 12: facial_landmarks has 134 values")
    assert s.examples["bad landmarks"][1] == "training.csv line 13: facial_landmarks value '1.2.3' is not a finite number"
    assert s.examples["wrong field count"][0].startswith("training.csv line 14:")


def test_contempt_options(tmp_path):
    root = make_affectnet(tmp_path, [affectnet_row("1/a.jpg", expression="7"), affectnet_row("1/b.jpg", expression="6")])
    kept = read_affectnet(root, splits=("train",))
    assert [r.expression for r in kept.records] == ["contempt", "anger"]
    for options in ({"classes": 7}, {"include_contempt": False}):
        dropped = read_affectnet(root, splits=("train",), **options)
        assert [r.expression for r in dropped.records] == ["anger"]
        assert dict(dropped.skips.counts) == {"contempt excluded (classes=7)": 1}
    with pytest.raises(ValueError):
        read_affectnet(root, classes=8, include_contempt=False)
    with pytest.raises(ValueError):
        read_affectnet(root, classes=6)


def test_wrong_header_and_missing_csv_raise_naming_the_file(tmp_path):
    bad = make_affectnet(tmp_path / "a", _rows(1), _rows(1), header=AFFECTNET_HEADER.replace("face_x", "x"))
    with pytest.raises(DatasetFormatError, match="wrong header") as err:
        read_affectnet(bad)
    assert "training.csv" in str(err.value) and "\n" not in str(err.value)
    only_train = make_affectnet(tmp_path / "b", _rows(2))
    with pytest.raises(DatasetFormatError, match="validation.csv: file does not exist"):
        read_affectnet(only_train)
    assert len(read_affectnet(only_train, splits=("train",))) == 2
    with pytest.raises(DatasetFormatError, match="does not exist"):
        read_affectnet(tmp_path / "missing")
    empty = make_affectnet(tmp_path / "c", [], [])
    with pytest.raises(DatasetFormatError, match="no usable images"):
        read_affectnet(empty)


def test_csv_option_root_as_csv_images_dir_and_flat_images(tmp_path):
    root = make_affectnet(tmp_path / "a", _rows(2), _rows(1, start=5))
    val = root / "Manually_Annotated_file_lists" / "validation.csv"
    by_option = read_affectnet(root, csv="Manually_Annotated_file_lists/validation.csv")
    by_root = read_dataset("affectnet", val)
    assert [r.path for r in by_option.records] == [r.path for r in by_root.records]
    assert [r.split for r in by_root.records] == ["val"] and by_root.root == root

    flat = tmp_path / "flat"
    (flat / "lists").mkdir(parents=True)
    (flat / "lists" / "mine.csv").write_text(AFFECTNET_HEADER + "\n" + affectnet_row("7/z.png") + "\n")
    write_image(flat / "7" / "z.png")
    listing = read_affectnet(flat, csv="lists/mine.csv")
    assert [r.path for r in listing.records] == [flat / "7" / "z.png"] and listing.records[0].split == UNKNOWN

    moved = tmp_path / "pics"
    write_image(moved / "7" / "z.png")
    assert len(read_affectnet(flat, csv="lists/mine.csv", images_dir=moved)) == 1
    with pytest.raises(DatasetFormatError, match="image folder does not exist"):
        read_affectnet(flat, csv="lists/mine.csv", images_dir="nowhere")


def test_check_files_false_and_landmarks_false(tmp_path):
    root = make_affectnet(tmp_path, _rows(3), images=[])
    with pytest.raises(DatasetFormatError, match="missing file"):
        read_affectnet(root, splits=("train",))
    listing = read_affectnet(root, splits=("train",), check_files=False, landmarks=False)
    assert len(listing) == 3 and all(r.landmarks is None for r in listing.records)


def test_twenty_thousand_rows_parse_vectorised(tmp_path):
    root = make_affectnet(tmp_path, _rows(20_000), images=[])
    listing = read_affectnet(root, splits=("train",), check_files=False)
    assert len(listing) == 20_000 and listing.records[-1].landmarks[67].tolist() == [77.0, 77.5]


def test_infinite_or_nan_valence_and_arousal_are_counted_skips(tmp_path):
    train = [
        affectnet_row("1/ok.jpg"),                                   # line 2
        affectnet_row("1/a.jpg", valence="inf"),                     # line 3
        affectnet_row("1/b.jpg", arousal="-inf"),                    # line 4
        affectnet_row("1/c.jpg", valence="NaN"),                     # line 5
        affectnet_row("1/d.jpg", arousal="Infinity"),                # line 6
        affectnet_row("1/e.jpg", valence="1e999"),                   # line 7: overflows to inf
    ]
    listing = read_affectnet(make_affectnet(tmp_path, train), splits=("train",))
    assert [r.path.name for r in listing.records] == ["ok.jpg"]
    assert dict(listing.skips.counts) == {"bad valence/arousal": 5}
    assert sorted(listing.skips.examples["bad valence/arousal"]) == [
        "training.csv line 3: valence='inf'", "training.csv line 4: arousal='-inf'",
        "training.csv line 5: valence='NaN'", "training.csv line 6: arousal='Infinity'",
        "training.csv line 7: valence='1e999'",
    ]


def test_duplicated_rows_keep_the_first_and_count_the_others(tmp_path):
    train = [
        affectnet_row("1/a.jpg", expression="1"),                   # line 2: kept
        affectnet_row("1/b.jpg"),                                   # line 3: kept
        affectnet_row("1/a.jpg", expression="2"),                   # line 4: duplicate of line 2
        affectnet_row("1/./a.jpg"),                                 # line 5: the same file, spelled otherwise
        affectnet_row("1/c.jpg", w="-1"),                           # line 6: bad bbox (not usable)
        affectnet_row("1/c.jpg"),                                   # line 7: the first usable row of c: kept
    ]
    val = [affectnet_row("1/b.jpg")]                                # validation.csv line 2: listed in training.csv
    listing = read_affectnet(make_affectnet(tmp_path, train, val))
    images = tmp_path / "Manually_Annotated_Images"
    assert [(r.path, r.expression, r.split) for r in listing.records] == [
        (images / "1/a.jpg", "happy", "train"), (images / "1/b.jpg", "happy", "train"),
        (images / "1/c.jpg", "happy", "train"),
    ]
    assert dict(listing.skips.counts) == {"duplicate row": 3, "bad bbox": 1}
    assert listing.skips.examples["duplicate row"] == [
        "training.csv line 4: 1/a.jpg already listed on training.csv line 2",
        "training.csv line 5: 1/./a.jpg already listed on training.csv line 2",
        "validation.csv line 2: 1/b.jpg already listed on training.csv line 3",
    ]
    assert len({r.path for r in listing.records}) == len(listing)  # no two records of one image


def test_duplicated_rows_do_not_stop_an_expansion_layout(tmp_path):
    from augmenter.expand.layout import check_distinct_names, source_key

    root = make_affectnet(tmp_path, [affectnet_row("1/a.jpg"), affectnet_row("1/a.jpg")])
    listing = read_affectnet(root, splits=("train",))
    check_distinct_names([source_key(r, listing.root) for r in listing.records])  # raised "share the name" before
    assert len(listing) == 1 and listing.skips.counts["duplicate row"] == 1
