"""Extended Yale B (cropped) reader: direction parsing, lighting mappings, ambient frames, .bad files."""
from __future__ import annotations

from collections import Counter

import pytest

from augmenter.attributes import LIGHTING
from augmenter.datasets import read_dataset
from augmenter.datasets.yaleb import read_yaleb
from augmenter.errors import DatasetFormatError
from tests.datasets.fixtures import make_yaleb, write_image, write_text


def _by_name(listing):
    return {r.path.name: r for r in listing.records}


def test_nearest_lighting_and_labels(tmp_path):
    make_yaleb(tmp_path)
    listing = read_yaleb(tmp_path)
    assert len(listing) == 14 and listing.skips.total == 0 and listing.dataset == "yaleb"
    r = _by_name(listing)
    assert r["yaleB01_P00A+000E+00.pgm"].lighting == "flash07"
    assert r["yaleB01_P00A-035E+20.pgm"].lighting == "flash15"  # (-30, 35) is 16 deg away, (-30, 0) 21
    assert r["yaleB01_P00A+035E+20.pgm"].extra == {"azimuth": "35", "elevation": "20"}
    assert r["yaleB02_P00A-130E+20.pgm"].extra == {"azimuth": "-130", "elevation": "20"}
    assert r["yaleB02_P00A+000E-20.pgm"].identity == "yaleB02"
    assert {x.expression for x in listing.records} == {"neutral"}
    assert {x.lighting for x in listing.records} <= set(LIGHTING)


def test_ambient_frames_are_flagged_or_excluded(tmp_path):
    make_yaleb(tmp_path)
    amb = _by_name(read_yaleb(tmp_path))["yaleB01_P00_Ambient.pgm"]
    assert (amb.lighting, amb.extra) == ("ambient", {"ambient_frame": "1"})
    listing = read_yaleb(tmp_path, include_ambient=False)
    assert len(listing) == 12 and dict(listing.skips.counts) == {"ambient frame excluded": 2}


def test_binned_raw_and_max_angle(tmp_path):
    make_yaleb(tmp_path, subjects=("yaleB01",))
    binned = _by_name(read_yaleb(tmp_path, lighting_mapping="binned"))
    assert binned["yaleB01_P00A+035E+20.pgm"].lighting == "az+030_el+030"
    assert binned["yaleB01_P00_Ambient.pgm"].lighting == "ambient"
    raw = _by_name(read_dataset("yaleb", tmp_path, lighting_mapping="raw"))
    assert raw["yaleB01_P00A-130E+20.pgm"].lighting == "A-130E+20"
    limited = read_yaleb(tmp_path, max_angle=30)
    assert "yaleB01_P00A+130E+20.pgm" not in _by_name(limited)
    assert limited.skips.counts["lighting too far from any flash"] == 2
    assert limited.skips.examples["lighting too far from any flash"][0].startswith("yaleB01/yaleB01_P00A+130E+20.pgm: ")
    with pytest.raises(ValueError):
        read_yaleb(tmp_path, lighting_mapping="closest")


def test_bad_info_and_misnamed_files_are_counted(tmp_path):
    make_yaleb(tmp_path, subjects=("yaleB12",), directions=("A+000E+00",), ambient=False)
    folder = tmp_path / "yaleB12"
    write_text(folder / "yaleB12_P00A+050E-40.pgm.bad")
    write_text(folder / "yaleB12_P00.info")
    write_image(folder / "yaleB12_P01A+000E+00.pgm")        # pose P01
    write_image(folder / "yaleB13_P00A+000E+00.pgm")        # other subject's name
    write_image(folder / "yaleB12_P00A+35E+20.pgm")         # 2-digit azimuth
    write_image(folder / "yaleB12_P00A035E+20.pgm")         # no sign
    write_image(tmp_path / "faces" / "yaleB01_P00A+000E+00.pgm")   # folder not yaleBNN
    write_image(tmp_path / "stray.pgm")
    write_text(folder / "._yaleB12_P00A+000E+00.pgm")       # hidden: ignored
    listing = read_yaleb(tmp_path)
    assert [r.path.name for r in listing.records] == ["yaleB12_P00A+000E+00.pgm"]
    assert dict(listing.skips.counts) == {
        "marked bad (.bad)": 1, "not an image": 1, "pose is not P00": 1, "name disagrees with its folder": 1,
        "bad file name": 2, "bad subject folder": 1, "file outside a class folder": 1,
    }
    assert listing.skips.examples["marked bad (.bad)"] == ["yaleB12/yaleB12_P00A+050E-40.pgm.bad"]


def test_missing_and_empty_roots_raise(tmp_path):
    with pytest.raises(DatasetFormatError, match="does not exist"):
        read_yaleb(tmp_path / "missing")
    (tmp_path / "yaleB01").mkdir()
    with pytest.raises(DatasetFormatError, match="no usable images"):
        read_yaleb(tmp_path)


@pytest.mark.shared_data
def test_real_cropped_yale_b(shared_data):
    listing = read_dataset("yaleb", shared_data / "yaleb")
    assert len(listing) == 1737 and listing.skips.total == 0
    subjects = Counter(r.identity for r in listing.records)
    assert len(subjects) == 27 and "yaleB14" not in subjects and subjects["yaleB01"] == 65
    assert sum(r.lighting == "ambient" for r in listing.records) == 27
    assert all(r.extra.get("ambient_frame") == "1" for r in listing.records if r.lighting == "ambient")
    front = _by_name(listing)["yaleB01_P00A+000E+00.pgm"]
    assert (front.lighting, front.extra) == ("flash07", {"azimuth": "0", "elevation": "0"})
    assert {r.lighting for r in listing.records} == set(LIGHTING)
