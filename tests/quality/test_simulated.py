"""The simulated-rater set: graded artifacts, rater formula, and the built set on a tiny rendered sample."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from augmenter.errors import DatasetFormatError
from augmenter.quality.ratings import RATING_COLUMNS, read_ratings
from augmenter.quality.simulated import (
    ARTIFACTS, CLEAN, PERCEIVED_FLOOR, build_simulated_set, degrade, perceived, simulate_ratings,
)


def face_like(size=64, seed=0) -> np.ndarray:
    """A structured test image: background gradient, a skin-toned ellipse, dark eyes and mouth."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.stack([90 + 60 * x, 100 + 40 * y, 120 + 0 * x], -1)
    face = ((x - 0.5) / 0.33) ** 2 + ((y - 0.52) / 0.42) ** 2 < 1
    img[face] = (190, 140, 110)
    for cx in (0.38, 0.62):
        img[((x - cx) ** 2 + (y - 0.42) ** 2) < 0.003] = (30, 30, 40)
    img[(np.abs(x - 0.5) < 0.12) & (np.abs(y - 0.72) < 0.02)] = (150, 60, 60)
    img += rng.normal(0, 3, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("artifact", ARTIFACTS)
def test_degrade_keeps_shape_and_grows_with_severity(artifact):
    for size in (64, 128):
        img = face_like(size)
        untouched = degrade(img, artifact, 0.0, np.random.default_rng(0))
        assert untouched is not img and np.array_equal(untouched, img)
        changes = []
        for s in (0.1, 0.4, 1.0):
            out = degrade(img, artifact, s, np.random.default_rng(1))  # same draws, stronger
            assert out.shape == img.shape and out.dtype == np.uint8
            changes.append(np.abs(out.astype(float) - img).mean())
        assert 0 < changes[0] < changes[1] < changes[2], (artifact, size, changes)
        assert changes[0] < 4 and changes[2] > max(5, 3 * changes[0]), (artifact, size, changes)  # barely vs clearly
    assert np.array_equal(img, face_like(128))  # input never modified


def test_degrade_refuses_bad_arguments():
    img = face_like()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown artifact"):
        degrade(img, "sparkle", 0.5, rng)
    with pytest.raises(ValueError, match="severity"):
        degrade(img, "blur", 1.5, rng)
    with pytest.raises(ValueError, match="uint8"):
        degrade(img.astype(np.float32), "blur", 0.5, rng)


def test_perceived_is_monotone_from_the_floor():
    s = np.linspace(0, 1, 21)
    for artifact in ARTIFACTS:
        p = perceived(s, artifact)
        assert p[0] == PERCEIVED_FLOOR and np.all(np.diff(p) > 0) and p[-1] <= 1.0
    assert perceived(0.3, "blob") > perceived(0.3, "blur")  # raters notice blobs before mild blur
    assert perceived(0.7, CLEAN) == PERCEIVED_FLOOR


def test_simulated_ratings_fall_with_severity_and_clean_faces_rate_about_9():
    rng = np.random.default_rng(0)
    s = rng.uniform(0, 1, 300)
    artifacts = rng.choice(ARTIFACTS, 300)
    r = simulate_ratings(s, artifacts, rng)
    assert r.shape == (300, 3) and r.min() >= 1 and r.max() <= 10
    assert spearmanr(s, r.mean(-1)).statistic < -0.8
    for artifact in ARTIFACTS:
        assert spearmanr(s, simulate_ratings(s, artifact, rng).mean(-1)).statistic < -0.9
    clean = simulate_ratings(np.zeros(500), CLEAN, rng)
    assert abs(clean.mean() - 9.0) < 0.2
    assert clean[:, 0].mean() < clean[:, 1].mean() < clean[:, 2].mean()  # rater biases -0.4, 0, +0.3
    assert 0.3 < clean.std(-1).mean() < 0.7


# ----------------------------------------------------------------------------- the built set


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    pytest.importorskip("augmenter.sample.render")
    from augmenter.sample.tree import SampleConfig, render_sample

    out = tmp_path_factory.mktemp("quality") / "sample"
    render_sample(out, SampleConfig(identities=3, size=64, expressions=("neutral",), lighting=("ambient", "flash07")))
    return out


def test_build_simulated_set_on_a_tiny_sample(sample, tmp_path):
    out = tmp_path / "sim"
    calls = []
    listing = build_simulated_set(out, sample_root=sample, per_face=3, seed=0, progress=lambda d, n: calls.append((d, n)))
    t = listing.table
    assert listing.skips.total == 0 and len(t) == 18 and listing.file == out / "ratings.csv"
    assert calls[0] == (0, 18) and calls[-1] == (18, 18)
    assert list(t.columns) == [*RATING_COLUMNS, "severity", "rater1", "rater2", "rater3", "identity"]
    assert set(t["source"]) <= set(ARTIFACTS) | {CLEAN}
    for path, source, identity in zip(t["path"], t["source"], t["identity"]):
        assert path.startswith(f"{out}/images/{source}/{identity}_{identity}_") and path.endswith(".png")
    raters = t[["rater1", "rater2", "rater3"]].astype(float).to_numpy()
    assert np.allclose(t["mean"], raters.mean(1), atol=1e-4) and np.allclose(t["std"], raters.std(1), atol=1e-4)
    severity = t["severity"].astype(float)
    assert (severity[t["source"] == CLEAN] == 0).all()
    # held-out identities: each identity in exactly one split, every split used (3 identities)
    assert (t.groupby("identity")["split"].nunique() == 1).all()
    assert sorted(t.groupby("identity")["split"].first()) == ["test", "train", "val"]
    # the CSV is the toolkit's ratings format: read_ratings gives the same table
    assert read_ratings(out / "ratings.csv").table.equals(t)

    # a rerun writes nothing new and gives the same table
    files = sorted(p for p in out.rglob("*") if p.is_file())
    stamps = {p: p.stat().st_mtime_ns for p in files}
    again = build_simulated_set(out, sample_root=sample, per_face=3, seed=0)
    assert sorted(p for p in out.rglob("*") if p.is_file()) == files
    assert {p: p.stat().st_mtime_ns for p in files} == stamps
    assert again.table.equals(t)

    # deterministic: another folder gets the same artifacts, severities, ratings and splits
    other = build_simulated_set(tmp_path / "sim2", sample_root=sample, per_face=3, seed=0).table
    assert other.drop(columns="path").equals(t.drop(columns="path"))

    with pytest.raises(DatasetFormatError, match="other settings"):
        build_simulated_set(out, sample_root=sample, per_face=3, seed=1)


def test_a_ratings_set_from_real_dataset_images(tmp_path):
    from tests.datasets.fixtures import make_fer_folders

    fer = make_fer_folders(tmp_path / "fer", {("train", "angry"): 3, ("train", "happy"): 3, ("validation", "sad"): 2})
    listing = build_simulated_set(tmp_path / "set", sources=[f"fer2013:{fer}"], max_sources=4, per_face=2, seed=1)
    table = listing.table
    assert len(table) == 8  # 4 of the 6 training images, 2 variants each; validation images never used
    assert not any("PublicTest" in str(p) for p in table["path"])
    assert table["identity"].nunique() == 4  # no identities in FER: every image is its own split group
    assert table["mean"].between(1, 10).all()
    again = build_simulated_set(tmp_path / "set", sources=[f"fer2013:{fer}"], max_sources=4, per_face=2, seed=1)
    assert again.table["path"].tolist() == table["path"].tolist()
    with pytest.raises(DatasetFormatError):
        build_simulated_set(tmp_path / "set", sources=[f"fer2013:{fer}"], max_sources=5, per_face=2, seed=1)
