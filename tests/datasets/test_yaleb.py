"""Extended Yale B (cropped) reader: direction parsing, lighting mappings, ambient frames, .bad files."""
from __future__ import annotations

from collections import Counter

import pytest

from augmenter.attributes import LIGHTING
from augmenter.datasets import read_dataset
from augmenter.datasets.yaleb import read_yaleb
from augmenter.errors import DatasetFormatError
from tests.datasets.fixtures import make_aligned_yaleb, make_yaleb, write_image, write_text


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


def test_an_aligned_tree_reads_back_with_its_labels(tmp_path):
    make_yaleb(tmp_path / "src")
    make_aligned_yaleb(tmp_path / "aligned", twins=("A+035E+20",))
    source, aligned = read_yaleb(tmp_path / "src"), read_yaleb(tmp_path / "aligned")
    assert aligned.skips.total == 0, aligned.skips.summary()  # align.json and landmarks.csv are no skips
    labels = {(r.identity, r.lighting, r.expression, tuple(sorted(r.extra.items()))) for r in source.records}
    assert {(r.identity, r.lighting, r.expression, tuple(sorted(r.extra.items()))) for r in aligned.records} == labels
    by_name = _by_name(aligned)
    assert len(aligned) == len(source) + 2  # each subject's A+035E+20 also had a .png source
    assert by_name["yaleB01_P00A+035E+20.pgm.png"].lighting == by_name["yaleB01_P00A+035E+20.png"].lighting
    assert by_name["yaleB01_P00A+035E+20.pgm.png"].extra == {"azimuth": "35", "elevation": "20"}
    ambient = by_name["yaleB02_P00_Ambient.png"]
    assert (ambient.lighting, ambient.extra) == ("ambient", {"ambient_frame": "1"})
    assert read_yaleb(tmp_path / "aligned", include_ambient=False).skips.counts == {"ambient frame excluded": 2}


def test_other_image_suffixes_are_read_and_non_images_counted(tmp_path):
    folder = tmp_path / "yaleB03"
    for name in ("yaleB03_P00A+000E+00.jpg", "yaleB03_P00A-035E+20.PNG", "yaleB03_P00A+035E+20.PGM.bmp",
                 "yaleB03_P00_Ambient.jpeg"):
        write_image(folder / name)
    write_text(folder / "yaleB03_P00A+070E+00.txt")          # the pattern, but not an image
    write_text(folder / "yaleB03_P00A+070E+00.png.bad")      # marked bad
    write_image(folder / "yaleB03_P00A+070E+00.foo.png")     # not the pattern
    listing = read_yaleb(tmp_path)
    assert sorted((r.path.name, r.lighting) for r in listing.records) == [
        ("yaleB03_P00A+000E+00.jpg", "flash07"), ("yaleB03_P00A+035E+20.PGM.bmp", "flash17"),
        ("yaleB03_P00A-035E+20.PNG", "flash15"), ("yaleB03_P00_Ambient.jpeg", "ambient"),
    ]
    assert dict(listing.skips.counts) == {"not an image": 1, "marked bad (.bad)": 1, "bad file name": 1}


def test_the_real_align_writer_output_reads_back(tmp_path):
    """``augment align``'s own writer (a stand-in detector that finds a face everywhere)."""
    import numpy as np

    from augmenter.align import AlignResult
    from augmenter.align_tree import AlignConfig, align_tree

    config = AlignConfig()

    class EveryImageHasAFace:
        image_size, min_score, select = config.image_size, float(config.min_score), config.select
        min_face_size, detect_pad = config.min_face_size, float(config.detect_pad or 0)
        retry = ("gamma", "gamma+clahe")
        template, thresholds, detect_max_side = [[0.0, 0.0]], (0.6, 0.7, 0.7), 0

        def align(self, images):
            crop = np.zeros((self.image_size, self.image_size, 3), np.uint8)
            return [AlignResult(found=True, crop=crop, landmarks=np.zeros((5, 2), np.float32), score=0.99,
                                box=np.zeros(4, np.float32), n_faces=1) for _ in images]

    make_yaleb(tmp_path / "src", subjects=("yaleB05",))
    summary = align_tree(tmp_path / "src", tmp_path / "aligned", config, aligner=EveryImageHasAFace())
    assert summary.aligned == 7 and (tmp_path / "aligned" / "landmarks.csv").is_file()
    aligned, source = read_yaleb(tmp_path / "aligned"), read_yaleb(tmp_path / "src")
    assert aligned.skips.total == 0 and len(aligned) == len(source) == 7
    assert sorted(r.path.name for r in aligned.records) == sorted(r.path.stem + ".png" for r in source.records)
    assert sorted(r.lighting for r in aligned.records) == sorted(r.lighting for r in source.records)
