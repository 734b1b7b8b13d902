"""Tests of augmenter.align (MTCNN detection + 5-point alignment) and augmenter.align_tree.

The real face is scikit-image's ``astronaut()`` (512x512 RGB, one frontal face); every other
image is synthetic. MTCNN runs on the CPU with the weights bundled in facenet-pytorch.
"""
from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

from augmenter.align import (
    ARCFACE_TEMPLATE_112,
    AlignResult,
    FaceAligner,
    align_with_landmarks,
    canonical_template,
    similarity_transform,
)
from augmenter.align_tree import CSV_COLUMNS, AlignConfig, align_tree
from augmenter.errors import DatasetFormatError
from tests.conftest import SHARED_DATA
from tests.fs_traps import add_traps, deny_scandir

YALEB = SHARED_DATA / "yaleb"


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def aligner112() -> FaceAligner:
    return FaceAligner(image_size=112)


@pytest.fixture(scope="module")
def aligner128() -> FaceAligner:
    """Matches ``AlignConfig()`` defaults, so align_tree tests can reuse it."""
    return FaceAligner(image_size=128, batch_size=16)


@pytest.fixture(scope="module")
def astro112(aligner112, astronaut) -> AlignResult:
    return aligner112.align_image(astronaut)


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return np.asarray(pts, np.float64) @ m[:, :2].T + m[:, 2]


def _similarity(angle: float, scale: float, t) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[scale * c, -scale * s, t[0]], [scale * s, scale * c, t[1]]])


# ----------------------------------------------------------------------------- geometry


def test_canonical_template_is_arcface_scaled():
    np.testing.assert_array_equal(canonical_template(112), ARCFACE_TEMPLATE_112)
    t128 = canonical_template(128)
    assert t128.shape == (5, 2)
    np.testing.assert_allclose(t128, ARCFACE_TEMPLATE_112 * 128 / 112)
    np.testing.assert_allclose(t128[0], [43.765257, 59.081486], atol=1e-5)
    t128[0, 0] = -1  # a copy: the constant is untouched
    assert ARCFACE_TEMPLATE_112[0, 0] == pytest.approx(38.2946)
    with pytest.raises(ValueError):
        canonical_template(0)


@pytest.mark.parametrize("angle,scale,t", [(0.0, 1.0, (0, 0)), (0.35, 1.7, (5.0, -3.0)), (-2.5, 0.4, (120.0, 7.5))])
def test_similarity_transform_recovers_known_transform(angle, scale, t):
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 200, size=(5, 2))
    m_true = _similarity(angle, scale, t)
    m = similarity_transform(src, _apply(m_true, src))
    assert m.shape == (2, 3)
    np.testing.assert_allclose(m, m_true, atol=1e-9)


def test_similarity_transform_least_squares_and_no_reflection():
    src = ARCFACE_TEMPLATE_112
    # a mirrored point set: the best *similarity* cannot reflect, so det(sR) stays > 0
    mirrored = src * [-1, 1]
    m = similarity_transform(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0
    # noise: the fit is the least-squares one (residual no worse than the true transform's)
    rng = np.random.default_rng(2)
    m_true = _similarity(0.2, 1.3, (10, 20))
    dst = _apply(m_true, src) + rng.normal(0, 0.5, size=src.shape)
    m_fit = similarity_transform(src, dst)
    res_fit = ((_apply(m_fit, src) - dst) ** 2).sum()
    res_true = ((_apply(m_true, src) - dst) ** 2).sum()
    assert res_fit <= res_true + 1e-9
    np.testing.assert_allclose(m_fit, m_true, atol=0.1 * 20)  # close to the truth
    with pytest.raises(ValueError):
        similarity_transform(np.ones((5, 2)), src)
    with pytest.raises(ValueError):
        similarity_transform(src[:, :1], src)


def test_align_with_landmarks_moves_points_onto_template():
    # 5 bright dots at known source positions (the template, rotated, scaled, shifted)
    size = 128
    tpl = canonical_template(size)
    m_true = _similarity(0.4, 1.9, (60.0, 25.0))
    src_pts = _apply(m_true, tpl)
    img = np.zeros((360, 340, 3), np.uint8)
    yy, xx = np.mgrid[0:360, 0:340]
    for x, y in src_pts:
        blob = 255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.5**2))
        img[..., 1] = np.maximum(img[..., 1], blob.astype(np.uint8))
    crop = align_with_landmarks(img, src_pts, size)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    g = crop[..., 1].astype(np.float64)
    for tx, ty in tpl:  # intensity centroid of each dot in the crop sits on the template point
        x0, y0 = int(round(tx)), int(round(ty))
        win = g[y0 - 5 : y0 + 6, x0 - 5 : x0 + 6]
        wy, wx = np.mgrid[y0 - 5 : y0 + 6, x0 - 5 : x0 + 6]
        assert win.sum() > 0
        assert (wx * win).sum() / win.sum() == pytest.approx(tx, abs=0.35)
        assert (wy * win).sum() / win.sum() == pytest.approx(ty, abs=0.35)
    # outside the source is black (constant border)
    # crop pixel (0, 0) maps to source (-5, -5): outside the source, so black (constant border)
    corner = align_with_landmarks(np.full((50, 50, 3), 200, np.uint8), tpl * 0.1 - 5, size)
    assert corner[0, 0].tolist() == [0, 0, 0]
    assert corner[size - 1, size - 1].tolist() == [200, 200, 200]
    with pytest.raises(ValueError):
        align_with_landmarks(img, src_pts[:4], size)


# ----------------------------------------------------------------------------- detection


def test_astronaut_is_found_with_sane_landmarks(astro112):
    r = astro112
    assert r.found and r.n_faces == 1
    assert r.score > 0.95
    assert r.landmarks.shape == (5, 2) and r.landmarks.dtype == np.float32
    assert r.box.shape == (4,)
    x1, y1, x2, y2 = r.box
    assert 150 < x1 < x2 < 300 and 40 < y1 < y2 < 200  # the face is in the upper middle
    lx, ly = r.landmarks[:, 0], r.landmarks[:, 1]
    assert ((lx > x1) & (lx < x2) & (ly > y1) & (ly < y2)).all()
    le, re, nose, lm, rm = r.landmarks
    assert le[0] < re[0] and lm[0] < rm[0]  # left = image left
    assert max(le[1], re[1]) < nose[1] < min(lm[1], rm[1])  # eyes above nose above mouth


@pytest.mark.parametrize("size", [112, 128])
def test_astronaut_crop_puts_eyes_on_template(size, aligner112, aligner128, astronaut):
    aligner = aligner112 if size == 112 else aligner128
    r = aligner.align_image(astronaut)
    assert r.crop.shape == (size, size, 3) and r.crop.dtype == np.uint8
    tpl = canonical_template(size)
    k = size / 112
    # the landmarks, moved by the same transform the warp used, land on the template:
    # eyes within 4 px (at 112), all five within 9 px (her wide smile moves the mouth corners)
    moved = _apply(similarity_transform(r.landmarks, tpl), r.landmarks)
    err = np.linalg.norm(moved - tpl, axis=1)
    assert err[:2].max() < 4 * k and err.max() < 9 * k
    # and detecting again on the crop finds the eyes there too
    again = aligner.align_image(r.crop)
    assert again.found
    err2 = np.linalg.norm(again.landmarks - tpl, axis=1)
    assert err2[:2].max() < 5 * k and err2.max() < 10 * k
    assert r.crop.std() > 20  # a real image, not the black border


def test_flipped_astronaut_keeps_image_left_order(aligner112, astronaut, astro112):
    r = aligner112.align_image(np.ascontiguousarray(astronaut[:, ::-1]))
    assert r.found
    le, re = r.landmarks[0], r.landmarks[1]
    assert le[0] < re[0]
    # the mirrored right eye is where the original left eye was (mirror of x)
    assert abs((511 - re[0]) - astro112.landmarks[0][0]) < 5


def test_no_face_is_an_explicit_result(aligner112):
    rng = np.random.default_rng(0)
    blank = np.full((200, 300, 3), 128, np.uint8)
    noise = rng.integers(0, 256, size=(160, 160, 3), dtype=np.uint8)
    tiny = np.zeros((5, 7, 3), np.uint8)
    for r in aligner112.align([blank, noise, tiny]):
        assert r.found is False
        assert r.crop is None and r.landmarks is None and r.box is None
        assert r.n_faces == 0
        assert r.score < aligner112.min_score


def test_min_score_above_one_rejects_everything(astronaut):
    r = FaceAligner(image_size=112, min_score=1.01, detect_pad=0).align_image(astronaut)
    assert not r.found and r.crop is None
    assert 0.95 < r.score <= 1.0  # the best sub-threshold score is still reported


def test_mixed_sizes_come_back_in_input_order(astronaut):
    aligner = FaceAligner(image_size=112, batch_size=2, detect_pad=0)
    half = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    blank = np.zeros((200, 300, 3), np.uint8)
    # same shape as the astronaut, so it shares her MTCNN batch; smooth noise is cheap to reject
    noise = cv2.resize(np.random.default_rng(3).integers(0, 256, size=(64, 64, 3), dtype=np.uint8), (512, 512))
    batch = [astronaut, blank, half, noise, astronaut, half]
    res = aligner.align(batch)
    assert [r.found for r in res] == [True, False, True, False, True, True]
    np.testing.assert_allclose(res[0].landmarks, res[4].landmarks, atol=1e-3)
    np.testing.assert_allclose(res[2].landmarks, res[5].landmarks, atol=1e-3)
    # landmarks are in each image's own pixels
    np.testing.assert_allclose(res[2].landmarks * 2, res[0].landmarks, atol=4)
    assert aligner.align([]) == []


def test_large_images_are_detected_downscaled(astronaut, astro112):
    big = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_LINEAR)
    r = FaceAligner(image_size=112, detect_max_side=512).align_image(big)
    assert r.found
    # landmarks come back in the full-resolution image's pixels
    np.testing.assert_allclose(r.landmarks, (astro112.landmarks + 0.5) * 2 - 0.5, atol=3)


@pytest.mark.parametrize("margins", [(0, 0, 0, 0), (20, 10, 10, 10)])
def test_tight_crops_are_located_with_the_detection_border(margins, aligner112, astronaut, astro112):
    # the face cut tightly to (or inside) its box, as Yale B / FER-2013 images are
    top, bottom, left, right = margins
    x1, y1, x2, y2 = astro112.box.round().astype(int)
    tight = np.ascontiguousarray(astronaut[y1 + top : y2 - bottom, x1 + left : x2 - right])
    assert aligner112.detect_pad == 0.25
    res = aligner112.align_image(tight)
    assert res.found
    expected = astro112.landmarks - [x1 + left, y1 + top]
    np.testing.assert_allclose(res.landmarks[:2], expected[:2], atol=3)  # the eyes
    np.testing.assert_allclose(res.landmarks, expected, atol=5)


def test_bad_input_is_rejected(aligner112):
    with pytest.raises(ValueError):
        aligner112.align([np.zeros((50, 50, 3), np.float32)])
    with pytest.raises(ValueError):
        aligner112.align([np.zeros((50, 50), np.uint8)])
    with pytest.raises(ValueError):
        FaceAligner(select="first")


# ----------------------------------------------------------------------------- align_tree


def _make_tree(root: Path, astronaut: np.ndarray) -> Path:
    src = root / "src"
    (src / "people").mkdir(parents=True)
    Image.fromarray(astronaut).save(src / "people" / "astro.jpg", quality=95)
    Image.fromarray(np.ascontiguousarray(astronaut[:, ::-1])).save(src / "flipped.png")
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(src / "blank.png")
    (src / "people" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    (src / "notes.txt").write_text("not an image")
    return src


def _tree_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_align_tree_mirror_csv_and_rerun(tmp_path, astronaut, aligner128):
    src = _make_tree(tmp_path, astronaut)
    dst = tmp_path / "dst"
    calls = []
    s = align_tree(src, dst, AlignConfig(), aligner=aligner128, progress=lambda a, b: calls.append((a, b)))
    assert (s.seen, s.aligned, s.no_face, s.skipped, s.resumed) == (4, 2, 1, 1, 0)
    assert s.skips.counts["unreadable image"] == 1
    assert "corrupt.jpg" in s.skips.examples["unreadable image"][0]
    assert s.csv_path == dst / "landmarks.csv" and s.images_per_s > 0
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)

    crops = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.suffix in (".jpg", ".png"))
    assert crops == ["flipped.png", "people/astro.jpg"]
    for c in crops:
        im = np.asarray(Image.open(dst / c))
        assert im.shape == (128, 128, 3)

    with open(s.csv_path, newline="") as f:
        assert tuple(next(csv.reader(f))) == CSV_COLUMNS
    rows = _csv_rows(s.csv_path)
    assert [r["path"] for r in rows] == ["blank.png", "flipped.png", "people/astro.jpg"]
    blank, flipped, astro = rows
    assert blank["found"] == "False" and blank["out_path"] == "" and blank["lx0"] == ""
    assert astro["found"] == "True" and astro["out_path"] == "people/astro.jpg"
    assert float(astro["score"]) > 0.95 and astro["n_faces"] == "1"
    lms = np.array([[float(astro[f"lx{i}"]), float(astro[f"ly{i}"])] for i in range(5)])
    ref = aligner128.align_image(astronaut).landmarks
    np.testing.assert_allclose(lms, ref, atol=3)  # JPEG round trip moves them a little
    assert float(astro["x1"]) < lms[:, 0].min() and float(astro["x2"]) > lms[:, 0].max()

    before = _tree_files(dst)
    s2 = align_tree(src, dst, AlignConfig(), aligner=aligner128)
    assert (s2.seen, s2.aligned, s2.no_face, s2.skipped, s2.resumed) == (4, 0, 0, 1, 3)
    assert _tree_files(dst) == before  # nothing rewritten

    # other settings into the same destination are refused, unless overwrite
    with pytest.raises(DatasetFormatError, match="other settings"):
        align_tree(src, dst, AlignConfig(image_size=112))


def test_align_tree_resumes_after_interruption(tmp_path, astronaut, aligner128):
    src = _make_tree(tmp_path, astronaut)
    cfg = AlignConfig(batch_size=1)
    aligner = aligner128

    reference = tmp_path / "reference"
    align_tree(src, reference, cfg, aligner=aligner)

    dst = tmp_path / "dst"

    def stop_after_first_batch(n_done, n_total):
        if n_done >= 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        align_tree(src, dst, cfg, aligner=aligner, progress=stop_after_first_batch)
    assert len(_csv_rows(dst / "landmarks.csv")) == 1  # the first batch was kept

    s = align_tree(src, dst, cfg, aligner=aligner)
    assert s.resumed == 1 and s.aligned + s.no_face == 2 and s.skipped == 1
    assert _tree_files(dst) == _tree_files(reference)

    # a row cut short by a kill is dropped and redone
    text = (dst / "landmarks.csv").read_text()
    (dst / "landmarks.csv").write_text(text.rsplit("\n", 2)[0] + "\n" + text.rsplit("\n", 2)[1][:25])
    s = align_tree(src, dst, cfg, aligner=aligner)
    assert s.resumed == 2 and s.aligned == 1
    assert _tree_files(dst) == _tree_files(reference)

    # a deleted crop is redone
    (dst / "flipped.png").unlink()
    s = align_tree(src, dst, cfg, aligner=aligner)
    assert s.aligned == 1 and s.resumed == 2
    assert _tree_files(dst) == _tree_files(reference)


def test_align_tree_suffix_rule_and_nested_dst(tmp_path, astronaut, aligner128):
    src = tmp_path / "src"
    src.mkdir()
    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    Image.fromarray(grey).save(src / "face.pgm")
    Image.fromarray(astronaut).save(src / "other.PNG")
    dst = src / "aligned"  # inside src: must not be walked
    s = align_tree(src, dst, AlignConfig(), aligner=aligner128)
    assert s.seen == 2 and s.aligned == 2
    rows = {r["path"]: r for r in _csv_rows(dst / "landmarks.csv")}
    assert rows["face.pgm"]["out_path"] == "face.png"
    assert rows["other.PNG"]["out_path"] == "other.PNG"
    crop = np.asarray(Image.open(dst / "face.png"))
    assert crop.shape == (128, 128, 3)
    s2 = align_tree(src, dst, AlignConfig(), aligner=aligner128)
    assert s2.seen == 2 and s2.resumed == 2


def test_align_tree_counts_links_fifos_and_unreadable_folders(tmp_path, aligner128, monkeypatch):
    src = tmp_path / "src"
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(_mkdirs(src) / "blank.png")
    Image.fromarray(np.full((64, 64, 3), 30, np.uint8)).save(_mkdirs(tmp_path / "elsewhere") / "dark.png")
    os.symlink(tmp_path / "elsewhere", src / "linked")  # a symlinked folder is walked
    expected = add_traps(src / "sub")
    os.symlink("..", src / "sub" / "up")  # leads back to src: a loop, not walked twice
    expected["unreadable entry (symlink loop)"] += 1
    Image.fromarray(np.full((64, 64, 3), 60, np.uint8)).save(_mkdirs(src / "locked") / "c.png")
    deny_scandir(monkeypatch, src / "locked")
    expected["unreadable folder (permission denied)"] = 1
    s = align_tree(src, tmp_path / "dst", AlignConfig(), aligner=aligner128)
    assert (s.seen, s.aligned, s.no_face, s.skipped, s.resumed) == (8, 0, 2, 6, 0)
    assert dict(s.skips.counts) == expected
    assert s.skips.examples["unreadable folder (permission denied)"] == [str(src / "locked")]
    assert [r["path"] for r in _csv_rows(tmp_path / "dst" / "landmarks.csv")] == ["blank.png", "linked/dark.png"]
    assert "6 skipped" in s.describe() and "broken symlink" in s.describe()


def _mkdirs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_align_tree_errors(tmp_path, aligner128):
    with pytest.raises(DatasetFormatError, match="does not exist"):
        align_tree(tmp_path / "missing", tmp_path / "out", aligner=aligner128)
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "readme.txt").write_text("x")
    with pytest.raises(DatasetFormatError, match="no images found") as err:
        align_tree(empty, tmp_path / "out", aligner=aligner128)
    assert err.value.path == empty
    with pytest.raises(DatasetFormatError):
        align_tree(empty, empty, aligner=aligner128)
    assert not (tmp_path / "out").exists()


def test_align_tree_overwrite_and_foreign_csv(tmp_path, astronaut, aligner128):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(astronaut).save(src / "a.png")
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "landmarks.csv").write_text("name,value\nx,1\n")
    with pytest.raises(DatasetFormatError, match="header"):
        align_tree(src, dst, AlignConfig(), aligner=aligner128)
    s = align_tree(src, dst, AlignConfig(overwrite=True), aligner=aligner128)
    assert s.aligned == 1 and s.resumed == 0
    assert [r["path"] for r in _csv_rows(dst / "landmarks.csv")] == ["a.png"]


@pytest.mark.shared_data
@pytest.mark.slow
def test_yaleb_frontal_images_align(tmp_path):
    subject = YALEB / "yaleB01"
    if not subject.is_dir():
        pytest.skip(f"{subject} is absent")
    src = tmp_path / "yale"
    src.mkdir()
    for name in ["yaleB01_P00A+000E+00.pgm", "yaleB01_P00A+000E+20.pgm", "yaleB01_P00A-010E+00.pgm"]:
        shutil.copy(subject / name, src / name)
    s = align_tree(src, tmp_path / "out", AlignConfig(batch_size=4))
    assert s.aligned == 3, s
