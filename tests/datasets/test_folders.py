"""Generic class-folder and identity-folder trees."""
from __future__ import annotations

import pytest

from augmenter.datasets import UNKNOWN, read_dataset
from augmenter.datasets.folders import read_class_folders, read_identity_folders
from augmenter.errors import DatasetFormatError
from tests.datasets.fixtures import write_image, write_text


def test_class_folders_map_known_expressions_and_keep_other_classes(tmp_path):
    write_image(tmp_path / "smile" / "a.png")
    write_image(tmp_path / "smile" / "b.JPG")
    write_image(tmp_path / "happy_kids" / "c.jpeg")
    write_image(tmp_path / "anger" / "d.pgm")
    listing = read_class_folders(tmp_path)
    got = [(r.path.name, r.expression, r.extra["class"], r.identity) for r in listing.records]
    assert got == [
        ("d.pgm", "anger", "anger", UNKNOWN),
        ("c.jpeg", UNKNOWN, "happy_kids", UNKNOWN),
        ("a.png", "smile", "smile", UNKNOWN),
        ("b.JPG", "smile", "smile", UNKNOWN),
    ]
    assert listing.dataset == "class-folder"


def test_identity_folders_take_any_image_suffix(tmp_path):
    write_image(tmp_path / "alice" / "1.jpg")
    write_image(tmp_path / "alice" / "2.png")
    write_image(tmp_path / "bob" / "x.bmp")
    listing = read_dataset("folder", tmp_path)
    assert [(r.identity, r.path.name) for r in listing.records] == [("alice", "1.jpg"), ("alice", "2.png"), ("bob", "x.bmp")]
    assert all(r.dataset == "folder" and r.expression == UNKNOWN for r in listing.records)


@pytest.mark.parametrize("reader", [read_class_folders, read_identity_folders])
def test_malformed_entries_counted(tmp_path, reader):
    write_image(tmp_path / "alice" / "1.jpg")
    write_text(tmp_path / "alice" / "1.txt")
    write_image(tmp_path / "top.jpg")
    write_image(tmp_path / "alice" / "sub" / "2.jpg")
    write_text(tmp_path / "alice" / ".DS_Store")
    write_image(tmp_path / "alice" / "._1.jpg")
    listing = reader(tmp_path)
    assert len(listing) == 1
    assert dict(listing.skips.counts) == {"not an image": 1, "file outside a class folder": 1, "nested too deep": 1}
    assert listing.skips.examples["not an image"] == ["alice/1.txt"]


@pytest.mark.parametrize("name", ["folder", "class-folder"])
def test_missing_or_empty_root_raises(tmp_path, name):
    with pytest.raises(DatasetFormatError, match="does not exist"):
        read_dataset(name, tmp_path / "missing")
    (tmp_path / "empty" / "alice").mkdir(parents=True)
    with pytest.raises(DatasetFormatError, match="no usable images"):
        read_dataset(name, tmp_path / "empty")
