"""The default Q's stage-1 pool: labels by kind and severity, seeded, resumable, splits by source face."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from augmenter.io import write_image_atomic
from pipelines.default_q.pool import GENERATOR_RATING, REAL_RATING, RENDER_RATING, PoolConfig, build_pool, failure_rating
from pathlib import Path

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


def test_faint_geometry_adds_seams_and_warps_of_each_photo_and_leaves_the_rest_of_the_pool_as_it_was(tmp_path):
    """Also with ``faint_modes=("seam",)``: the same faint seams, no faint warps, the rest unchanged."""
    from pipelines.default_q.pool import FAINT_SEVERITY

    reals = _faces(tmp_path / "real", 6)
    config = PoolConfig(per_real=1, generator_share=0.0, toned_share=0.0, reframe_share=0.0, size=32, seed=4)
    plain = pd.read_csv(build_pool(reals, [], tmp_path / "plain", config, log=lambda m: None))
    faint_config = PoolConfig(**{**config.__dict__, "faint_geometry": 2, "faint_std": 8.0})
    table = pd.read_csv(build_pool(reals, [], tmp_path / "faint", faint_config, log=lambda m: None))
    extra = table[table["image"].str.startswith("images/faint_")]
    assert len(table) == len(plain) + 6 * 2 * 2 and len(extra) == 24
    assert sorted(extra["source"].value_counts().items()) == [("seam", 12), ("warp", 12)]
    assert extra["severity"].between(*FAINT_SEVERITY).all() and (extra["std"] == 8.0).all()
    assert all(m == pytest.approx(failure_rating(s, v, faint_config.curves()), abs=0.01) for s, v, m in
               zip(extra["source"], extra["severity"], extra["mean"])) and (extra["mean"] < REAL_RATING[0]).all()
    real_groups = table.loc[table.source == "real", "group"]
    assert (extra.groupby("group").size() == 4).all() and set(extra["group"]) == set(real_groups)
    for path in extra["image"]:  # damaged, not a copy of the photo
        group = Path(path).stem.rsplit("_", 1)[0]
        photo = (tmp_path / "faint" / "images" / "real" / f"{group}.png").read_bytes()
        assert (tmp_path / "faint" / path).read_bytes() != photo
    rest = table[~table.index.isin(extra.index)].reset_index(drop=True)
    assert rest[["image", "mean", "source", "group", "severity"]].equals(plain[["image", "mean", "source", "group", "severity"]])
    assert all((tmp_path / "faint" / p).read_bytes() == (tmp_path / "plain" / p).read_bytes() for p in rest["image"])
    seams_config = PoolConfig(**{**faint_config.__dict__, "faint_modes": ("seam",)})
    seams = pd.read_csv(build_pool(reals, [], tmp_path / "seams", seams_config, log=lambda m: None))
    only = seams[seams["image"].str.startswith("images/faint_")]
    assert sorted(only["source"].value_counts().items()) == [("seam", 12)]  # round 20: seams alone
    assert seams[~seams.index.isin(only.index)].reset_index(drop=True).equals(rest)
    assert all((tmp_path / "seams" / p).read_bytes() == (tmp_path / "faint" / p).read_bytes() for p in only["image"])


def _framed_face(size=64):
    """A textured photo in the middle of an aligned crop, the rest the aligner's black padding."""
    rng = np.random.default_rng(0)
    face = np.zeros((size, size, 3), np.uint8)
    face[16:48, 20:44] = rng.integers(30, 220, (32, 24, 3), dtype=np.uint8)
    return face


def test_padding_mask_is_the_black_border_region_not_dark_pixels_inside_the_photo():
    from pipelines.default_q.pool import padding_mask

    face = _framed_face()
    face[30:33, 30:33] = 0  # a black spot inside the photo (a pupil, a shadow) is not padding
    mask = padding_mask(face)
    expected = np.ones((64, 64), bool)
    expected[16:48, 20:44] = False
    assert np.array_equal(mask, expected)
    assert not padding_mask(np.full((64, 64, 3), 90, np.uint8)).any()
    corner = np.full((64, 64, 3), 90, np.uint8)
    corner[:2, :2] = 0  # 4 pixels: under least_share of the crop, a dark corner of the photo, not padding
    assert not padding_mask(corner).any()


def test_pool_seams_keep_the_padding_black_only_when_asked_and_other_modes_are_unchanged():
    from pipelines.default_q.pool import damage, pool_damage

    face = _framed_face()
    pad = ~np.pad(np.ones((32, 24), bool), ((16, 16), (20, 20)))
    plain = pool_damage(face, "seam", 0.6, np.random.default_rng(3))
    assert np.array_equal(plain, damage(face, "seam", 0.6, np.random.default_rng(3)))
    assert plain[pad].any()  # a seam across the crop lifts (or shifts photo into) the padding
    kept = pool_damage(face, "seam", 0.6, np.random.default_rng(3), seams_keep_padding=True)
    assert not kept[pad].any() and np.array_equal(kept[~pad], plain[~pad])  # the photo's part is the same seam
    assert not np.array_equal(kept, face)
    for mode in ("warp", "tint"):
        assert np.array_equal(pool_damage(face, mode, 0.6, np.random.default_rng(3), seams_keep_padding=True),
                              damage(face, mode, 0.6, np.random.default_rng(3)))


def test_a_pool_with_seams_keeping_the_padding_differs_only_in_its_seams(tmp_path):
    reals = [tmp_path / f"f{i}.png" for i in range(8)]
    for i, path in enumerate(reals):
        write_image_atomic(path, np.roll(_framed_face(), 3 * i, axis=1))
    config = PoolConfig(per_real=2, generator_share=0.0, toned_share=0.0, reframe_share=1.0, faint_geometry=1,
                        faint_modes=("seam",), size=64, seed=5)
    plain = pd.read_csv(build_pool(reals, [], tmp_path / "plain", config, log=lambda m: None))
    kept_config = PoolConfig(**{**config.__dict__, "seams_keep_padding": True})
    kept = pd.read_csv(build_pool(reals, [], tmp_path / "kept", kept_config, log=lambda m: None))
    assert kept.equals(plain)  # same rows, labels and severities
    seams = plain["source"].str.endswith("seam")
    assert seams.sum() >= 8
    from augmenter.io import decode_image
    from pipelines.default_q.pool import padding_mask

    same = [(tmp_path / "kept" / p).read_bytes() == (tmp_path / "plain" / p).read_bytes() for p in plain["image"]]
    assert all(s for s, seam in zip(same, seams) if not seam) and not all(s for s, seam in zip(same, seams) if seam)
    of_photo = seams & (plain["source"] == "seam")  # seams of the aligned photo itself (uniform and faint draws)
    assert of_photo.sum() >= 8
    for path, group in zip(plain.loc[of_photo, "image"], plain.loc[of_photo, "group"]):
        pad = padding_mask(decode_image(tmp_path / "kept" / "images" / "real" / f"{group}.png"))
        kept_seam, plain_seam = decode_image(tmp_path / "kept" / path), decode_image(tmp_path / "plain" / path)
        assert np.array_equal(kept_seam[~pad], plain_seam[~pad])  # the same seam through the photo
        assert not kept_seam[pad].any()  # black padding (a darkening seam may have left it black anyway)


def test_gaming_figures_and_the_held_out_pick():
    from pipelines.default_q.gaming import held_out_pick
    from pipelines.default_q.measure import against_sources

    figures = against_sources([0.7, 0.7, 0.5, 0.6], [0.65, 0.72, 0.4, 0.6])
    assert figures == {"below_source": 0.5, "median": 0.625, "share_at_least_q_min": 0.75}  # a tie is not below; 0.6 passes
    results = {"heldout_real": {"fer_val": [f"f{i}" for i in range(5)], "yaleb_heldout": ["y0", "y1"]}}
    pick = held_out_pick(results, n=4, seed=1)
    assert len(pick) == 4 and len(set(pick)) == 4 and set(pick) <= set(results["heldout_real"]["fer_val"] + ["y0", "y1"])
    assert pick == held_out_pick(results, n=4, seed=1) and held_out_pick(results, n=10) == ["f0", "f1", "f2", "f3", "f4", "y0", "y1"]


def test_train_default_q_cli_takes_the_recipes_settings_unless_given(monkeypatch):
    from click.testing import CliRunner

    from pipelines import cli

    seen = []

    def fake_run(recipe, work, log=print):
        seen.append((recipe.pool.blur_curve, recipe.stage1_epochs, recipe.human_framing, recipe.stage1_seeds,
                     recipe.fer_per_class, recipe.yaleb_repeat, recipe.pool.faint_geometry,
                     recipe.pool.faint_std, recipe.pool.faint_modes, recipe.pool.seams_keep_padding))
        raise SystemExit(0)

    monkeypatch.setattr("pipelines.default_q.run.train_default_q", fake_run)
    for args in ([], ["--blur-curve", "0.7", "1.6", "--stage1-epochs", "16", "--human-framing", "whole",
                      "--stage1-seeds", "3", "--fer-per-class", "300", "--yaleb-repeat", "3", "--faint-geometry", "2",
                      "--faint-std", "8", "--faint-mode", "seam", "--faint-mode", "seam", "--seams-keep-padding", "--seed", "4"], ["--seed", "2"]):
        assert CliRunner().invoke(cli.train_default_q, ["--work", "unused"] + args).exit_code == 0
    recipe = DefaultQRecipe()
    faint = recipe.pool.faint_geometry, recipe.pool.faint_std, recipe.pool.faint_modes, recipe.pool.seams_keep_padding
    assert seen == [(PoolConfig().blur_curve, recipe.stage1_epochs, recipe.human_framing, recipe.stage1_seeds,
                     recipe.fer_per_class, recipe.yaleb_repeat, *faint),
                    ((0.7, 1.6), 16, "whole", (4, 5, 6), 300, 3, 2, 8.0, ("seam",), True),
                    (PoolConfig().blur_curve, recipe.stage1_epochs, recipe.human_framing, (), recipe.fer_per_class,
                     recipe.yaleb_repeat, *faint)]
    bad = CliRunner().invoke(cli.train_default_q, ["--work", "unused", "--stage1-seeds", "0,0"])
    assert bad.exit_code == 2 and "--stage1-seeds" in bad.output


def test_train_stage1_keeps_the_seed_that_separates_the_pools_val_photos_best(tmp_path, monkeypatch):
    from pipelines.default_q import run

    trained = []

    def fake_train(recipe, data, out, epochs, margin, init, lr):
        trained.append((recipe.seed, out.name))
        return out / "last.pt"

    quality = {"stage1": 6.5, "stage1_seed1": 9.0, "stage1_seed2": 6.5}  # seed 1 passes the damaged copy too

    def fake_predict(checkpoint, paths):
        return np.array([quality[checkpoint.parent.name] - (2.0 if "blur" in p else 0.0) for p in paths])

    monkeypatch.setattr(run, "_train", fake_train)
    monkeypatch.setattr(run, "predict", fake_predict)
    pool = pd.DataFrame({"path": ["real.png", "blur.png", "t.png"], "source": ["real", "blur", "real"],
                         "split": ["val", "val", "train"]})
    recipe = DefaultQRecipe(stage1_seeds=(0, 1, 2), seed=7)
    kept, selection = run.train_stage1(recipe, tmp_path / "pool.csv", pool, tmp_path, log=lambda _: None)
    assert trained == [(0, "stage1"), (1, "stage1_seed1"), (2, "stage1_seed2")]
    assert kept == tmp_path / "stage1" / "last.pt" and selection["kept"] == 0  # a tie with seed 2: the earlier
    assert selection["scores"]["1"]["balanced"] == 0.5 and selection["scores"]["0"]["balanced"] == 1.0
    trained.clear()
    kept, selection = run.train_stage1(DefaultQRecipe(seed=7, stage1_seeds=()), tmp_path / "pool.csv", pool, tmp_path)
    assert trained == [(7, "stage1")] and selection == {}


@pytest.mark.parametrize("framing, per_framing", [("aligned", {"aligned": 4}), ("whole", {"whole": 4}),
                                                   ("both", {"aligned": 2, "whole": 2})])
def test_stage2_table_repeats_the_study_faces_in_the_recipes_framings_with_the_same_weight_in_all(
        tmp_path, framing, per_framing):
    from pipelines.default_q.run import human_table, stage2_table
    from tests.quality.test_study import write_study

    write_study(tmp_path / "human_realism")
    aligned = tmp_path / "aligned"
    aligned.mkdir()
    for name in ("FFHQ_000", "FFHQ_001", "StyleGAN2_000", "PGGAN_000"):
        (aligned / f"{name}.jpg").write_bytes((tmp_path / "human_realism" / "images" / f"{name}.jpg").read_bytes())
    recipe = DefaultQRecipe(data=str(tmp_path), human_repeat=4, replay=3, folds=2, human_framing=framing)
    humans = human_table(recipe, aligned)
    assert len(humans) == 4 and sorted(humans["fold"]) == [0, 0, 0, 1]  # by source: FFHQ's two faces split
    assert all(Path(p).parent == aligned for p in humans["path"])
    assert all(Path(p).parent.name == "images" and Path(p).is_absolute() for p in humans["whole"])
    pool = pd.DataFrame({"path": [str(tmp_path / f"pool{i}.png") for i in range(8)], "mean": 7.0, "std": 0.0,
                         "source": "real", "split": ["train"] * 5 + ["val"] * 3})
    table = pd.read_csv(stage2_table(humans, pool, recipe, tmp_path / "stage2"))
    people = table[table["source"] != "real"]
    assert (people["split"] == "train").all() and (table[table["split"] == "val"]["source"] == "real").all()
    targets = {"aligned": aligned, "whole": tmp_path / "human_realism" / "images"}
    counted = {name: sum(Path(os.path.realpath(p)).parent == folder.resolve() for p in people["path"])
               for name, folder in targets.items()}
    assert counted == {name: per_framing.get(name, 0) * len(humans) for name in targets}
    assert len(table[(table["source"] == "real") & (table["split"] == "train")]) == 3


def test_cross_validate_scores_each_face_in_both_framings_by_the_fold_that_never_saw_it(tmp_path, monkeypatch):
    from pipelines.default_q import run
    from tests.quality.test_study import write_study

    write_study(tmp_path / "human_realism")
    aligned = tmp_path / "aligned"
    aligned.mkdir()
    for name in ("FFHQ_000", "FFHQ_001", "StyleGAN2_000", "PGGAN_000"):
        (aligned / f"{name}.jpg").write_bytes(b"")
    trained = {}

    def fake_train(recipe, data, out, epochs, margin, init, lr):
        table = pd.read_csv(data)
        trained[out.parent.name] = {Path(os.path.realpath(p)).name for p in table["path"]}
        return out / "last.pt"

    def fake_predict(checkpoint, paths):  # the aligned crop scores 1, the whole image 2; stage 1 adds 10
        return np.array([(10 if checkpoint.name == "stage1.pt" else 0) + (2 if "human_realism" in str(p) else 1)
                         for p in paths], float)

    monkeypatch.setattr(run, "_train", fake_train)
    monkeypatch.setattr(run, "predict", fake_predict)
    pool = pd.DataFrame({"path": [str(tmp_path / "pool0.png")], "mean": 7.0, "std": 0.0, "source": "real",
                         "split": ["train"]})
    recipe = DefaultQRecipe(data=str(tmp_path), human_repeat=2, replay=1, folds=2, human_framing="both")
    humans = run.cross_validate(recipe, pool, tmp_path / "stage1.pt", aligned, tmp_path / "stage2", log=lambda _: None)
    assert humans["cv_prediction"].tolist() == [1.0] * 4 and humans["cv_prediction_whole"].tolist() == [2.0] * 4
    assert humans["stage1_prediction"].tolist() == [11.0] * 4 and humans["stage1_prediction_whole"].tolist() == [12.0] * 4
    for fold in (0, 1):
        held = {Path(p).name for p in humans.loc[humans["fold"] == fold, "path"]}
        seen = {Path(p).name for p in humans.loc[humans["fold"] != fold, "path"]}
        assert not held & trained[f"fold{fold}"] and seen <= trained[f"fold{fold}"]


def test_seam_probe_detectors_train_and_give_a_probability_per_face():
    from pipelines.default_q.seam_probe import CnnDetector, LineDetector, seam_probability, train_detector

    faces = np.random.default_rng(0).integers(0, 256, (4, 128, 128, 3), dtype=np.uint8)
    for arch, cls in (("cnn", CnnDetector), ("line", LineDetector)):
        net = train_detector(faces, arch, 2, np.random.default_rng(1), batch=2, log=lambda m: None)
        assert isinstance(net, cls) and not net.training
        p = seam_probability(net, faces)
        assert p.shape == (4,) and ((p > 0) & (p < 1)).all()
        again = seam_probability(train_detector(faces, arch, 2, np.random.default_rng(1), batch=2, log=lambda m: None), faces)
        assert np.allclose(p, again)  # seeded: the same draws and starting weights


def test_near_frontal_keeps_yale_b_lights_within_35_degrees_of_the_camera():
    from pipelines.default_q.measure import near_frontal

    names = ["s/yaleB22_P00A+000E+00.png", "s/yaleB22_P00A+035E+15.png", "s/yaleB22_P00A+025E+20.png",
             "s/yaleB22_P00A-070E+00.png", "s/yaleB22_P00_Ambient.png"]
    assert near_frontal(names) == [names[0], names[2]]  # 35°/15° is 37.9° off axis; no light: left out
    assert near_frontal(names, 40) == names[:3]
