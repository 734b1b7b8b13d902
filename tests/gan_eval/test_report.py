"""The translation table PNG (exact size, cells where they belong) and the metrics JSON (NaN -> null)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from augmenter.gan_eval.report import (
    GAP, HEADER_HEIGHT, LABEL_WIDTH, json_safe, table_size, translation_table, write_gan_report,
)
from augmenter.io import decode_image


def solid(colour, h=32, w=32) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.uint8), (h, w, 3)).copy()


def cell_centre(row: int, col: int, cell: int) -> tuple[int, int]:
    """(y, x) of the centre of a cell of a table with both label bands."""
    return (HEADER_HEIGHT + GAP + row * (cell + GAP) + cell // 2, LABEL_WIDTH + GAP + col * (cell + GAP) + cell // 2)


def test_table_size_and_cells(tmp_path):
    red, green, blue = (200, 10, 10), (10, 200, 10), (10, 10, 200)
    rows = [
        [solid(red), solid(green, 64, 64), solid(blue, 16, 48)],  # any sizes
        [solid(blue)[..., 0], None, solid(red, 100, 100)],       # grey input, an empty cell
    ]
    path = translation_table(rows, ["001 neutral ambient", "a rather long row label that must wrap"],
                             ["flash01", "flash07 + smile, a very long target name"], tmp_path / "t" / "table.png",
                             cell=48)
    assert path == tmp_path / "t" / "table.png" and path.is_file()
    image = decode_image(path)
    width, height = table_size(2, 3, 48)
    assert (width, height) == (LABEL_WIDTH + 3 * 50 + GAP, HEADER_HEIGHT + 2 * 50 + GAP)
    assert image.shape == (height, width, 3)
    expected = {(0, 0): red, (0, 1): green, (0, 2): blue, (1, 0): (10, 10, 10), (1, 2): red}
    for (r, c), colour in expected.items():
        assert tuple(image[cell_centre(r, c, 48)]) == colour
    assert image[cell_centre(1, 1, 48)].tolist() == [235, 235, 235]  # None: light grey
    assert image[:HEADER_HEIGHT, LABEL_WIDTH:].min() < 128           # header text drawn
    assert image[HEADER_HEIGHT:HEADER_HEIGHT + 50, :LABEL_WIDTH].min() < 128  # row label drawn
    assert [p.name for p in path.parent.iterdir()] == ["table.png"]  # no temp file left


def test_table_default_cell_and_no_labels(tmp_path):
    rows = [[solid((1, 2, 3), 20, 20), solid((4, 5, 6), 40, 30)]]
    image = decode_image(translation_table(rows, None, None, tmp_path / "bare.png"))
    assert image.shape == (40 + 2 * GAP, 2 * (40 + GAP) + GAP, 3)  # cell = the largest side, no bands
    assert table_size(1, 2, 40, row_labels=False, col_labels=False) == (image.shape[1], image.shape[0])
    # one label per output column: "input" heads the first
    translation_table(rows, ["r"], ["flash01"], tmp_path / "targets_only.png", cell=16)
    assert decode_image(tmp_path / "targets_only.png").shape == (HEADER_HEIGHT + 18 + GAP, LABEL_WIDTH + 2 * 18 + GAP, 3)


def test_table_bad_input(tmp_path):
    with pytest.raises(ValueError, match="same length"):
        translation_table([[solid((0, 0, 0))], [solid((0, 0, 0))] * 2], None, None, tmp_path / "x.png")
    with pytest.raises(TypeError, match="uint8"):
        translation_table([[np.zeros((8, 8, 3), np.float32)]], None, None, tmp_path / "x.png")
    with pytest.raises(ValueError, match="row labels"):
        translation_table([[solid((0, 0, 0))]], ["a", "b"], None, tmp_path / "x.png")
    with pytest.raises(ValueError, match="column labels"):
        translation_table([[solid((0, 0, 0))] * 3], None, ["a"], tmp_path / "x.png")
    with pytest.raises(ValueError):
        translation_table([], None, None, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_gan_report_json_round_trip(tmp_path):
    metrics = {
        "fid": np.float64(12.5), "kid": {"mean": float("nan"), "std": np.float32(0.25)},
        "count": np.int64(7), "ok": np.bool_(True), "l1_by_light": np.array([0.1, np.inf]),
        "targets": ("flash01", "ambient"), "note": None, 3: "int key",
    }
    path = write_gan_report(tmp_path / "eval", metrics)
    assert path == tmp_path / "eval" / "gan_eval.json"
    text = path.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    loaded = json.loads(text)
    assert loaded == {
        "fid": 12.5, "kid": {"mean": None, "std": 0.25}, "count": 7, "ok": True, "l1_by_light": [0.1, None],
        "targets": ["flash01", "ambient"], "note": None, "3": "int key",
    }
    assert write_gan_report(tmp_path / "eval", {"a": 1}, name="other").name == "other.json"
    with pytest.raises(ValueError):
        write_gan_report(tmp_path, {}, name="../escape")
    assert json_safe(float("-inf")) is None and not math.isnan(json_safe(np.float16(1.5)))
