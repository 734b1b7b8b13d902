"""Choosing a stage-1 run of the default Q on the pool's validation split only."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.default_q.select import selection_score, selection_table


def test_selection_table_keeps_val_rows_of_aligned_faces_and_marks_the_real_photos():
    pool = pd.DataFrame({
        "source": ["real", "toned", "blur", "hard", "unaligned", "unaligned_warp", "reframed_seam", "render",
                   "render_blob", "real", "toned_tint"],
        "split": ["val"] * 9 + ["train", "val"]})
    table = selection_table(pool)
    assert table["source"].tolist() == ["real", "toned", "blur", "hard", "toned_tint"]
    assert table["real"].tolist() == [True, True, False, False, False]


def test_selection_score_is_the_mean_of_real_passes_and_damaged_rejections():
    ratings = np.array([7.0, 6.0, 5.9, 2.0, 6.1, 5.0, 3.0, 4.0])
    real = np.array([True, True, True, False, False, False, False, False])
    score = selection_score(ratings, real)
    assert score["real_pass"] == pytest.approx(2 / 3) and score["damaged_reject"] == pytest.approx(4 / 5)
    assert score["balanced"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert (score["n_real"], score["n_damaged"]) == (3, 5)
    # passing everything or rejecting everything scores one half, whatever the mix
    assert selection_score(np.full(8, 9.0), real)["balanced"] == 0.5
    assert selection_score(np.full(8, 1.0), real)["balanced"] == 0.5


def test_selection_score_refuses_a_table_without_both_kinds():
    with pytest.raises(ValueError, match="both real and damaged"):
        selection_score(np.array([7.0, 8.0]), np.array([True, True]))
