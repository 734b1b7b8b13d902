"""Listing part of the default Q's pool more than once (round 16: Yale B's photos twice)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from augmenter.io import write_image_atomic
from augmenter.quality.ratings import read_ratings
from pipelines.default_q.pool import PoolConfig, build_pool, photo_group
from pipelines.default_q.repeat import repeat_groups


@pytest.fixture
def pool(tmp_path):
    rng = np.random.default_rng(0)
    reals = []
    for subset in ("fer", "yale"):
        for i in range(4):
            path = tmp_path / subset / f"{subset}{i}.png"
            write_image_atomic(path, rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
            reals.append(path)
    config = PoolConfig(per_real=2, generator_share=0.0, toned_share=0.5, reframe_share=0.5, size=32, seed=1)
    return build_pool(reals, [], tmp_path / "pool", config, log=lambda m: None), reals[4:]


def test_repeat_lists_every_row_of_the_chosen_photos_again_under_paths_and_groups_of_its_own(pool):
    csv, yale = pool
    base = pd.read_csv(csv, keep_default_na=False)
    chosen = base[base["group"].isin({photo_group(p) for p in yale})]
    assert len(chosen) >= 4 * 3  # each photo: clean + 2 failures (+ toned / re-framed copies)

    out = repeat_groups(csv, yale, 3)
    table = pd.read_csv(out, keep_default_na=False)
    assert out != csv and len(table) == len(base) + 2 * len(chosen)
    assert table.iloc[:len(base)].equals(base)  # the pool first, untouched, in its order
    for k, part in enumerate((table.iloc[len(base) + i * len(chosen):][:len(chosen)] for i in range(2)), start=1):
        assert part["group"].tolist() == [g + f"r{k}" for g in chosen["group"]]
        assert part[["mean", "std", "source", "split"]].reset_index(drop=True).equals(
            chosen[["mean", "std", "source", "split"]].reset_index(drop=True))
        for copy, original in zip(part["image"], chosen["image"]):
            assert copy == f"repeat{k}/{original}"
            assert (csv.parent / copy).read_bytes() == (csv.parent / original).read_bytes()
    listing = read_ratings(out)  # the reader drops a path listed twice: every copy must survive it
    assert len(listing.table) == len(table) and listing.skips.total == 0
    assert repeat_groups(csv, yale, 3).read_text() == out.read_text()  # a rerun writes the same table


def test_repeat_once_is_the_pool_itself_and_fewer_is_refused(pool):
    csv, yale = pool
    assert repeat_groups(csv, yale, 1) == csv
    with pytest.raises(ValueError, match="at least 1"):
        repeat_groups(csv, yale, 0)
