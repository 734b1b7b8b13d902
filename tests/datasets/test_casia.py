"""CASIA-WebFace reader: identity folders of numbered JPEGs."""
from __future__ import annotations

import os

import pytest

from augmenter.datasets import UNKNOWN, read_dataset
from augmenter.datasets.casia import read_casia
from augmenter.errors import DatasetFormatError
from tests.datasets.fixtures import make_casia, write_image, write_text
from tests.fs_traps import add_traps, deny_scandir


def test_lists_identities_in_sorted_order(tmp_path):
    make_casia(tmp_path / "casia")
    listing = read_casia(tmp_path / "casia")
    assert listing.dataset == "casia" and listing.root == tmp_path / "casia"
    assert [(r.identity, r.path.name) for r in listing.records] == [
        ("0000045", "001.jpg"), ("0000045", "002.jpg"), ("0000045", "003.jpg"),
        ("0000099", "001.jpg"), ("0000099", "002.jpg"),
    ]
    r = listing.records[0]
    assert r.path.is_absolute() and r.path.is_file()
    assert (r.dataset, r.lighting, r.expression, r.split, r.extra) == ("casia", UNKNOWN, UNKNOWN, UNKNOWN, {})
    assert listing.skips.total == 0 and len(listing) == 5


def test_malformed_entries_are_counted_not_dropped(tmp_path):
    root = make_casia(tmp_path / "casia")
    write_image(root / "stray.jpg")
    write_image(root / "0000045" / "extra" / "001.jpg")
    write_image(root / "0000045" / "extra" / "deeper" / "002.jpg")
    write_text(root / "0000045" / "notes.txt")
    write_image(root / "0000045" / "face.jpg")
    write_image(root / "0000045" / "004.png")
    write_image(root / "john_doe" / "001.jpg")
    listing = read_casia(root)
    assert len(listing) == 5
    assert dict(listing.skips.counts) == {
        "file outside a class folder": 1, "nested too deep": 2, "not an image": 1,
        "bad file name": 2, "bad identity folder": 1,
    }
    assert listing.skips.examples["nested too deep"] == ["0000045/extra/001.jpg", "0000045/extra/deeper/002.jpg"]
    assert listing.skips.examples["bad identity folder"] == ["john_doe/001.jpg"]


def test_hidden_files_are_ignored_without_counting(tmp_path):
    root = make_casia(tmp_path / "casia")
    write_text(root / ".DS_Store")
    write_text(root / "0000045" / ".DS_Store")
    write_image(root / "0000045" / "._001.jpg")
    write_image(root / ".hidden" / "001.jpg")
    listing = read_casia(root)
    assert len(listing) == 5 and listing.skips.total == 0


def test_missing_root_file_root_and_empty_root_raise(tmp_path):
    with pytest.raises(DatasetFormatError, match="does not exist") as err:
        read_casia(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(err.value) and "\n" not in str(err.value)
    write_text(tmp_path / "file.txt")
    with pytest.raises(DatasetFormatError, match="not a folder"):
        read_casia(tmp_path / "file.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetFormatError, match="no usable images"):
        read_casia(tmp_path / "empty")


def test_folder_of_only_bad_files_raises_naming_the_reasons(tmp_path):
    write_image(tmp_path / "casia" / "0000045" / "face.jpg")
    with pytest.raises(DatasetFormatError, match=r"1 skipped: bad file name"):
        read_casia(tmp_path / "casia")


def test_registry_name(tmp_path):
    listing = read_dataset("casia", make_casia(tmp_path / "c"))
    assert listing.dataset == "casia" and len(listing) == 5


def test_links_fifos_long_names_and_unreadable_folders_are_counted(tmp_path, monkeypatch):
    root = make_casia(tmp_path / "casia")
    expected = add_traps(root / "0000045")
    os.symlink("0000077", root / "0000077")  # an identity "folder" that loops
    write_image(root / "0000123" / "001.jpg")
    deny_scandir(monkeypatch, root / "0000123")
    listing = read_casia(root)
    assert len(listing) == 5
    expected["unreadable entry (symlink loop)"] += 1
    expected["unreadable folder (permission denied)"] = 1
    assert dict(listing.skips.counts) == expected
    assert listing.skips.examples["unreadable folder (permission denied)"] == ["0000123"]
    assert sorted(listing.skips.examples["unreadable entry (symlink loop)"]) == ["0000045/loop.jpg", "0000077"]
