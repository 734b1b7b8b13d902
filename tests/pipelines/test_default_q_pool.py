"""The default Q's stage-1 pool: labels by kind and severity, seeded, resumable, splits by source face."""
from __future__ import annotations

import numpy as np
import pandas as pd

from augmenter.io import write_image_atomic
from pipelines.default_q.pool import GENERATOR_RATING, REAL_RATING, RENDER_RATING, PoolConfig, build_pool, failure_rating
from pipelines.default_q.run import DefaultQRecipe


def _faces(folder, n):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / f"f{i}.png"
        write_image_atomic(path, rng.integers(0, 255, (40, 40, 3), dtype=np.uint8))
        paths.append(path)
    return paths


def test_failure_ratings_fall_with_severity_from_the_real_photo_level():
    for mode in ("shading_mask", "tint", "teeth_bar", "tile_shuffle", "blur", "noise"):
        ratings = [failure_rating(mode, s) for s in (0.0, 0.3, 0.6, 1.0)]
        assert ratings[0] == REAL_RATING[0]
        assert ratings == sorted(ratings, reverse=True) and ratings[-1] < 3.5


def test_blur_curve_is_the_pools_setting_and_a_plain_blur_of_severity_0_3_rates_below_the_0_6_line():
    assert failure_rating("blur", 0.3, PoolConfig().curves()) < 6.0
    old = PoolConfig(blur_curve=(0.7, 1.6)).curves()
    assert failure_rating("blur", 0.3, old) > 6.0  # the curve of rounds 1-7 passed it
    assert old["noise"] == PoolConfig().curves()["noise"]


def test_pool_labels_every_kind_and_a_rebuild_is_identical(tmp_path):
    reals, renders = _faces(tmp_path / "real", 20), _faces(tmp_path / "render", 3)
    config = PoolConfig(per_real=2, generator_share=0.5, size=32, seed=3)
    csv = build_pool(reals, renders, tmp_path / "pool", config, log=lambda m: None)
    table = pd.read_csv(csv)
    counts = table["source"].value_counts()
    assert counts["real"] == 20 and counts["render"] == 3 and 0 < counts.get("generator", 0) < 20
    toned, reframed = counts.get("toned", 0), counts.get("reframed", 0)
    assert 0 < toned < 20 and 0 < reframed < 20
    assert len(table) == 20 + 40 + 3 + 3 + counts["generator"] + 2 * toned + 2 * reframed
    assert (table.loc[table.source.isin(["real", "toned", "reframed"]), "mean"] == REAL_RATING[0]).all()
    assert (table.loc[table.source == "render", "mean"] == RENDER_RATING[0]).all()
    assert (table.loc[table.source == "generator", "mean"] == GENERATOR_RATING[0]).all()
    damaged = table[~table.source.isin(["real", "render", "generator", "toned", "reframed"])]
    rendered = damaged.source.str.startswith("render_")
    assert (damaged.loc[~rendered, "mean"] < REAL_RATING[0]).all() and (~rendered).sum() == 40 + toned + reframed
    assert (damaged.loc[rendered, "mean"] < RENDER_RATING[0]).all() and rendered.sum() == 3
    # a toned photo is a grey photo with colour: same light, chroma added
    from augmenter.io import decode_image
    tone = decode_image(tmp_path / "pool" / table.loc[table.source == "toned", "image"].iloc[0])
    assert (tone.max(axis=2).astype(int) - tone.min(axis=2)).mean() > 3
    # a face and its variants never straddle train and val
    assert (table.groupby("group")["split"].nunique() == 1).all()
    first = {p: (tmp_path / "pool" / p).read_bytes() for p in table["image"]}
    again = pd.read_csv(build_pool(reals, renders, tmp_path / "pool2", config, log=lambda m: None))
    assert again["image"].tolist() == table["image"].tolist()
    assert all((tmp_path / "pool2" / p).read_bytes() == first[p] for p in again["image"])


def test_a_hard_generator_s_outputs_join_as_rated_negatives(tmp_path):
    from augmenter.gan.models import DEMO_LEGAN
    from pipelines.default_q.pool import HARD_RATING

    reals = _faces(tmp_path / "real", 12)
    config = PoolConfig(per_real=1, generator_share=0.0, toned_share=0.0, hard_share=0.5, size=32, seed=1)
    table = pd.read_csv(build_pool(reals, [], tmp_path / "pool", config, log=lambda m: None,
                                   hard_generator=str(DEMO_LEGAN)))
    hard = table[table.source == "hard"]
    assert 0 < len(hard) < 12 and (hard["mean"] == HARD_RATING[0]).all()
    assert all((tmp_path / "pool" / p).is_file() for p in hard["image"])


def test_unaligned_and_reframed_photos_are_real_each_with_a_failure_in_the_photo_s_group(tmp_path):
    from pipelines.default_q.pool import reframed

    aligned = _faces(tmp_path / "aligned" / "fer_train" / "happy", 6)
    raw = tmp_path / "raw" / "fer_train" / "happy"
    raw.mkdir(parents=True)
    unaligned = []
    for path in aligned:  # the dataset's own crop of the same photo: same file name, other folder
        (raw / path.name).write_bytes(path.read_bytes())
        unaligned.append(raw / path.name)
    config = PoolConfig(per_real=1, generator_share=0.0, toned_share=0.0, reframe_share=1.0, size=32, seed=2)
    table = pd.read_csv(build_pool(aligned, [], tmp_path / "pool", config, log=lambda m: None, unaligned=unaligned))
    for source in ("unaligned", "reframed"):
        photos = table[table.source == source]
        failures = table[table.source.str.startswith(source + "_")]
        assert len(photos) == 6 and len(failures) == 6
        assert (photos["mean"] == REAL_RATING[0]).all() and (failures["mean"] < REAL_RATING[0]).all()
        real_groups = set(table.loc[table.source == "real", "group"])
        assert set(photos["group"]) == real_groups == set(failures["group"])
    assert (table.groupby("group")["split"].nunique() == 1).all()
    face = np.arange(40 * 40 * 3, dtype=np.uint8).reshape(40, 40, 3)
    crop = reframed(face, np.random.default_rng(0))
    assert crop.shape == face.shape and not np.array_equal(crop, face)


def test_gaming_figures_and_the_held_out_pick():
    from pipelines.default_q.gaming import held_out_pick
    from pipelines.default_q.measure import against_sources

    figures = against_sources([0.7, 0.7, 0.5, 0.6], [0.65, 0.72, 0.4, 0.6])
    assert figures == {"below_source": 0.5, "median": 0.625, "share_at_least_q_min": 0.75}  # a tie is not below; 0.6 passes
    results = {"heldout_real": {"fer_val": [f"f{i}" for i in range(5)], "yaleb_heldout": ["y0", "y1"]}}
    pick = held_out_pick(results, n=4, seed=1)
    assert len(pick) == 4 and len(set(pick)) == 4 and set(pick) <= set(results["heldout_real"]["fer_val"] + ["y0", "y1"])
    assert pick == held_out_pick(results, n=4, seed=1) and held_out_pick(results, n=10) == ["f0", "f1", "f2", "f3", "f4", "y0", "y1"]


def test_train_default_q_cli_takes_the_pools_blur_curve_and_the_recipes_stage1_epochs_unless_given(monkeypatch):
    from click.testing import CliRunner

    from pipelines import cli

    seen = []

    def fake_run(recipe, work, log=print):
        seen.append((recipe.pool.blur_curve, recipe.stage1_epochs))
        raise SystemExit(0)

    monkeypatch.setattr("pipelines.default_q.run.train_default_q", fake_run)
    for args in ([], ["--blur-curve", "0.7", "1.6", "--stage1-epochs", "16"]):
        assert CliRunner().invoke(cli.train_default_q, ["--work", "unused"] + args).exit_code == 0
    assert seen == [(PoolConfig().blur_curve, DefaultQRecipe().stage1_epochs), ((0.7, 1.6), 16)]
