"""The perception-study reader: img.csv + ans.csv of Lago et al. (2022) read into answers and a ratings table.

The fixture is written in the study's exact format (``;``-separated, images under ``images/``); its
numbers are computed by hand in the comments. One test reads the real study folder when the shared data
is there (it is skipped otherwise).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from augmenter.cli import main
from augmenter.errors import DatasetFormatError
from augmenter.quality.ratings import RATING_COLUMNS, RatingsListing, read_ratings
from augmenter.quality.study import (
    OUTLIER_PARTICIPANTS,
    is_study_folder,
    likert_to_rating,
    read_study_answers,
    split_half_ceiling,
    study_ratings_table,
)

IMG_CSV = (
    "img_id;ds;path;synthetic\n"
    "im-001;FFHQ;images/FFHQ_000.jpg;0\n"
    "im-002;FFHQ;images/FFHQ_001.jpg;0\n"
    "im-003;StyleGAN2;images/StyleGAN2_000.jpg;1\n"
    "im-004;PGGAN;images/PGGAN_000.jpg;1\n"
    "im-005;PGGAN;images/PGGAN_001.jpg;1\n"  # its file is not written: a missing image
)

ANS_CSV = (
    "subj_id;img_id;likert;resp_time;order\n"  # line 1
    "s-001;im-001;1;4109;1\n"                  # 2  kept: rating 10
    "s-002;im-001;2;3771;1\n"                  # 3  kept: 8.5
    "s-003;im-001;4;4846;1\n"                  # 4  kept: 5.5
    "s-024;im-001;7;4888;1\n"                  # 5  published outlier: dropped
    "s-004;im-001;-1;5000;1\n"                 # 6  slider left in the middle: missing
    "s-001;im-002;7;4000;2\n"                  # 7  kept: 1
    "s-002;im-002;6;4000;2\n"                  # 8  kept: 2.5
    "s-001;im-003;3;4000;3\n"                  # 9  kept: 7
    "s-024;im-003;1;4000;3\n"                  # 10 outlier
    "s-001;im-004;5;4000;4\n"                  # 11 kept: 4
    "s-005;im-001;abc;100;5\n"                 # 12 bad likert (not a number)
    "s-005;im-002;2.5;100;5\n"                 # 13 bad likert (not an integer)
    "s-005;im-003;8;100;5\n"                   # 14 bad likert (outside 1..7)
    "s-005;im-004;0;100;5\n"                   # 15 bad likert (0 is no answer of the slider)
    "s-005;im-999;3;100;5\n"                   # 16 unknown image
    "s-001;im-005;2;100;5\n"                   # 17 missing image file
)


def write_study(folder, img=IMG_CSV, ans=ANS_CSV, *, images=("FFHQ_000", "FFHQ_001", "StyleGAN2_000", "PGGAN_000")):
    (folder / "images").mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(images):
        Image.new("RGB", (8, 8), (40 * i, 90, 200 - 40 * i)).save(folder / "images" / f"{name}.jpg")
    (folder / "img.csv").write_text(img, encoding="utf-8")
    (folder / "ans.csv").write_text(ans, encoding="utf-8")
    return folder


# ----------------------------------------------------------------------------- the label mapping


def test_likert_maps_linearly_onto_the_rating_scale_reversed():
    # 1 "surely real" -> 10, 7 "surely synthetic" -> 1, the middle 4 -> 5.5, steps of 1.5.
    assert likert_to_rating(np.arange(1, 8)).tolist() == [10.0, 8.5, 7.0, 5.5, 4.0, 2.5, 1.0]
    assert likert_to_rating(4) == 5.5


# ----------------------------------------------------------------------------- answers


def test_answers_drop_outliers_and_missing_answers_and_count_every_row(tmp_path):
    folder = write_study(tmp_path / "study")
    answers = read_study_answers(folder)
    assert list(answers.columns[:5]) == ["participant", "path", "source", "likert", "rating"]
    assert answers["participant"].tolist() == ["s-001", "s-002", "s-003", "s-001", "s-002", "s-001", "s-001"]
    assert answers["likert"].tolist() == [1, 2, 4, 7, 6, 3, 5]
    assert answers["rating"].tolist() == [10.0, 8.5, 5.5, 1.0, 2.5, 7.0, 4.0]
    assert answers["path"].iloc[0] == str(folder / "images" / "FFHQ_000.jpg")
    assert answers["source"].tolist() == ["FFHQ"] * 5 + ["StyleGAN2", "PGGAN"]
    skips = answers.attrs["skips"]
    assert dict(skips.counts) == {"excluded participant": 2, "missing answer": 1, "bad likert": 4,
                                  "unknown image": 1, "missing image": 1}
    assert skips.examples["missing answer"] == ["ans.csv line 6: s-004 left the slider in the middle (likert -1)"]
    assert skips.examples["bad likert"] == ["ans.csv line 12: likert='abc'", "ans.csv line 13: likert='2.5'",
                                            "ans.csv line 14: likert='8'", "ans.csv line 15: likert='0'"]
    assert skips.examples["unknown image"] == ["ans.csv line 16: img_id='im-999' is not in img.csv"]
    assert skips.examples["missing image"] == ["ans.csv line 17: no such file images/PGGAN_001.jpg"]
    assert skips.examples["excluded participant"][0] == (
        "ans.csv line 5: s-024 is listed in the study's published outliers")
    assert len(answers) + skips.total == 16  # every data row is kept or counted once


def test_outliers_kept_on_request_and_a_local_list_overrides_the_published_one(tmp_path):
    folder = write_study(tmp_path / "study")
    assert len(OUTLIER_PARTICIPANTS) == 30 and "s-024" in OUTLIER_PARTICIPANTS
    everyone = read_study_answers(folder, exclude_outliers=False)
    assert (everyone["participant"] == "s-024").sum() == 2
    assert "excluded participant" not in everyone.attrs["skips"].counts

    (folder / "excluded_participants.txt").write_text("# my own screening\ns-002\n\n")
    local = read_study_answers(folder)
    assert "s-002" not in set(local["participant"]) and (local["participant"] == "s-024").sum() == 2
    assert local.attrs["skips"].counts["excluded participant"] == 2
    assert local.attrs["skips"].examples["excluded participant"][0] == (
        "ans.csv line 3: s-002 is listed in excluded_participants.txt")
    assert local.attrs["excluded_participants"] == ["s-002"]
    assert (read_study_answers(folder, exclude_outliers=False)["participant"] == "s-002").sum() == 2


@pytest.mark.parametrize("missing", ["img.csv", "ans.csv"])
def test_a_missing_study_file_is_a_one_line_error_naming_it(tmp_path, missing):
    folder = write_study(tmp_path / "study")
    (folder / missing).unlink()
    with pytest.raises(DatasetFormatError) as err:
        read_study_answers(folder)
    assert err.value.path == folder / missing and "\n" not in str(err.value)


@pytest.mark.parametrize("which", ["img.csv", "ans.csv"])
def test_a_wrong_header_is_a_one_line_error_naming_the_file(tmp_path, which):
    folder = write_study(tmp_path / "study")
    text = (folder / which).read_text()
    (folder / which).write_text(text.replace(";", ","))  # a comma-separated copy is not the study's format
    with pytest.raises(DatasetFormatError, match="wrong header") as err:
        read_study_answers(folder)
    assert err.value.path == folder / which and "\n" not in str(err.value)


def test_no_usable_answer_is_an_error(tmp_path):
    folder = write_study(tmp_path / "study", ans="subj_id;img_id;likert;resp_time;order\ns-001;im-001;-1;1;1\n")
    with pytest.raises(DatasetFormatError, match=r"no usable answers \(1 skipped: missing answer\)"):
        read_study_answers(folder)


# ----------------------------------------------------------------------------- the ratings table


def test_ratings_table_holds_mean_and_sample_std_per_image(tmp_path):
    folder = write_study(tmp_path / "study")
    listing = study_ratings_table(folder)
    assert isinstance(listing, RatingsListing) and listing.file == folder / "ans.csv"
    t = listing.table
    assert list(t.columns) == [*RATING_COLUMNS, "n_ratings", "synthetic", "img_id"]
    assert t["img_id"].tolist() == ["im-001", "im-002", "im-003", "im-004"]
    # im-001: ratings 10, 8.5, 5.5 -> mean 8; deviations 2, .5, -2.5 -> squares sum 10.5 -> var 10.5 / 2.
    assert t["mean"].iloc[0] == pytest.approx(8.0)
    assert t["std"].iloc[0] == pytest.approx(math.sqrt(5.25))
    # im-002: 1, 2.5 -> mean 1.75, var (0.75^2 * 2) / 1 = 1.125; im-003, im-004: one rating, std 0.
    assert t["mean"].tolist()[1:] == pytest.approx([1.75, 7.0, 4.0])
    assert t["std"].tolist()[1:] == pytest.approx([math.sqrt(1.125), 0.0, 0.0])
    assert t["n_ratings"].tolist() == [3, 2, 1, 1]
    assert t["source"].tolist() == ["FFHQ", "FFHQ", "StyleGAN2", "PGGAN"]
    assert t["split"].tolist() == ["unknown"] * 4 and t["synthetic"].tolist() == ["0", "0", "1", "1"]
    assert t["path"].tolist()[0] == str(folder / "images" / "FFHQ_000.jpg")
    assert listing.skips.counts["missing answer"] == 1 and listing.skips.counts["missing image"] == 1


def test_repeated_answers_bad_image_rows_and_unanswered_images_are_counted(tmp_path):
    img = IMG_CSV + "im-001;FFHQ;images/FFHQ_001.jpg;0\n" + ";FFHQ;images/FFHQ_001.jpg;0\n"  # lines 7, 8
    ans = ("subj_id;img_id;likert;resp_time;order\n"
           "s-001;im-001;1;1;1\ns-001;im-001;5;1;2\ns-002;im-003;2;1;1\n")  # line 3 repeats line 2
    listing = study_ratings_table(write_study(tmp_path / "study", img, ans))
    skips = listing.skips
    assert skips.examples["duplicate answer"] == ["ans.csv line 3: s-001 judged im-001 before"]
    assert sorted(skips.examples["bad image row"]) == ["img.csv line 7: im-001 listed before",
                                                       "img.csv line 8: img_id is empty"]
    assert skips.examples["image without answers"] == ["img.csv line 3: im-002 has no usable answer",
                                                       "img.csv line 5: im-004 has no usable answer"]
    assert listing.table["img_id"].tolist() == ["im-001", "im-003"] and listing.table["mean"].tolist() == [10.0, 8.5]


def test_read_ratings_detects_a_study_folder(tmp_path):
    folder = write_study(tmp_path / "study")
    assert is_study_folder(folder) and not is_study_folder(folder / "img.csv")
    listing = read_ratings(folder)
    pd.testing.assert_frame_equal(listing.table, study_ratings_table(folder).table)
    assert listing.skips.total == study_ratings_table(folder).skips.total
    (folder / "ans.csv").unlink()  # half a study: the error names the missing file
    with pytest.raises(DatasetFormatError) as err:
        read_ratings(folder)
    assert err.value.path == folder / "ans.csv"


# ----------------------------------------------------------------------------- split-half ceiling


def test_split_half_is_one_when_every_rater_of_an_image_agrees():
    rows = [{"participant": f"s-{r:03d}", "path": f"/img/{i}.jpg", "rating": 1.0 + i}
            for i in range(6) for r in range(10)]
    result = split_half_ceiling(pd.DataFrame(rows), n_splits=20, seed=1)
    assert result["spearman"] == pytest.approx(1.0) and result["pearson"] == pytest.approx(1.0)
    assert result["spearman_corrected"] == pytest.approx(1.0) and result["pearson_corrected"] == pytest.approx(1.0)
    assert result["n_images"] == 6 and result["n_splits"] == 20


def test_split_half_is_seeded_and_corrected_by_spearman_brown():
    rng = np.random.default_rng(0)
    rows = [{"participant": f"s-{r:03d}", "path": f"/img/{i}.jpg", "rating": float(i % 5 + rng.normal(0, 2))}
            for i in range(30) for r in range(12)]
    answers = pd.DataFrame(rows)
    a, b = split_half_ceiling(answers, n_splits=50, seed=3), split_half_ceiling(answers, n_splits=50, seed=3)
    assert a == b
    assert a != split_half_ceiling(answers, n_splits=50, seed=4)
    r = a["spearman"]
    assert 0 < r < 1 and a["spearman_corrected"] == pytest.approx(2 * r / (1 + r))
    assert a["pearson_corrected"] == pytest.approx(2 * a["pearson"] / (1 + a["pearson"]))


def test_split_half_says_how_firmly_people_order_the_sources_a_hand_worked_case():
    rows = [{"participant": f"s-{r}", "path": "/img/a.jpg", "source": "A", "rating": 1.0} for r in range(2)]
    rows += [{"participant": "s-0", "path": "/img/b.jpg", "source": "B", "rating": 4.0},
             {"participant": "s-1", "path": "/img/b.jpg", "source": "B", "rating": 6.0}]
    rows += [{"participant": f"s-{r}", "path": "/img/c.jpg", "source": "C", "rating": 5.0} for r in range(2)]
    result = split_half_ceiling(pd.DataFrame(rows), n_splits=10, seed=0)
    # B's halves are 4 and 6 on every split: both lie above A's 1, and C's 5 lies above only one of them
    assert result["source_order"] == ["A", "B", "C"]  # B and C tie at 5: names break the tie
    assert result["source_order_agreement"] == {"A < B": 1.0, "B < C": 0.0}
    assert result["source_order_all_agree"] == 0.0
    one_source = pd.DataFrame([{**row, "source": "A"} for row in rows])
    assert "source_order" not in split_half_ceiling(one_source, n_splits=10, seed=0)


# ----------------------------------------------------------------------------- eval-q on a study folder


def test_eval_q_on_a_study_folder_reports_the_people_ceiling_and_source_order(tmp_path):
    rows = ["img_id;ds;path;synthetic"]
    answers = ["subj_id;img_id;likert;resp_time;order"]
    names = []
    for i in range(8):
        ds = ("FFHQ", "PGGAN")[i % 2]
        names.append(f"{ds}_{i:03d}")
        rows.append(f"im-{i:03d};{ds};images/{ds}_{i:03d}.jpg;{i % 2}")
        for s in range(4):
            answers.append(f"s-{s:03d};im-{i:03d};{1 + (i + s) % 7};1000;{i}")
    folder = write_study(tmp_path / "study", "\n".join(rows) + "\n", "\n".join(answers) + "\n", images=names)
    result = CliRunner().invoke(main, ["eval-q", "--data", str(folder), "--out", str(tmp_path / "eval"),
                                       "--workers", "0", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval" / "q_eval.json").read_text())
    ceiling = report["human_ceiling"]
    assert ceiling["n_images"] == 8 and -1 <= ceiling["spearman"] <= 1
    assert "split-half ceiling" in result.output
    assert set(ceiling["source_order"]) == {"FFHQ", "PGGAN"} and "people's own order of the sources" in result.output
    assert {row["source"] for row in report["source_means"]} == {"FFHQ", "PGGAN"}
    assert isinstance(report["orders_sources_as_people"], bool)


# ----------------------------------------------------------------------------- the real study


def test_the_real_study_folder(shared_data):
    folder = shared_data / "human_realism"
    if not folder.is_dir():
        pytest.skip(f"no perception study at {folder}")
    answers = read_study_answers(folder)
    table = read_ratings(folder).table
    assert len(table) == 150
    assert 50 <= table["n_ratings"].mean() <= 65 and table["n_ratings"].min() >= 30  # measured: mean 56.9, min 36
    skips = answers.attrs["skips"]
    assert len(answers) + skips.total == 9486
    assert set(skips.counts) == {"excluded participant", "missing answer"}
    by_source = table.groupby("source")["mean"].mean()  # measured: StyleGAN2 6.90, FFHQ 5.98, StyleGAN 5.90, PGGAN 3.28
    assert by_source["StyleGAN2"] > by_source["FFHQ"] and by_source["StyleGAN"] > by_source["PGGAN"]
    assert by_source.idxmin() == "PGGAN"
    ceiling = split_half_ceiling(answers, n_splits=200, seed=0)
    # Measured: Spearman 0.885, Pearson 0.904 (Spearman-Brown 0.939, 0.949); seeds move them by ~0.002.
    assert 0.86 <= ceiling["spearman"] <= 0.91 and 0.88 <= ceiling["pearson"] <= 0.93
    assert 0.92 <= ceiling["spearman_corrected"] <= 0.96 and 0.93 <= ceiling["pearson_corrected"] <= 0.97
    # How firmly people order the sources: FFHQ above StyleGAN (5.98 against 5.90) is close to a coin flip
    assert ceiling["source_order"] == ["PGGAN", "StyleGAN", "FFHQ", "StyleGAN2"]
    agreement = ceiling["source_order_agreement"]
    assert agreement["PGGAN < StyleGAN"] == 1.0 and agreement["FFHQ < StyleGAN2"] == 1.0
    assert 0.3 <= agreement["StyleGAN < FFHQ"] <= 0.85  # measured: 0.70 (seeds move it by a few points)
