"""Registry: names, dispatch, errors, and the manifest delegation."""
from __future__ import annotations

import pytest

import augmenter.datasets as datasets
from augmenter.datasets import DATASETS, DatasetListing, FaceRecord, SkipReport, read_dataset
from augmenter.datasets import manifest as manifest_module
from tests.datasets.fixtures import make_casia


def test_public_api_and_names():
    assert set(datasets.__all__) == {"DATASETS", "DatasetListing", "FaceRecord", "SkipReport", "UNKNOWN", "read_dataset"}
    assert set(DATASETS) == {
        "casia", "affectnet", "multipie", "yaleb", "fer2013", "folder", "class-folder", "manifest", "sample",
    }


def test_unknown_name_and_option(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'celeba'; expected one of casia"):
        read_dataset("celeba", tmp_path)
    with pytest.raises(TypeError):
        read_dataset("casia", make_casia(tmp_path / "c"), bogus=1)


def test_manifest_delegates_lazily(tmp_path, monkeypatch):
    seen = {}

    def fake(path, **options):
        seen.update(path=path, **options)
        skips = SkipReport()
        skips.add("missing file", "m.csv row 2: /x.png")
        return [FaceRecord(path=tmp_path / "b.png", dataset="manifest"), FaceRecord(path=tmp_path / "a.png", dataset="manifest")], skips

    monkeypatch.setattr(manifest_module, "manifest_records", fake)
    listing = read_dataset("manifest", tmp_path / "m.csv", kept_only=False)
    assert isinstance(listing, DatasetListing) and listing.dataset == "manifest"
    assert seen == {"path": tmp_path / "m.csv", "kept_only": False}
    assert [r.path.name for r in listing.records] == ["b.png", "a.png"]  # the manifest's own order
    assert listing.skips.total == 1 and listing.root == tmp_path / "m.csv"


def test_manifest_round_trip_through_the_real_module(tmp_path):
    from tests.datasets.fixtures import write_image

    write_image(tmp_path / "img" / "0.png")
    df = manifest_module.new_manifest([dict(
        out_path="img/0.png", source_path="/src/0.jpg", identity="0000045", dataset="casia", lighting="flash07",
        expression="smile", q_score=0.8, kept=True, seed=3, generator_hash="", toolkit_version="0.1.0",
    )])
    parquet, _ = manifest_module.write_manifest(df, tmp_path / "manifest")
    listing = read_dataset("manifest", parquet)
    assert [(r.path, r.identity, r.lighting, r.expression) for r in listing.records] == [
        (tmp_path / "img" / "0.png", "0000045", "flash07", "smile")
    ]
