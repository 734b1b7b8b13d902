"""Generic class-folder and identity-folder trees."""
from __future__ import annotations

import os

import pytest

from augmenter.datasets import UNKNOWN, read_dataset
from augmenter.datasets.folders import read_class_folders, read_identity_folders
from augmenter.errors import DatasetFormatError
from tests.datasets.fixtures import write_image, write_text
from tests.fs_traps import add_traps, deny_scandir


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


@pytest.mark.parametrize("reader", [read_class_folders, read_identity_folders])
def test_links_fifos_and_long_names_are_counted_skips(tmp_path, reader):
    write_image(tmp_path / "alice" / "1.jpg")
    expected = add_traps(tmp_path / "alice")
    os.symlink("self", tmp_path / "self")  # a looping entry at the top level
    listing = reader(tmp_path)
    assert [r.path.name for r in listing.records] == ["1.jpg"]
    expected["unreadable entry (symlink loop)"] += 1
    assert dict(listing.skips.counts) == expected
    assert sorted(listing.skips.examples["unreadable entry (symlink loop)"]) == ["alice/loop.jpg", "self"]
    assert listing.skips.examples["broken symlink"] == ["alice/gone.jpg"]
    assert listing.skips.examples["not a regular file"] == ["alice/pipe.jpg"]


@pytest.mark.parametrize("reader", [read_class_folders, read_identity_folders])
def test_unreadable_class_folder_is_a_counted_skip_naming_it(tmp_path, reader, monkeypatch):
    write_image(tmp_path / "alice" / "1.jpg")
    write_image(tmp_path / "bob" / "2.jpg")
    deny_scandir(monkeypatch, tmp_path / "bob")
    listing = reader(tmp_path)
    assert [r.path.name for r in listing.records] == ["1.jpg"]
    assert dict(listing.skips.counts) == {"unreadable folder (permission denied)": 1}
    assert listing.skips.examples["unreadable folder (permission denied)"] == ["bob"]


def test_unreadable_root_is_a_one_line_error(tmp_path, monkeypatch):
    write_image(tmp_path / "alice" / "1.jpg")
    deny_scandir(monkeypatch, tmp_path)
    with pytest.raises(DatasetFormatError, match="permission denied") as err:
        read_identity_folders(tmp_path)
    assert err.value.path == tmp_path and "\n" not in str(err.value)


def test_root_that_is_a_symlink_loop_is_a_one_line_error(tmp_path):
    os.symlink("root", tmp_path / "root")
    with pytest.raises(DatasetFormatError, match="symlink loop") as err:
        read_identity_folders(tmp_path / "root")
    assert err.value.path == tmp_path / "root"


def test_nested_folder_skips_count_unreadable_subfolders(tmp_path, monkeypatch):
    write_image(tmp_path / "alice" / "1.jpg")
    write_image(tmp_path / "alice" / "sub" / "2.jpg")
    write_image(tmp_path / "alice" / "sub" / "deeper" / "3.jpg")
    deny_scandir(monkeypatch, tmp_path / "alice" / "sub" / "deeper")
    listing = read_identity_folders(tmp_path)
    assert dict(listing.skips.counts) == {"nested too deep": 1, "unreadable folder (permission denied)": 1}
    assert listing.skips.examples["unreadable folder (permission denied)"] == ["alice/sub/deeper"]
