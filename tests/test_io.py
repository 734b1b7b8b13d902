"""Tests of augmenter.io: the one image decoder and the atomic writer.

Every image is generated in tmp_path by the test (Pillow or raw bytes); the optional test on
a real Extended Yale B PGM reads it in place from ../shared/data and skips when it is absent.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from augmenter.skips import SkipReport
from augmenter.errors import ImageDecodeError
from augmenter.io import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    decode_image,
    decode_image_bytes,
    iter_images,
    write_image_atomic,
)
from tests.conftest import SHARED_DATA

YALEB = SHARED_DATA / "yaleb"


def _gradient_rgb(h: int = 24, w: int = 32) -> np.ndarray:
    """A smooth image that survives lossy codecs within a few grey levels."""
    y, x = np.mgrid[0:h, 0:w]
    planes = [x * 255 // (w - 1), y * 255 // (h - 1), np.full((h, w), 90)]
    return np.stack(planes, -1).astype(np.uint8)


def _jpeg_bytes(arr: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", **kw)
    return buf.getvalue()


def _assert_one_line_error(exc_info, path) -> ImageDecodeError:
    err = exc_info.value
    msg = str(err)
    assert "\n" not in msg
    assert Path(path).name in msg
    assert msg.startswith(f"{Path(path)}: ")
    assert err.reason and err.path == Path(path)
    return err


# --------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    "suffix, fmt, lossless",
    [(".jpg", "JPEG", False), (".png", "PNG", True), (".ppm", "PPM", True),
     (".bmp", "BMP", True), (".webp", "WEBP", False), (".tif", "TIFF", True)],
)
def test_rgb_round_trip(tmp_path, suffix, fmt, lossless):
    src = _gradient_rgb()
    path = tmp_path / f"img{suffix}"
    opts = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    Image.fromarray(src).save(path, fmt, **opts)

    out = decode_image(path)
    assert out.shape == (24, 32, 3) and out.dtype == np.uint8
    assert out.flags.c_contiguous and out.flags.writeable
    diff = np.abs(out.astype(int) - src.astype(int))
    if lossless:
        assert diff.max() == 0
    else:
        assert diff.mean() < 3

    grey = decode_image(path, mode="L")
    assert grey.shape == (24, 32) and grey.dtype == np.uint8
    expected = np.asarray(Image.fromarray(src).convert("L")).astype(int)
    assert np.abs(grey.astype(int) - expected).mean() < 3


@pytest.mark.parametrize(
    "suffix, fmt", [(".pgm", "PPM"), (".png", "PNG"), (".bmp", "BMP"), (".jpg", "JPEG")]
)
def test_grey_round_trip_and_replication(tmp_path, suffix, fmt):
    src = _gradient_rgb()[..., 0]  # (H, W) grey
    path = tmp_path / f"g{suffix}"
    Image.fromarray(src, "L").save(path, fmt)

    grey = decode_image(path, mode="L")
    assert grey.shape == src.shape and grey.dtype == np.uint8
    if fmt != "JPEG":
        np.testing.assert_array_equal(grey, src)
    rgb = decode_image(path)
    assert rgb.shape == (*src.shape, 3)
    np.testing.assert_array_equal(rgb[..., 0], grey)
    np.testing.assert_array_equal(rgb[..., 1], grey)
    np.testing.assert_array_equal(rgb[..., 2], grey)


def test_extensions_constant():
    assert isinstance(IMAGE_EXTENSIONS, frozenset)
    for s in (".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".pnm", ".bmp", ".webp", ".tif", ".tiff"):
        assert s in IMAGE_EXTENSIONS
    assert all(s == s.lower() and s.startswith(".") for s in IMAGE_EXTENSIONS)
    assert DEFAULT_MAX_PIXELS >= 40_000_000


# --------------------------------------------------------------------- PGM headers, 16 bit


def test_pgm_with_comment_line_raw_bytes(tmp_path):
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    path = tmp_path / "c.pgm"
    path.write_bytes(b"P5\n# a comment line\n4 3\n# another\n255\n" + pixels.tobytes())
    np.testing.assert_array_equal(decode_image(path, mode="L"), pixels)
    assert decode_image(path).shape == (3, 4, 3)


def test_pgm_16bit_big_endian_exact(tmp_path):
    values = np.array([[0, 257, 32768], [65535, 32767, 128]], dtype=">u2")
    path = tmp_path / "d16.pgm"
    path.write_bytes(b"P5\n# 16-bit\n3 2\n65535\n" + values.tobytes())
    out = decode_image(path, mode="L")
    # round(v * 255 / 65535): 257 -> 1, 32768 -> 128, 32767 -> 127, 128 -> 0.498 -> 0
    np.testing.assert_array_equal(out, np.array([[0, 1, 128], [255, 127, 0]], np.uint8))
    rgb = decode_image(path)
    np.testing.assert_array_equal(rgb, np.repeat(out[..., None], 3, axis=2))


def test_pgm_12bit_maxval_uses_full_range(tmp_path):
    values = np.array([[0, 4095, 2048]], dtype=">u2")
    path = tmp_path / "d12.pgm"
    path.write_bytes(b"P5 3 1 4095\n" + values.tobytes())
    np.testing.assert_array_equal(decode_image(path, mode="L"), [[0, 255, 128]])


def test_png_16bit_scaling_exact(tmp_path):
    values = np.array([[0, 32768, 65535, 257, 65278]], dtype=np.uint16)
    path = tmp_path / "p16.png"
    im = Image.fromarray(values)
    assert im.mode == "I;16"
    im.save(path)
    np.testing.assert_array_equal(decode_image(path, mode="L"), [[0, 128, 255, 1, 254]])
    rgb = decode_image(path)
    assert rgb.shape == (1, 5, 3)
    np.testing.assert_array_equal(rgb[0, :, 1], [0, 128, 255, 1, 254])


def test_real_yaleb_pgm_with_dome_comment():
    if not YALEB.is_dir():
        pytest.skip("Extended Yale B data not present")
    path = None
    for sub in sorted(YALEB.glob("yaleB*"))[:40]:
        for p in sorted(sub.glob("*_Ambient.pgm")):
            if b"#@DOME@" in p.read_bytes()[:200]:
                path = p
                break
        if path:
            break
    if path is None:
        pytest.skip("no Yale B PGM with a #@DOME@ comment found")
    raw = path.read_bytes()
    tokens, pos = [], 2
    while len(tokens) < 3:  # parse width, height, maxval, skipping '#' comment lines
        while raw[pos:pos + 1].isspace():
            pos += 1
        if raw[pos:pos + 1] == b"#":
            pos = raw.index(b"\n", pos) + 1
            continue
        end = pos
        while not raw[end:end + 1].isspace():
            end += 1
        tokens.append(int(raw[pos:end]))
        pos = end
    w, h, maxval = tokens
    assert maxval == 255
    expected = np.frombuffer(raw[pos + 1:pos + 1 + w * h], np.uint8).reshape(h, w)
    np.testing.assert_array_equal(decode_image(path, mode="L"), expected)
    assert decode_image(path).shape == (h, w, 3)


# --------------------------------------------------------------------- modes


def test_rgba_composited_over_black(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (200, 100, 50, 128)  # half transparent
    rgba[0, 1] = (10, 20, 30, 255)  # opaque
    rgba[0, 2] = (255, 255, 255, 0)  # fully transparent white -> black
    rgba[1] = (255, 0, 0, 255)
    path = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(path)
    out = decode_image(path)
    assert out.shape == (2, 3, 3)
    # round(c * a / 255): 200*128/255 = 100.4, 100*128/255 = 50.2, 50*128/255 = 25.1
    np.testing.assert_array_equal(out[0], [[100, 50, 25], [10, 20, 30], [0, 0, 0]])
    np.testing.assert_array_equal(out[1], [[255, 0, 0]] * 3)
    grey = decode_image(path, mode="L")
    assert grey.shape == (2, 3) and grey[0, 2] == 0 and grey[0, 1] == np.asarray(
        Image.fromarray(np.array([[[10, 20, 30]]], np.uint8)).convert("L"))[0, 0]


def test_la_composited_over_black(tmp_path):
    la = np.array([[[200, 255], [200, 128], [200, 0]]], np.uint8)
    path = tmp_path / "la.png"
    Image.fromarray(la, "LA").save(path)
    np.testing.assert_array_equal(decode_image(path, mode="L"), [[200, 100, 0]])
    np.testing.assert_array_equal(decode_image(path)[0, :, 2], [200, 100, 0])


def test_palette_with_and_without_transparency(tmp_path):
    idx = np.array([[0, 1], [2, 1]], np.uint8)
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9)
    im = Image.fromarray(idx, "P")
    im.putpalette(palette)
    plain = tmp_path / "p.png"
    im.save(plain)
    out = decode_image(plain)
    np.testing.assert_array_equal(out, [[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [0, 255, 0]]])

    transp = tmp_path / "pt.png"
    im.save(transp, transparency=1)  # green is transparent -> black
    out = decode_image(transp)
    np.testing.assert_array_equal(out, [[[255, 0, 0], [0, 0, 0]], [[0, 0, 255], [0, 0, 0]]])


def test_cmyk_jpeg_to_rgb(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 8), (0, 255, 255, 0)).save(path, "JPEG", quality=95)  # red
    with Image.open(path) as im:
        assert im.mode == "CMYK"
    out = decode_image(path)
    assert out.shape == (8, 16, 3) and out.dtype == np.uint8
    mean = out.reshape(-1, 3).mean(0)
    assert mean[0] > 240 and mean[1] < 15 and mean[2] < 15


def test_exif_orientation_6_is_applied(tmp_path):
    h, w = 20, 40  # stored landscape
    arr = np.full((h, w, 3), 128, np.uint8)
    arr[:6, :6] = (255, 0, 0)  # red marker at the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # display = stored rotated 90 degrees clockwise
    path = tmp_path / "rot.jpg"
    Image.fromarray(arr).save(path, "JPEG", quality=95, exif=exif.tobytes())

    out = decode_image(path)
    assert out.shape == (w, h, 3)  # transposed: 40 high, 20 wide
    # rotating clockwise moves the top-left corner to the top-right
    top_right = out[:5, -5:].reshape(-1, 3).mean(0)
    top_left = out[:5, :5].reshape(-1, 3).mean(0)
    assert top_right[0] > 200 and top_right[1] < 60
    assert abs(top_left[0] - 128) < 20
    assert decode_image(path, mode="L").shape == (w, h)


# --------------------------------------------------------------------- size guard


def test_image_over_max_pixels_raises(tmp_path):
    path = tmp_path / "big.png"
    Image.new("RGB", (100, 80)).save(path)
    assert decode_image(path, max_pixels=8000).shape == (80, 100, 3)  # limit is inclusive
    with pytest.raises(ImageDecodeError) as exc_info:
        decode_image(path, max_pixels=7999)
    err = _assert_one_line_error(exc_info, path)
    assert "too large" in err.reason and "100x80" in err.reason


def test_size_checked_from_header_before_decoding(tmp_path):
    # header claims 3000x3000 but carries only a few bytes: the size check must fire first
    path = tmp_path / "liar.pgm"
    path.write_bytes(b"P5\n3000 3000\n255\n" + b"\x00" * 10)
    with pytest.raises(ImageDecodeError) as exc_info:
        decode_image(path, max_pixels=1_000_000)
    assert "too large" in _assert_one_line_error(exc_info, path).reason


def test_pillow_bomb_guard_becomes_our_error(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("L", (60, 60)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # 3600 px: Pillow only *warns*
    with pytest.raises(ImageDecodeError) as exc_info:
        decode_image(path, max_pixels=None)
    assert "too large" in _assert_one_line_error(exc_info, path).reason
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 3600 px > 2x: Pillow raises
    with pytest.raises(ImageDecodeError) as exc_info:
        decode_image(path, max_pixels=None)
    assert "too large" in _assert_one_line_error(exc_info, path).reason


# --------------------------------------------------------------------- bad files


def _noise(h: int = 64, w: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _bad_files(d: Path) -> dict[str, Path]:
    jpg = _jpeg_bytes(_noise())  # half of it cuts the entropy-coded pixel data
    buf = io.BytesIO()
    Image.fromarray(_gradient_rgb(64, 64)).save(buf, "PNG")
    png = buf.getvalue()
    files = {
        "missing": d / "missing.jpg",
        "directory": d / "folder.jpg",
        "empty": d / "empty.png",
        "text": d / "notes.jpg",
        "random": d / "noise.png",
        "trunc_jpg": d / "half.jpg",
        "trunc_png": d / "half.png",
    }
    files["directory"].mkdir()
    files["empty"].write_bytes(b"")
    files["text"].write_text("this is not an image\n")
    files["random"].write_bytes(np.random.default_rng(0).bytes(4096))
    files["trunc_jpg"].write_bytes(jpg[: len(jpg) // 2])
    files["trunc_png"].write_bytes(png[: len(png) // 2])
    return files


BAD_KINDS = ["missing", "directory", "empty", "text", "random", "trunc_jpg", "trunc_png"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_file_raises_one_line_error(tmp_path, kind):
    path = _bad_files(tmp_path)[kind]
    with pytest.raises(ImageDecodeError) as exc_info:
        decode_image(path)
    err = _assert_one_line_error(exc_info, path)
    assert not isinstance(err.__cause__, OSError)  # no raw Pillow/OS error chained out
    expected_word = {"missing": "no such file", "directory": "directory", "empty": "empty",
                     "trunc_jpg": "truncated", "trunc_png": "truncated"}.get(kind)
    if expected_word:
        assert expected_word in err.reason


@pytest.mark.parametrize("cut", [2, 40])  # 2: only the EOI marker is missing
def test_truncated_jpeg_end_is_detected(tmp_path, cut):
    jpg = _jpeg_bytes(_noise())
    path = tmp_path / "short.jpg"
    path.write_bytes(jpg[:-cut])
    with pytest.raises(ImageDecodeError) as exc_info:
        decode_image(path)
    assert "truncated" in _assert_one_line_error(exc_info, path).reason


def test_truncated_jpeg_header(tmp_path):
    jpg = _jpeg_bytes(np.zeros((64, 64, 3), np.uint8))
    path = tmp_path / "hdr.jpg"
    path.write_bytes(jpg[:300])
    with pytest.raises(ImageDecodeError) as exc_info:
        decode_image(path)
    assert "truncated" in _assert_one_line_error(exc_info, path).reason


def test_truncated_images_flag_not_touched():
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_decode_image_bytes(tmp_path):
    src = _gradient_rgb(16, 16)
    out = decode_image_bytes(_jpeg_bytes(src, quality=95), "lfw.bin[3]")
    assert out.shape == (16, 16, 3) and np.abs(out.astype(int) - src).mean() < 3
    assert decode_image_bytes(_jpeg_bytes(src), "x", mode="L").shape == (16, 16)
    for data in (b"", b"garbage bytes", _jpeg_bytes(src)[:300]):
        with pytest.raises(ImageDecodeError) as exc_info:
            decode_image_bytes(data, "lfw.bin[3]")
        assert str(exc_info.value).startswith("lfw.bin[3]: ") and "\n" not in str(exc_info.value)
    with pytest.raises(ImageDecodeError, match="too large"):
        decode_image_bytes(_jpeg_bytes(src), "lfw.bin[4]", max_pixels=100)


def test_bad_arguments():
    with pytest.raises(ValueError):
        decode_image("x.png", mode="RGBA")
    with pytest.raises(ValueError):
        decode_image("x.png", max_pixels=0)


# --------------------------------------------------------------------- iter_images


def test_iter_images_yields_good_and_counts_bad(tmp_path):
    bad = _bad_files(tmp_path)
    good1, good2, huge = tmp_path / "a.png", tmp_path / "b.jpg", tmp_path / "huge.png"
    Image.fromarray(_gradient_rgb()).save(good1)
    Image.fromarray(_gradient_rgb()).save(good2)
    Image.new("RGB", (200, 200)).save(huge)
    paths = [good1, *bad.values(), huge, str(good2)]

    skips = SkipReport()
    got = list(iter_images(paths, mode="L", skips=skips, max_pixels=10_000))
    assert [p for p, _ in got] == [good1, good2]
    for p, img in got:
        assert isinstance(p, Path) and img.shape == (24, 32) and img.dtype == np.uint8
    assert skips.total == len(bad) + 1
    assert skips.counts["missing file"] == 1
    assert skips.counts["image too large"] == 1
    assert skips.counts["unreadable image"] == len(bad) - 1
    assert any("missing.jpg" in e for e in skips.examples["missing file"])
    assert any("huge.png" in e for e in skips.examples["image too large"])
    assert any("half.jpg" in e for e in skips.examples["unreadable image"])
    assert "skipped 8 item(s)" in skips.summary()

    with pytest.raises(ImageDecodeError):  # without a report nothing is dropped silently
        list(iter_images(paths))


# --------------------------------------------------------------------- writing


def test_write_image_atomic_png_exact_and_no_temp_files(tmp_path):
    src = np.random.default_rng(1).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    path = tmp_path / "new" / "deeper" / "out.png"
    write_image_atomic(path, src)
    assert path.is_file()
    np.testing.assert_array_equal(decode_image(path), src)
    assert os.listdir(path.parent) == ["out.png"]

    write_image_atomic(path, src[..., 0].copy())  # overwrite with grey
    np.testing.assert_array_equal(decode_image(path, mode="L"), src[..., 0])
    assert os.listdir(path.parent) == ["out.png"]


@pytest.mark.parametrize("name", ["o.jpg", "o.jpeg", "o.bmp", "o.webp", "o.ppm", "o.tif"])
def test_write_image_atomic_formats(tmp_path, name):
    src = _gradient_rgb()
    path = tmp_path / name
    write_image_atomic(path, src, quality=95)
    out = decode_image(path)
    assert out.shape == src.shape
    assert np.abs(out.astype(int) - src).mean() < 3
    assert os.listdir(tmp_path) == [name]


def test_write_image_atomic_pgm_and_bad_input(tmp_path):
    grey = _gradient_rgb()[..., 1].copy()
    write_image_atomic(tmp_path / "g.pgm", grey)
    assert (tmp_path / "g.pgm").read_bytes().startswith(b"P5")
    np.testing.assert_array_equal(decode_image(tmp_path / "g.pgm", mode="L"), grey)
    with pytest.raises(ValueError):
        write_image_atomic(tmp_path / "c.pgm", _gradient_rgb())
    with pytest.raises(ValueError):
        write_image_atomic(tmp_path / "x.gifx", grey)
    with pytest.raises(TypeError):
        write_image_atomic(tmp_path / "f.png", grey.astype(np.float32))
    with pytest.raises(ValueError):
        write_image_atomic(tmp_path / "r.png", np.zeros((4, 4, 4), np.uint8))
    assert sorted(os.listdir(tmp_path)) == ["g.pgm"]


def test_write_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "keep.png"
    old = _gradient_rgb()
    write_image_atomic(path, old)

    def boom(self, fp, *a, **k):
        Path(fp).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(OSError):
        write_image_atomic(path, np.zeros_like(old))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["keep.png"]
    np.testing.assert_array_equal(decode_image(path), old)
