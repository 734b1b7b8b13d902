"""Multi-PIE reader: folder/name agreement, cameras, illumination and the expression table."""
from __future__ import annotations

import pytest

from augmenter.datasets import UNKNOWN, read_dataset
from augmenter.datasets.multipie import RECORDING_EXPRESSIONS, read_multipie
from augmenter.errors import DatasetFormatError
from tests.datasets.fixtures import make_multipie, multipie_path, write_image, write_text

ALL_TAKES = tuple(RECORDING_EXPRESSIONS)


def test_frontal_labels_identity_lighting_and_expression(tmp_path):
    make_multipie(tmp_path, subjects=("001",))
    listing = read_multipie(tmp_path)
    assert listing.skips.total == 0 and listing.dataset == "multipie"
    got = [(r.path.name, r.identity, r.lighting, r.expression) for r in listing.records]
    assert got == [
        ("001_01_01_051_00.png", "001", "ambient", "neutral"),
        ("001_01_01_051_07.png", "001", "flash07", "neutral"),
        ("001_01_01_051_19.png", "001", "ambient", "neutral"),
        ("001_01_02_051_00.png", "001", "ambient", "smile"),
        ("001_01_02_051_07.png", "001", "flash07", "smile"),
        ("001_01_02_051_19.png", "001", "ambient", "smile"),
    ]
    r = listing.records[1]
    assert r.path == tmp_path / "session01/multiview/001/01/05_1/001_01_01_051_07.png" and r.split == UNKNOWN
    assert r.extra == {"session": "01", "recording": "01", "camera": "05_1", "illumination": "07"}


def test_expression_table_for_every_session(tmp_path):
    make_multipie(tmp_path, subjects=("001",), takes=ALL_TAKES, illuminations=("01",))
    listing = read_multipie(tmp_path)
    got = {(r.extra["session"], r.extra["recording"]): r.expression for r in listing.records}
    assert got == {
        ("01", "01"): "neutral", ("01", "02"): "smile",
        ("02", "01"): "neutral", ("02", "02"): "surprise", ("02", "03"): "squint",
        ("03", "01"): "neutral", ("03", "02"): "smile", ("03", "03"): "disgust",
        ("04", "01"): "neutral", ("04", "02"): "neutral", ("04", "03"): "scream",
    }


def test_cameras_option_and_unselected_cameras_counted(tmp_path):
    make_multipie(tmp_path, subjects=("001",), takes=(("01", "01"),), cameras=("05_1", "19_0"), illuminations=("00",))
    frontal = read_multipie(tmp_path)
    assert [r.extra["camera"] for r in frontal.records] == ["05_1"]
    assert dict(frontal.skips.counts) == {"camera not selected": 1}
    both = read_multipie(tmp_path, cameras=["05_1", "19_0"])
    assert [r.path.name for r in both.records] == ["001_01_01_051_00.png", "001_01_01_190_00.png"]
    assert both.skips.total == 0
    with pytest.raises(ValueError):
        read_multipie(tmp_path, cameras=["051"])


def test_malformed_names_and_layout_are_counted(tmp_path):
    make_multipie(tmp_path, subjects=("001",), takes=(("01", "01"),), illuminations=("00",))
    cam = tmp_path / "session01/multiview/001/01/05_1"
    write_image(cam / "002_01_01_051_03.png")                   # subject disagrees with folder
    write_image(cam / "001_02_01_051_03.png")                   # session disagrees
    write_image(cam / "001_01_01_051_20.png")                   # illumination beyond 19
    write_image(cam / "001_01_01_051_3.png")                    # bad name
    write_image(cam / "001_01_01_051_04.jpg")                   # bad name (Multi-PIE is PNG)
    write_text(cam / "readme.txt")                              # not an image
    write_text(cam / ".DS_Store")                               # hidden: ignored
    write_image(multipie_path(tmp_path, "001", "02", "04", "05_1", "00"))   # no recording 04 in session 2
    write_image(multipie_path(tmp_path, "001", "05", "01", "05_1", "00"))   # no session 05
    write_image(tmp_path / "session01" / "highres" / "x.png")   # off-layout folder: its files
    write_image(tmp_path / "stray.png")                         # off-layout file
    write_image(tmp_path / "session01/multiview/abc/01/05_1/abc_01_01_051_00.png")
    listing = read_multipie(tmp_path)
    assert len(listing) == 1
    assert dict(listing.skips.counts) == {
        "name disagrees with its folders": 2, "illumination id beyond 19": 1, "bad file name": 2,
        "not an image": 1, "unknown session/recording": 2, "not in the Multi-PIE layout": 3,
    }
    assert listing.skips.examples["unknown session/recording"][0] == (
        "session02/multiview/001/04/05_1/001_02_04_051_00.png: session 02 recording 04"
    )


def test_missing_and_empty_roots_raise(tmp_path):
    with pytest.raises(DatasetFormatError, match="does not exist"):
        read_multipie(tmp_path / "missing")
    (tmp_path / "session01" / "multiview").mkdir(parents=True)
    with pytest.raises(DatasetFormatError, match="no usable images"):
        read_multipie(tmp_path)


def test_sample_is_the_multipie_reader_named_sample(tmp_path):
    make_multipie(tmp_path)
    listing = read_dataset("sample", tmp_path)
    assert listing.dataset == "sample" and {r.dataset for r in listing.records} == {"sample"}
    assert [r.path for r in listing.records] == [r.path for r in read_dataset("multipie", tmp_path).records]


def test_links_fifos_long_names_and_unreadable_folders_are_counted(tmp_path, monkeypatch):
    from tests.fs_traps import add_traps, deny_scandir

    make_multipie(tmp_path, subjects=("001", "002"))
    camera = multipie_path(tmp_path, "001", "01", "01", "05_1", "00").parent
    expected = add_traps(camera)
    deny_scandir(monkeypatch, tmp_path / "session01" / "multiview" / "002")
    listing = read_multipie(tmp_path)
    assert {r.identity for r in listing.records} == {"001"} and len(listing.records) == 6
    for reason, n in expected.items():
        assert listing.skips.counts[reason] == n
    assert listing.skips.counts["unreadable folder (permission denied)"] == 1
