"""FER-2013: the class-folder layout, and extracting the original fer2013.csv."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from PIL import Image

from augmenter.attributes import EXPRESSIONS
from augmenter.datasets import UNKNOWN, read_dataset
from augmenter.datasets import fer2013_csv
from augmenter.datasets.fer2013 import SPLIT_FOLDERS, read_fer2013
from augmenter.datasets.fer2013_csv import extract_fer2013_csv
from augmenter.datasets.record import EVAL_SPLITS, SPLITS
from augmenter.errors import DatasetFormatError
from tests.datasets.fixtures import fer_pixels, make_fer_csv, make_fer_folders, write_image, write_text


def test_folder_layout_splits_and_emotions(tmp_path):
    make_fer_folders(tmp_path)
    listing = read_fer2013(tmp_path)
    assert listing.skips.total == 0 and len(listing) == 7 and listing.dataset == "fer2013"
    got = Counter((r.split, r.expression) for r in listing.records)
    assert got == {("train", "anger"): 2, ("train", "happy"): 3, ("val", "disgust"): 1, ("test", "sad"): 1}
    r = listing.records[0]
    assert r.path == tmp_path / "test" / "sad" / "PrivateTest_1000.jpg"
    assert (r.identity, r.lighting, r.extra) == (UNKNOWN, UNKNOWN, {"emotion": "sad"})
    assert next(x for x in listing.records if x.expression == "anger").extra == {"emotion": "angry"}


def test_folder_layout_malformed_entries(tmp_path):
    make_fer_folders(tmp_path, {("train", "happy"): 1})
    write_image(tmp_path / "train" / "bored" / "Training_1.jpg")      # unknown emotion
    write_text(tmp_path / "train" / "happy" / "labels.csv")           # not an image
    write_image(tmp_path / "train" / "x.jpg")                         # outside an emotion folder
    write_text(tmp_path / "README.txt")                               # outside a split folder
    write_text(tmp_path / "train" / "happy" / ".DS_Store")
    listing = read_fer2013(tmp_path)
    assert len(listing) == 1
    assert dict(listing.skips.counts) == {
        "unknown emotion folder": 1, "not an image": 1, "file outside a class folder": 1,
        "file outside a split folder": 1,
    }
    assert listing.skips.examples["unknown emotion folder"] == ["train/bored/Training_1.jpg"]


@pytest.mark.parametrize(("folder", "split"), [
    ("val", "val"), ("Valid", "val"), ("VALIDATION", "val"), ("PublicTest", "val"), ("publictest", "val"),
    ("test", "test"), ("Test", "test"), ("PrivateTest", "test"), ("Train", "train"), ("training", "train"),
])
def test_common_split_folder_names_map_to_the_canonical_splits(tmp_path, folder, split):
    write_image(tmp_path / folder / "happy" / "a.jpg")
    write_image(tmp_path / ("test" if split == "train" else "train") / "sad" / "b.jpg")
    listing = read_fer2013(tmp_path)
    assert listing.skips.total == 0
    assert next(r.split for r in listing.records if r.path.name == "a.jpg") == split
    assert {r.split for r in listing.records} <= set(SPLITS)
    assert set(SPLIT_FOLDERS.values()) == set(SPLITS) and set(EVAL_SPLITS) < set(SPLITS)  # what trainers leave out


def test_an_unknown_split_folder_is_refused_naming_it_and_the_accepted_names(tmp_path):
    make_fer_folders(tmp_path)
    write_image(tmp_path / "holdout" / "happy" / "x.jpg")
    with pytest.raises(DatasetFormatError) as err:
        read_fer2013(tmp_path)
    assert err.value.path == tmp_path / "holdout" and "\n" not in str(err.value)
    assert "not a FER-2013 split folder" in str(err.value)
    for name in ("train", "val", "valid", "validation", "PublicTest", "test", "PrivateTest"):
        assert name in err.value.reason


def test_two_folders_of_one_split_are_refused(tmp_path):
    make_fer_folders(tmp_path)                                  # has validation/
    write_image(tmp_path / "val" / "happy" / "y.jpg")
    with pytest.raises(DatasetFormatError, match=r"validation: the same split \('val'\) as .*/val; keep one") as err:
        read_fer2013(tmp_path)
    assert err.value.path == tmp_path / "validation"


def test_folder_errors(tmp_path):
    with pytest.raises(DatasetFormatError, match="does not exist"):
        read_fer2013(tmp_path / "missing")
    (tmp_path / "train" / "happy").mkdir(parents=True)
    with pytest.raises(DatasetFormatError, match="no usable images"):
        read_fer2013(tmp_path)


def test_extract_csv_writes_48x48_faces_in_the_folder_layout(tmp_path):
    csv = make_fer_csv(tmp_path / "fer2013.csv", [
        ("0", fer_pixels(0), "Training"),
        ("6", fer_pixels(1), "PublicTest"),
        ("1", fer_pixels(2), "PrivateTest"),
    ])
    listing = extract_fer2013_csv(csv, tmp_path / "out")
    assert listing.root == tmp_path / "out" and listing.skips.total == 0
    got = [(r.path.relative_to(tmp_path / "out").as_posix(), r.expression, r.split, r.extra) for r in listing.records]
    assert got == [
        ("test/disgust/PrivateTest_00004.png", "disgust", "test", {"emotion_code": "1", "usage": "PrivateTest"}),
        ("train/angry/Training_00002.png", "anger", "train", {"emotion_code": "0", "usage": "Training"}),
        ("validation/neutral/PublicTest_00003.png", "neutral", "val", {"emotion_code": "6", "usage": "PublicTest"}),
    ]
    face = np.asarray(Image.open(listing.records[1].path))
    assert face.shape == (48, 48) and face.dtype == np.uint8
    assert face.ravel().tolist() == [int(v) for v in fer_pixels(0).split()]
    again = read_fer2013(tmp_path / "out")  # the extracted tree is a valid folder dataset
    assert [r.path for r in again.records] == [r.path for r in listing.records]
    assert [r.expression for r in again.records] == [r.expression for r in listing.records]


def test_extract_csv_counts_malformed_rows(tmp_path):
    rows = [
        ("3", fer_pixels(0), "Training"),                    # line 2: fine
        ("3", fer_pixels(0, n=2000), "Training"),            # line 3: too few values
        ("9", fer_pixels(0), "Training"),                    # line 4: bad code
        ("happy", fer_pixels(0), "Training"),                # line 5: bad code
        ("3", fer_pixels(0), "Holdout"),                     # line 6: bad usage
        ("3", "300 " + fer_pixels(0, n=2303), "Training"),   # line 7: value above 255
        ("3", "x " + fer_pixels(0, n=2303), "Training"),     # line 8: non-numeric
    ]
    csv = make_fer_csv(tmp_path / "fer2013.csv", rows)
    listing = extract_fer2013_csv(csv, tmp_path / "out")
    assert [r.path.name for r in listing.records] == ["Training_00002.png"]
    assert dict(listing.skips.counts) == {"bad pixels": 3, "unknown emotion code": 2, "unknown usage": 1}
    assert listing.skips.examples["bad pixels"] == [
        "fer2013.csv line 3: 2000 values, expected 2304 numbers 0-255",
        "fer2013.csv line 8: 2304 values, expected 2304 numbers 0-255",
        "fer2013.csv line 7: value 300 > 255",
    ]
    assert not (tmp_path / "out" / "train" / "happy" / "Training_00007.png").exists()


def test_csv_header_and_missing_file_raise(tmp_path):
    csv = make_fer_csv(tmp_path / "fer2013.csv", [("0", fer_pixels(0), "Training")], header="label,pixels,Usage")
    with pytest.raises(DatasetFormatError, match="fer2013.csv: wrong header"):
        extract_fer2013_csv(csv, tmp_path / "out")
    with pytest.raises(DatasetFormatError, match="does not exist"):
        read_fer2013(tmp_path / "nope" / "fer2013.csv")
    reordered = make_fer_csv(tmp_path / "b" / "fer2013.csv", [("Training", "0", fer_pixels(0))], header="Usage,emotion,pixels")
    assert len(read_fer2013(reordered)) == 1


def test_registry_extracts_once_then_reuses(tmp_path, monkeypatch):
    csv = make_fer_csv(tmp_path / "data" / "fer2013.csv", [("4", fer_pixels(5), "Training"), ("5", fer_pixels(6), "Training")])
    first = read_dataset("fer2013", csv)
    assert first.root == tmp_path / "data" / "fer2013_images" and len(first) == 2

    def refuse(*args, **kwargs):
        raise AssertionError("an extracted face was written again")

    monkeypatch.setattr(fer2013_csv, "write_image_atomic", refuse)
    second = read_dataset("fer2013", csv)
    assert [r.path for r in second.records] == [r.path for r in first.records]


def test_out_root_option(tmp_path):
    csv = make_fer_csv(tmp_path / "fer2013.csv", [("2", fer_pixels(3), "PublicTest")])
    listing = read_dataset("fer2013", csv, out_root=tmp_path / "faces")
    assert listing.records[0].path == tmp_path / "faces" / "validation" / "fear" / "PublicTest_00002.png"
    write_text(tmp_path / "a_file")
    with pytest.raises(DatasetFormatError, match="output folder is a file"):
        read_dataset("fer2013", csv, out_root=tmp_path / "a_file")


@pytest.mark.shared_data
def test_real_fer2013_folders(shared_data):
    listing = read_dataset("fer2013", shared_data / "fer2013")
    assert listing.skips.total == 0 and len(listing) == 28_709 + 3_589
    train = Counter(r.expression for r in listing.records if r.split == "train")
    assert len(train) == 7 and set(train) <= set(EXPRESSIONS)
    assert train["disgust"] == 436 and train["anger"] == 3_995 and sum(train.values()) == 28_709
    assert {r.split for r in listing.records} == {"train", "val"}


def test_identical_csv_rows_become_distinct_files(tmp_path):
    """fer2013.csv rows carry their pixels, not a path: each row gets its own file (named by its line),
    so a repeated row cannot give two records of one file (unlike a repeated AffectNet or manifest row)."""
    from augmenter.expand.layout import check_distinct_names, source_key

    row = ("3", fer_pixels(0), "Training")
    listing = extract_fer2013_csv(make_fer_csv(tmp_path / "fer2013.csv", [row, row]), tmp_path / "out")
    assert [r.path.name for r in listing.records] == ["Training_00002.png", "Training_00003.png"]
    assert listing.skips.total == 0
    check_distinct_names([source_key(r, listing.root) for r in listing.records])


def test_traps_beside_the_split_folders_are_counted_under_their_own_reason(tmp_path):
    from tests.fs_traps import add_traps

    make_fer_folders(tmp_path)
    expected = add_traps(tmp_path)
    listing = read_fer2013(tmp_path)
    assert len(listing.records) == 7
    for reason, n in expected.items():
        assert listing.skips.counts[reason] == n
