"""Manifest schema: Parquet/CSV round trips, validation errors, records and skips."""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from augmenter.datasets import manifest as mf
from augmenter.datasets.manifest import (
    MANIFEST_COLUMNS,
    MANIFEST_DTYPES,
    file_sha256,
    manifest_records,
    new_manifest,
    read_manifest,
    write_manifest,
)
from augmenter.datasets.record import UNKNOWN
from augmenter.errors import DatasetFormatError


def _row(i: int, **over) -> dict:
    row = dict(
        out_path=f"img/{i:03d}.png",
        source_path=f"/data/casia/0000045/{i:03d}.jpg",
        identity="0000045",
        dataset="casia",
        lighting="flash07",
        expression="smile",
        q_score=0.125 * i + 0.1,
        kept=True,
        seed=1000 + i,
        generator_hash="1f2e3d4c5b6a7980",
        toolkit_version="0.1.0",
    )
    row.update(over)
    return row


def _rows() -> list[dict]:
    return [
        _row(0, q_score=float("nan"), generator_hash="", seed=0, lighting="ambient", expression="neutral"),
        _row(1),
        _row(2, kept=False, identity="0000046"),
        _row(3, q_score=1 / 3),
    ]


def test_columns_and_dtypes():
    df = new_manifest(_rows())
    assert tuple(df.columns) == MANIFEST_COLUMNS
    assert list(MANIFEST_DTYPES) == list(MANIFEST_COLUMNS)
    assert df["q_score"].dtype == np.float64
    assert df["kept"].dtype == np.bool_
    assert df["seed"].dtype == np.int64
    for c in MANIFEST_COLUMNS:
        if MANIFEST_DTYPES[c] == "str":
            assert pd.api.types.is_string_dtype(df[c].dtype), c
    assert df["identity"].tolist() == ["0000045", "0000045", "0000046", "0000045"]
    assert math.isnan(df["q_score"][0])


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip_equal(tmp_path, suffix):
    df = new_manifest(_rows())
    parquet_path, csv_path = write_manifest(df, tmp_path / "out" / "manifest")
    assert parquet_path == tmp_path / "out" / "manifest.parquet"
    assert csv_path == tmp_path / "out" / "manifest.csv"
    back = read_manifest(tmp_path / "out" / f"manifest{suffix}")
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    assert back["identity"][0] == "0000045"  # leading zeros kept, even from CSV
    assert math.isnan(back["q_score"][0]) and back["q_score"][3] == 1 / 3
    assert back["kept"].tolist() == [True, True, False, True]


def test_write_accepts_suffixed_path_and_leaves_no_temp_files(tmp_path):
    df = new_manifest(_rows())
    write_manifest(df, tmp_path / "m.parquet")
    write_manifest(df.iloc[:1], tmp_path / "m.csv")  # overwrite both
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv", "m.parquet"]
    assert len(read_manifest(tmp_path / "m.parquet")) == 1
    assert len(read_manifest(tmp_path / "m")) == 1  # a stem reads <stem>.parquet


def test_extra_columns_preserved(tmp_path):
    rows = [dict(_row(i), variant_index=i, target_lighting=f"flash{i + 1:02d}") for i in range(3)]
    df = new_manifest(rows)
    assert list(df.columns) == [*MANIFEST_COLUMNS, "variant_index", "target_lighting"]
    write_manifest(df, tmp_path / "m")
    for suffix in (".parquet", ".csv"):
        back = read_manifest(tmp_path / f"m{suffix}")
        assert list(back.columns) == list(df.columns)
        assert back["variant_index"].tolist() == [0, 1, 2]
        assert back["target_lighting"].tolist() == ["flash01", "flash02", "flash03"]
    pd.testing.assert_frame_equal(
        read_manifest(tmp_path / "m.parquet")[["variant_index"]].astype("int64"),
        pd.DataFrame({"variant_index": [0, 1, 2]}, dtype="int64"),
    )


def test_registered_optional_dtype_applies_to_csv(tmp_path, monkeypatch):
    monkeypatch.setitem(mf.OPTIONAL_DTYPES, "target_identity", "str")
    df = new_manifest([dict(_row(0), target_identity="007")])
    write_manifest(df, tmp_path / "m")
    assert read_manifest(tmp_path / "m.csv")["target_identity"][0] == "007"


def test_csv_written_by_hand_is_parsed_with_the_schema(tmp_path):
    path = tmp_path / "hand.csv"
    header = ",".join(MANIFEST_COLUMNS)
    path.write_text(
        f"{header}\n"
        "a.png,a.jpg,0000045,casia,ambient,neutral,,1,7,,0.1.0\n"
        "b.png,b.jpg,0012,casia,flash01,smile,0.5,false,8,abc,0.1.0\n"
    )
    df = read_manifest(path)
    assert df["identity"].tolist() == ["0000045", "0012"]
    assert df["kept"].tolist() == [True, False]
    assert df["seed"].tolist() == [7, 8] and df["seed"].dtype == np.int64
    assert math.isnan(df["q_score"][0]) and df["q_score"][1] == 0.5
    assert df["generator_hash"].tolist() == ["", "abc"]


def test_missing_column_error_names_file_and_column(tmp_path):
    df = new_manifest(_rows()).drop(columns=["q_score"])
    path = tmp_path / "m.parquet"
    df.to_parquet(path, index=False)
    with pytest.raises(DatasetFormatError) as err:
        read_manifest(path)
    msg = str(err.value)
    assert str(path) in msg and "'q_score'" in msg and "missing column" in msg
    assert "\n" not in msg
    assert err.value.path == path


def test_bad_value_error_names_column_and_first_bad_row(tmp_path):
    df = new_manifest(_rows())
    df.to_csv(tmp_path / "m.csv", index=False)
    text = (tmp_path / "m.csv").read_text().splitlines()
    text[3] = text[3].replace(",False,", ",maybe,")  # data row 3 (kept=False row)
    (tmp_path / "m.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DatasetFormatError) as err:
        read_manifest(tmp_path / "m.csv")
    assert "'kept'" in str(err.value) and "row 3" in str(err.value) and "maybe" in str(err.value)

    bad = df.copy()
    bad.loc[2, "q_score"] = 7.5  # a raw rating, not divided by 10
    bad.to_parquet(tmp_path / "q.parquet", index=False)
    with pytest.raises(DatasetFormatError, match=r"'q_score', row 3: 7.5 is outside \[0, 1\]"):
        read_manifest(tmp_path / "q.parquet")


def test_new_manifest_validation():
    with pytest.raises(ValueError, match=r"row 2: missing column\(s\) 'seed'"):
        new_manifest([_row(0), {k: v for k, v in _row(1).items() if k != "seed"}])
    with pytest.raises(ValueError, match="'identity', row 1: 45 is not a string"):
        new_manifest([_row(0, identity=45)])
    with pytest.raises(ValueError, match="'seed', row 1"):
        new_manifest([_row(0, seed=1.5)])
    with pytest.raises(ValueError, match="'out_path', row 1: '' is empty"):
        new_manifest([_row(0, out_path="")])
    empty = new_manifest([])
    assert tuple(empty.columns) == MANIFEST_COLUMNS and len(empty) == 0


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DatasetFormatError, match="manifest not found"):
        read_manifest(tmp_path / "nope.parquet")
    corrupt = tmp_path / "bad.parquet"
    good = tmp_path / "good"
    write_manifest(new_manifest(_rows()), good)
    data = (tmp_path / "good.parquet").read_bytes()
    corrupt.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetFormatError, match="unreadable parquet") as err:
        read_manifest(corrupt)
    assert str(corrupt) in str(err.value) and "\n" not in str(err.value)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DatasetFormatError, match="empty file"):
        read_manifest(tmp_path / "empty.csv")


def _write_images(folder, names):
    for name in names:
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\x89PNG fake")


def test_manifest_records_counts_missing_images_and_filters_kept(tmp_path):
    rows = _rows()  # rows 0,1,3 kept; row 2 rejected
    abs_img = tmp_path / "elsewhere" / "abs.png"
    rows.append(_row(4, out_path=str(abs_img), identity="", variant_index=None))
    rows[1]["variant_index"] = 2
    df = new_manifest(rows)
    out = tmp_path / "out"
    write_manifest(df, out / "manifest")
    _write_images(out, ["img/000.png", "img/002.png", "img/003.png"])  # img/001.png missing
    _write_images(tmp_path / "elsewhere", ["abs.png"])

    records, skips = manifest_records(out / "manifest.csv")
    assert [r.path for r in records] == [out / "img/000.png", out / "img/003.png", abs_img]
    assert all(r.path.is_absolute() and r.dataset == "manifest" for r in records)
    assert skips.total == 1 and skips.counts["missing file"] == 1
    assert "img/001.png" in skips.examples["missing file"][0]

    r0, r3, r4 = records
    assert (r0.identity, r0.lighting, r0.expression) == ("0000045", "ambient", "neutral")
    assert r0.extra["q_score"] == "" and r0.extra["seed"] == "0" and r0.extra["generator_hash"] == ""
    assert r0.extra["source_dataset"] == "casia" and r0.extra["source_path"] == "/data/casia/0000045/000.jpg"
    assert float(r3.extra["q_score"]) == 1 / 3 and r3.extra["seed"] == "1003"
    assert r4.identity == UNKNOWN

    all_records, all_skips = manifest_records(out / "manifest.parquet", kept_only=False)
    assert len(all_records) == 4 and all_skips.total == 1
    rejected = [r for r in all_records if r.extra["kept"] == "False"]
    assert [r.identity for r in rejected] == ["0000046"]


def test_file_sha256_streams_and_truncates(tmp_path):
    data = np.random.default_rng(0).bytes(3 * (1 << 20) + 17)  # spans several 1 MiB chunks
    path = tmp_path / "gen.pt"
    path.write_bytes(data)
    full = hashlib.sha256(data).hexdigest()
    assert file_sha256(path) == full[:16]
    assert file_sha256(path, length=64) == full
    with pytest.raises(ValueError):
        file_sha256(path, length=0)


def test_manifest_records_keep_the_first_of_duplicated_rows(tmp_path):
    rows = [_row(0), _row(1), _row(0, seed=7), _row(2, out_path="./img/000.png"),
            _row(3, kept=False, out_path="img/001.png")]
    write_manifest(new_manifest(rows), tmp_path / "manifest")
    _write_images(tmp_path, ["img/000.png", "img/001.png"])
    for suffix in (".csv", ".parquet"):
        records, skips = manifest_records(tmp_path / f"manifest{suffix}")
        assert [(r.path.name, r.extra["seed"]) for r in records] == [("000.png", "1000"), ("001.png", "1001")]
        assert dict(skips.counts) == {"duplicate row": 2}
        assert skips.examples["duplicate row"] == [
            f"manifest{suffix} row 3: img/000.png already listed on row 1",
            f"manifest{suffix} row 4: ./img/000.png already listed on row 1",
        ]
    every, skips = manifest_records(tmp_path / "manifest.csv", kept_only=False)  # a rejected row counts too
    assert len(every) == 2
    assert skips.examples["duplicate row"][-1] == "manifest.csv row 5: img/001.png already listed on row 2"


@pytest.mark.parametrize("rows", [[], [_row(0, kept=False)]], ids=["header-only", "none-kept"])
def test_an_empty_manifest_is_an_error_like_an_empty_folder(tmp_path, rows):
    from augmenter.datasets import read_dataset

    _, csv_path = write_manifest(new_manifest(rows), tmp_path / "manifest")
    _write_images(tmp_path, ["img/000.png"])
    for given, named in ((csv_path, csv_path), (tmp_path / "manifest", tmp_path / "manifest.parquet")):
        with pytest.raises(DatasetFormatError, match="no usable images for manifest") as err:
            read_dataset("manifest", given)
        assert err.value.path == named and "\n" not in str(err.value)


def test_a_manifest_whose_images_are_all_missing_names_the_skips(tmp_path):
    from augmenter.datasets import read_dataset

    write_manifest(new_manifest([_row(0)]), tmp_path / "manifest")
    with pytest.raises(DatasetFormatError, match=r"manifest.csv: no usable images for manifest \(1 skipped: missing file"):
        read_dataset("manifest", tmp_path / "manifest.csv")


def test_bad_values_and_binary_files_are_escaped_in_the_error(tmp_path):
    df = new_manifest(_rows())
    df.to_csv(tmp_path / "m.csv", index=False)
    text = (tmp_path / "m.csv").read_text().splitlines()
    text[3] = text[3].replace(",False,", ",\x1b[2J\x07" + "y" * 5000 + ",")
    (tmp_path / "m.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DatasetFormatError, match="'kept', row 3") as err:
        read_manifest(tmp_path / "m.csv")
    message = str(err.value)
    assert "\\x1b[2J\\x07yyy" in message and all(c.isprintable() for c in message) and len(message) < 600

    (tmp_path / "b.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 50)
    with pytest.raises(DatasetFormatError, match="b.csv: unreadable CSV") as err:
        read_manifest(tmp_path / "b.csv")
    assert all(c.isprintable() for c in str(err.value)) and len(str(err.value)) < 600
