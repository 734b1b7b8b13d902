"""render_sample and ``augment sample``: the tree loads as the "sample" dataset, renders are
deterministic, reruns resume, a folder of another config is refused.

Rendered with the real renderer, small: 1 identity, 64 px, 2 expressions x 3 lights (6 images).
"""
from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("augmenter.sample.identity")
pytest.importorskip("augmenter.sample.render")

from augmenter.cli import main  # noqa: E402
from augmenter.datasets import read_dataset  # noqa: E402
from augmenter.errors import DatasetFormatError  # noqa: E402
from augmenter.io import decode_image  # noqa: E402
from augmenter.sample.tree import (  # noqa: E402
    CONFIG_NAME, CSV_COLUMNS, CSV_NAME, EXPRESSION_RECORDINGS, LIGHTING_IDS, SampleConfig, render_sample,
)

EXPRESSIONS = ("neutral", "smile")
LIGHTS = ("ambient", "flash01", "flash16")
SMALL = SampleConfig(identities=1, size=64, seed=0, expressions=EXPRESSIONS, lighting=LIGHTS)


def pixels(out) -> dict[str, np.ndarray]:
    """Decoded images of a sample tree, by path relative to ``out``."""
    return {p.relative_to(out).as_posix(): decode_image(p) for p in sorted(out.glob("session*/**/*.png"))}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample") / "tree"
    return out, render_sample(out, SMALL), pixels(out)


def test_tables_follow_the_multipie_reader():
    assert EXPRESSION_RECORDINGS == {
        "neutral": ("01", "01"), "smile": ("01", "02"), "surprise": ("02", "02"),
        "squint": ("02", "03"), "disgust": ("03", "03"), "scream": ("04", "03"),
    }
    assert LIGHTING_IDS["ambient"] == "00" and LIGHTING_IDS["flash18"] == "18" and "19" not in LIGHTING_IDS.values()


def test_tree_loads_as_the_sample_dataset_with_its_labels(rendered):
    out, summary, images = rendered
    assert (summary.written, summary.resumed) == (6, 0) and summary.images_per_s > 0
    listing = read_dataset("sample", out)
    assert listing.skips.total == 0 and len(listing) == 6
    assert {(r.identity, r.lighting, r.expression) for r in listing.records} == {
        ("001", light, expression) for light in LIGHTS for expression in EXPRESSIONS
    }
    assert (out / "session01/multiview/001/02/05_1/001_01_02_051_16.png").is_file()  # smile, flash16
    assert all(img.shape == (64, 64, 3) and img.dtype == np.uint8 for img in images.values())


def test_labels_csv_agrees_with_the_reader(rendered):
    out, _, _ = rendered
    with open(out / CSV_NAME, newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS and [r["path"] for r in rows] == sorted(r["path"] for r in rows)
    by_path = {r["path"]: r for r in rows}
    for record in read_dataset("sample", out).records:
        row = by_path.pop(record.path.relative_to(out).as_posix())
        assert (row["identity"], row["lighting"], row["expression"]) == (record.identity, record.lighting, record.expression)
        assert (row["session"], row["recording"], row["illumination"]) == (
            record.extra["session"], record.extra["recording"], record.extra["illumination"])
        assert (row["size"], row["seed"]) == ("64", "0")
        assert (row["azimuth"] == "") == (record.lighting == "ambient")
    assert not by_path and (out / CONFIG_NAME).is_file()


def test_same_seed_same_pixels_other_seed_other_pixels(rendered, tmp_path):
    _, _, images = rendered
    render_sample(tmp_path / "again", SMALL)
    again = pixels(tmp_path / "again")
    assert again.keys() == images.keys() and all(np.array_equal(again[k], images[k]) for k in images)
    other = SampleConfig(identities=1, size=64, seed=1, expressions=EXPRESSIONS, lighting=("ambient",))
    render_sample(tmp_path / "other", other)
    for rel, img in pixels(tmp_path / "other").items():
        assert not np.array_equal(img, images[rel])


def test_rerun_renders_only_the_missing_image(rendered, tmp_path):
    out, _, images = rendered
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "session01/multiview/001/01/05_1/001_01_01_051_01.png").unlink()
    calls = []
    summary = render_sample(copy, SMALL, progress=lambda done, total: calls.append((done, total)))
    assert (summary.written, summary.resumed) == (1, 5)
    assert calls == [(5, 6), (6, 6)]
    again = pixels(copy)
    assert again.keys() == images.keys() and all(np.array_equal(again[k], images[k]) for k in images)
    assert (copy / CSV_NAME).read_bytes() == (out / CSV_NAME).read_bytes()
    finished = render_sample(copy, SMALL)
    assert (finished.written, finished.resumed) == (0, 6)


def test_another_config_in_the_same_folder_is_refused_unless_overwrite(rendered, tmp_path):
    out, _, _ = rendered
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    fewer = SampleConfig(identities=1, size=64, seed=0, expressions=("neutral",), lighting=("ambient",))
    with pytest.raises(DatasetFormatError, match="another config"):
        render_sample(copy, fewer)
    assert len(read_dataset("sample", copy)) == 6  # untouched
    summary = render_sample(copy, SampleConfig(**{**vars(fewer), "overwrite": True}))
    assert (summary.written, summary.resumed) == (1, 0)
    assert [r.path.name for r in read_dataset("sample", copy).records] == ["001_01_01_051_00.png"]


def test_a_foreign_folder_is_not_written_into(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "me.jpg").write_bytes(b"x")
    with pytest.raises(DatasetFormatError, match="sample.json"):
        render_sample(tmp_path / "photos", SMALL)
    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == ["me.jpg"]


def test_config_rejects_unknown_names():
    with pytest.raises(ValueError, match="smile"):
        SampleConfig(expressions=("grin",))
    with pytest.raises(ValueError, match="flash18"):
        SampleConfig(lighting=("flash19",))


def test_cli_writes_the_tree_and_rejects_unknown_names(tmp_path):
    out = tmp_path / "cli"
    args = ["sample", "--identities", "1", "--out", str(out), "--expressions", "neutral", "--lighting", "ambient,flash07"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "2 rendered" in result.output
    assert {(r.lighting, r.expression) for r in read_dataset("sample", out).records} == {
        ("ambient", "neutral"), ("flash07", "neutral")}
    bad = CliRunner().invoke(main, ["sample", "--identities", "1", "--out", str(tmp_path / "x"), "--expressions", "grin"])
    assert bad.exit_code == 2 and "grin" in bad.output and "scream" in bad.output
    assert not (tmp_path / "x").exists()
    refused = CliRunner().invoke(main, args[:-1] + ["ambient"])
    assert refused.exit_code == 1 and "another config" in refused.output
