"""The ratings table: reading CSV/TSV files with any header, skipped rows, splits, the write/read round trip."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from click.testing import CliRunner

from augmenter.cli import main
from augmenter.errors import DatasetFormatError
from augmenter.quality.ratings import (
    RATING_COLUMNS, ColumnNotFoundError, assign_splits, read_ratings, write_ratings,
)


def touch(folder, *names):
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_csv_with_alias_columns_resolves_relative_paths_under_the_files_folder(tmp_path):
    touch(tmp_path, "faces/a.png", "faces/b.png")
    (tmp_path / "list.csv").write_text(
        "Filename,MOS,SD,generator,note\nfaces/a.png,7.5,1.2,stylegan,first\nfaces/b.png,2,0,legan,\n"
    )
    listing = read_ratings(tmp_path / "list.csv")
    t = listing.table
    assert list(t.columns) == [*RATING_COLUMNS, "note"]
    assert t["path"].tolist() == [str(tmp_path / "faces/a.png"), str(tmp_path / "faces/b.png")]
    assert t["mean"].tolist() == [7.5, 2.0] and t["std"].tolist() == [1.2, 0.0]
    assert t["source"].tolist() == ["stylegan", "legan"] and t["split"].tolist() == ["unknown"] * 2
    assert t["note"].tolist() == ["first", ""]
    assert t["mean"].dtype == np.float64 and listing.skips.total == 0
    assert listing.file == tmp_path / "list.csv"


def test_tsv_with_custom_column_names_and_a_root(tmp_path):
    touch(tmp_path, "images/x/1.jpg", "images/x/2.jpg")
    absolute = tmp_path / "images/x/2.jpg"
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta/ratings.tsv").write_text(
        "picture\tnaturalness\tspread\tpartition\n"
        "x/1.jpg\t9\t0.5\tTraining\n"
        f"{absolute}\t4,5\t1\tvalidation\n"
    )
    listing = read_ratings(
        tmp_path / "meta", root=tmp_path / "images", path_col="picture", mean_col="naturalness",
        std_col="spread", split_col="partition",
    )
    t = listing.table
    assert t["path"].tolist() == [str(tmp_path / "images/x/1.jpg"), str(absolute)]
    assert t["mean"].tolist() == [9.0, 4.5]  # decimal comma accepted
    assert t["split"].tolist() == ["train", "val"] and t["source"].tolist() == ["unknown"] * 2
    assert listing.file == tmp_path / "meta/ratings.tsv"


def test_semicolon_file_is_sniffed(tmp_path):
    touch(tmp_path, "a.png")
    (tmp_path / "r.csv").write_text("image;mean;std\na.png;5;1\n")
    assert read_ratings(tmp_path / "r.csv").table["mean"].tolist() == [5.0]


def test_each_malformed_row_is_counted_with_its_line(tmp_path):
    touch(tmp_path, "ok.png", "ok2.png", "s.png", "t.png", "u.png", "v.png")
    (tmp_path / "ratings.csv").write_text(
        "image,mean,std,split\n"      # line 1
        "ok.png,8,1,train\n"          # 2 kept
        ",5,1,\n"                     # 3 empty path
        "s.png,eleven,1,\n"           # 4 bad mean
        "t.png,10.5,1,\n"             # 5 bad mean (range)
        "u.png,5,-0.1,\n"             # 6 bad std
        "v.png,5,abc,\n"              # 7 bad std
        "gone.png,5,1,\n"             # 8 missing image
        "ok.png,6,1,\n"               # 9 duplicate
        "ok2.png,6,1,holdout\n"       # 10 bad split
        "\n"                          # 11 blank
        "ok2.png,6,1,test,extra\n"    # 12 too many fields
        "ok2.png,3,0.5,TEST\n"        # 13 kept
    )
    listing = read_ratings(tmp_path)
    s = listing.skips
    assert dict(s.counts) == {
        "empty path": 1, "bad mean": 2, "bad std": 2, "missing image": 1, "duplicate image": 1,
        "bad split": 1, "blank line": 1, "wrong field count": 1,
    }
    assert s.examples["empty path"] == ["ratings.csv line 3: image is empty"]
    assert s.examples["bad mean"] == ["ratings.csv line 4: mean='eleven'", "ratings.csv line 5: mean='10.5'"]
    assert s.examples["bad std"] == ["ratings.csv line 6: std='-0.1'", "ratings.csv line 7: std='abc'"]
    assert s.examples["missing image"] == ["ratings.csv line 8: no such file gone.png"]
    assert s.examples["duplicate image"] == ["ratings.csv line 9: ok.png listed before"]
    assert s.examples["bad split"] == ["ratings.csv line 10: split='holdout'"]
    assert s.examples["blank line"] == ["ratings.csv line 11: no values"]
    assert s.examples["wrong field count"][0].startswith("ratings.csv line 12:")
    assert listing.table["mean"].tolist() == [8.0, 3.0]
    assert listing.table["split"].tolist() == ["train", "test"]
    # check_files=False keeps the row of the missing image
    assert len(read_ratings(tmp_path, check_files=False)) == 3


def test_missing_columns_name_what_was_tried(tmp_path):
    touch(tmp_path, "a.png")
    f = tmp_path / "r.csv"
    f.write_text("picture,mean,std\na.png,5,1\n")
    with pytest.raises(DatasetFormatError, match=r"no column for image paths: tried image, path, file, filename, .*; "
                                                 r"the header has picture, mean, std; choose it with path_col=$"):
        read_ratings(f)
    with pytest.raises(DatasetFormatError, match=r"no column for mean ratings: tried naturalness; .* with mean_col=$"):
        read_ratings(f, path_col="picture", mean_col="naturalness")
    with pytest.raises(DatasetFormatError, match=r"no column for sources: tried generator"):
        read_ratings(f, path_col="picture", source_col="generator")  # an explicit optional column must exist
    f.write_text("image,mean\na.png,5\n")
    with pytest.raises(DatasetFormatError, match=r"no column for rating std: .*std_col=None"):
        read_ratings(f)
    t = read_ratings(f, std_col=None).table
    assert t["std"].tolist() == [0.0]


def test_a_missing_column_error_carries_the_option_for_a_front_end_to_name(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("picture,mean,std\na.png,5,1\n")
    with pytest.raises(ColumnNotFoundError) as err:
        read_ratings(f)
    e = err.value
    assert isinstance(e, DatasetFormatError) and e.path == f and e.option == "path_col"
    assert e.tried[:2] == ("image", "path") and e.columns == ("picture", "mean", "std")
    assert "--" not in str(e)  # the library knows its keywords, not the command line's flags
    flagged = e.naming_option("--path-col")
    assert isinstance(flagged, ColumnNotFoundError) and flagged.path == f and flagged.option == "path_col"
    assert str(flagged).endswith("the header has picture, mean, std; choose it with --path-col")
    assert "path_col" not in str(flagged)
    f.write_text("image,mean\na.png,5\n")
    with pytest.raises(ColumnNotFoundError) as err:
        read_ratings(f)
    assert str(err.value.naming_option("--std-col")).endswith("; choose it with --std-col")


def test_a_header_with_control_bytes_is_escaped_in_the_column_error(tmp_path):
    f = tmp_path / "r.csv"
    f.write_bytes(b"\x1b[2Jpicture,\x07mean,std" + b",x\x01" * 200 + b"\na.png,5,1\n")
    with pytest.raises(ColumnNotFoundError) as err:
        read_ratings(f)
    message = str(err.value)
    assert "the header has \\x1b[2Jpicture, \\x07mean, std, x\\x01" in message
    assert all(c.isprintable() for c in message) and len(message) < 600


def test_empty_file_header_only_and_missing_spec(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("")
    with pytest.raises(DatasetFormatError, match="empty file"):
        read_ratings(f)
    f.write_text("image,mean,std\n")
    with pytest.raises(DatasetFormatError, match="no usable ratings rows"):
        read_ratings(f)
    f.write_text("image,mean,std\nnope.png,5,1\n")
    with pytest.raises(DatasetFormatError, match=r"no usable ratings rows \(1 skipped: missing image\)"):
        read_ratings(f)
    with pytest.raises(DatasetFormatError, match="does not exist"):
        read_ratings(tmp_path / "absent.csv")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DatasetFormatError, match="holds no ratings.csv or ratings.tsv"):
        read_ratings(tmp_path / "empty_dir")


# ----------------------------------------------------------------------------- splits


def make_table(n_per=40, sources=("a", "b"), seed=1, identities=None):
    rng = np.random.default_rng(seed)
    rows = []
    for src in sources:
        for i in range(n_per):
            rows.append({"path": f"/d/{src}/{i:04d}.png", "mean": float(rng.uniform(1, 10)),
                         "std": 1.0, "source": src, "split": "unknown"})
    t = pd.DataFrame(rows)
    if identities:
        t["identity"] = [f"id{i % identities:02d}" for i in range(len(t))]
    return t


def bins_of(mean):
    return np.clip(np.searchsorted([1, 3, 5, 7, 10.01], mean, side="right") - 1, 0, 3)


def test_assign_splits_is_seeded_stratified_and_order_independent():
    t = make_table(n_per=200)
    a = assign_splits(t, seed=3)
    assert a["split"].tolist() == assign_splits(t, seed=3)["split"].tolist()
    assert a["split"].tolist() != assign_splits(t, seed=4)["split"].tolist()
    assert set(a["split"]) == {"train", "val", "test"} and (t["split"] == "unknown").all()  # input untouched
    a["bin"] = bins_of(a["mean"].to_numpy())
    for (src, b), g in a.groupby(["source", "bin"]):
        n = len(g)
        counts = g["split"].value_counts()
        assert all(counts.get(s, 0) >= 1 for s in ("train", "val", "test")), (src, b)
        for s, f in zip(("train", "val", "test"), (0.8, 0.1, 0.1)):
            assert abs(counts.get(s, 0) - f * n) <= 1.0, (src, b, s)
    shuffled = t.sample(frac=1.0, random_state=7)
    b = assign_splits(shuffled, seed=3)
    assert dict(zip(b["path"], b["split"])) == dict(zip(a["path"], a["split"]))
    # independent of which other strata exist: dropping source b leaves source a's splits unchanged
    only_a = assign_splits(t[t["source"] == "a"], seed=3)
    assert dict(zip(only_a["path"], only_a["split"])) == {p: s for p, s, src in zip(a["path"], a["split"], a["source"]) if src == "a"}


def test_tiny_strata_go_to_train_and_three_rows_fill_every_split():
    t = pd.DataFrame({"path": [f"/p{i}" for i in range(5)], "mean": [2, 2, 8, 8, 8], "std": 0.0,
                      "source": "s", "split": "unknown"})
    a = assign_splits(t)
    assert a["split"].tolist()[:2] == ["train", "train"]
    assert sorted(a["split"].tolist()[2:]) == ["test", "train", "val"]


def test_existing_splits_are_kept_unless_overwrite():
    t = make_table(n_per=30)
    t.loc[:9, "split"] = "test"
    a = assign_splits(t, seed=0)
    assert (a.loc[:9, "split"] == "test").all()
    assert set(a.loc[10:, "split"]) == {"train", "val", "test"}
    b = assign_splits(t, seed=0, overwrite=True)
    assert (b.loc[:9, "split"] != "test").any()


def test_group_option_keeps_groups_whole():
    t = make_table(n_per=40, identities=10)
    a = assign_splits(t, seed=5, group_col="identity")
    per_group = a.groupby("identity")["split"].nunique()
    assert (per_group == 1).all()
    splits = a.groupby("identity")["split"].first().value_counts()
    assert splits.to_dict() == {"train": 8, "val": 1, "test": 1}
    shuffled = assign_splits(t.sample(frac=1.0, random_state=2), seed=5, group_col="identity")
    assert dict(zip(shuffled["path"], shuffled["split"])) == dict(zip(a["path"], a["split"]))
    # a group with a row already in "val" puts its other rows there too
    t2 = t.copy()
    first = t2.index[t2["identity"] == "id03"][0]
    t2.loc[first, "split"] = "val"
    b = assign_splits(t2, seed=5, group_col="identity")
    assert set(b.loc[b["identity"] == "id03", "split"]) == {"val"}
    assert (b.groupby("identity")["split"].nunique() == 1).all()


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="fractions"):
        assign_splits(make_table(n_per=5), fractions=(0.5, 0.2, 0.2))


# ----------------------------------------------------------------------------- round trip


def test_write_read_round_trip(tmp_path):
    touch(tmp_path, "set/img/a.png", "set/img/b.png", "elsewhere/c.png")
    outside = tmp_path / "elsewhere/c.png"
    (tmp_path / "set/in.tsv").write_text(
        "file\tmos\tstd\tsource\tnote\tsplit\n"
        "img/a.png\t6.1\t0.1\tg1\thello, world\tp1\n"
        "img/b.png\t9.95\t2.333333333333333\tg2\t\"quoted\"\tp2\n"
        f"{outside}\t1\t0\t\t007\tp3\n"
    )
    first = read_ratings(tmp_path / "set/in.tsv", split_col=None)  # its "split" is kept as an extra
    assert list(first.table.columns) == [*RATING_COLUMNS, "note", "split_original"]
    table = assign_splits(first.table, seed=0)
    table.loc[0, "mean"] = 0.1 + 0.2 + 5  # a float that needs every digit
    written = write_ratings(table, tmp_path / "set/ratings.csv")
    text = written.read_text()
    assert text.splitlines()[0] == "image,mean,std,source,split,note,split_original"
    assert "img/a.png," in text and str(outside) in text  # relative under the folder, absolute outside
    again = read_ratings(tmp_path / "set")
    pd.testing.assert_frame_equal(again.table, table)
    assert again.table.loc[2, "note"] == "007" and again.table.loc[2, "source"] == "unknown"
    # written elsewhere, every path is absolute and the table still comes back the same
    other = write_ratings(table, tmp_path / "copy/ratings.csv")
    pd.testing.assert_frame_equal(read_ratings(other).table, table)


def test_a_missing_ratings_column_names_the_cli_flag(tmp_path):
    (tmp_path / "r.csv").write_text("picture,mean,std\na.png,5,1\n")
    result = CliRunner().invoke(main, ["train-q", "--data", str(tmp_path / "r.csv"), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].endswith("the header has picture, mean, std; choose it with --path-col")
    assert "path_col" not in result.output
