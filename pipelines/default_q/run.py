"""The default Q, rebuilt from ``../shared/data`` in one call: align, pool, two training stages, measure, export.

Stages (choices measured in the README's "Q" section):

1. **Pool** (:mod:`pipelines.default_q.pool`): aligned real photos (FER-2013 train, Extended Yale B
   training subjects), the same FER-2013 photos unaligned and a share re-cropped, and their graded failures, generator outputs and renders, with simulated ratings.
   Q learns what a broken face is. Each Yale B photo's rows are listed ``yaleb_repeat`` times
   (:mod:`pipelines.default_q.repeat`): with 1,200 FER-2013 photos a class, Yale B's 20 subjects are otherwise
   too small a share and the Q passes fewer lab photos.
   With ``hard_generator`` (a generator trained with the quality loss against an earlier Q), a share of the
   real faces translated by it joins the pool as rated negatives: the "hard to game" round.
2. **People** (the human-realism study, :func:`augmenter.quality.study.study_ratings_table`): Q is
   fine-tuned from stage 1 on the study's faces, each repeated ``human_repeat`` times (split between the
   framings of ``human_framing``), mixed with ``replay`` pool faces so it keeps what stage 1 taught. The
   margin of the loss is the standard error of each face's mean rating (``margin_scale`` x std, about
   std/sqrt(n)). Framings: ``aligned`` (the ArcFace crop users make with ``augment align``; rounds 1-9),
   ``whole`` (the image as the study shows it to people, resized whole: hair, ears and background
   included, which is also what ``augment eval-q`` on the study's folder scores), or ``both``.

Agreement with people is measured by 5-fold cross-validation by image (stratified by source): for each
fold, stage 2 starts again from stage 1 without that fold's faces and its *last* epoch scores them (no
epoch is chosen on them), in both framings whatever stage 2 trained on (``cv`` aligned, ``cv_whole``
whole). Stage 1 never sees a study face. The shipped Q is stage 2 on all faces.

Stage 1 may be trained with several seeds (``stage1_seeds``): rebuilds of one recipe differ by about ten
points in the real photos and variants they pass, so each run is scored on the pool's own ``val`` split
(aligned photos of training subjects and their damaged copies, never trained on) and the best balanced
accuracy at ``q_score`` 0.6 is kept (:mod:`pipelines.default_q.select`). No study face and no held-out
photo takes part in the choice. Off by default: it cannot see the holes a generator trained against the
Q finds, and round 11's kept run had them (docs/quality.md).

Held out from everything: FER-2013 validation and Extended Yale B subjects after the first
``yaleb_train_subjects``; real-photo scores and the failure-mode test use them.
"""
from __future__ import annotations

import json
import os
import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from augmenter.atomic import write_text_atomic
from augmenter.quality.train import QTrainConfig, train_q
from pipelines.default_q.pool import PoolConfig, build_pool
from pipelines.default_q.repeat import repeat_groups
from pipelines.default_q.select import selection_score, selection_table


@dataclass
class DefaultQRecipe:
    data: str = "../shared/data"
    image_size: int = 128
    base_width: int = 16
    fer_per_class: int = 1200         # FER-2013 train faces per class in the pool (rounds 1-13: 600)
    fer_val_per_class: int = 150      # FER-2013 validation faces per class, held out for measuring
    yaleb_train_subjects: int = 20    # the first N subjects train; the rest are held out
    yaleb_repeat: int = 2             # each Yale B training photo's pool rows listed N times in all (round 16)
    stage1_epochs: int = 8
    stage2_epochs: int = 6
    human_repeat: int = 8
    replay: int = 1500
    stage1_margin: float = 0.3
    stage2_margin: float = 0.15
    folds: int = 5
    seed: int = 0
    workers: int = 2
    hard_generator: tuple[str, ...] = ()  # generators trained against earlier Qs: their outputs are rated negatives
    unaligned: bool = True            # FER-2013 train photos as shipped (unaligned 48 px) join the pool as real
    pair_weight: float = 1.0          # a damaged copy is also asked to score below its own photo (round 6; 0: round 5)
    human_framing: str = "aligned"    # the study's faces in stage 2: "aligned" (rounds 1-9, 16), "whole" or "both" (docstring)
    stage1_seeds: tuple[int, ...] = ()  # several: one stage 1 per seed, the best on the pool's val split kept (docstring)
    pool: PoolConfig = field(default_factory=PoolConfig)


def _link_subset(src: Path, dst: Path, per_class: int, seed: int) -> Path:
    """``dst/<class>/<file>`` symlinks to a seeded subset of ``src/<class>/`` (a FER split folder)."""
    rng = random.Random(seed)
    for cls in sorted(os.listdir(src)):
        files = sorted(os.listdir(src / cls))
        rng.shuffle(files)
        (dst / cls).mkdir(parents=True, exist_ok=True)
        for name in files[:per_class]:
            link = dst / cls / name
            if not os.path.lexists(link):
                os.symlink(os.path.abspath(src / cls / name), link)
    return dst


def align_sources(recipe: DefaultQRecipe, work: Path, log=print) -> dict[str, Path]:
    """Aligned crops (``augment align``'s layout) of every source the recipe uses, cached under ``work``."""
    from augmenter.align_tree import AlignConfig, align_tree

    data = Path(recipe.data)
    raw = work / "raw"
    _link_subset(data / "fer2013" / "train", raw / "fer_train", recipe.fer_per_class, recipe.seed)
    _link_subset(data / "fer2013" / "validation", raw / "fer_val", recipe.fer_val_per_class, recipe.seed)
    sources = {"fer_train": raw / "fer_train", "fer_val": raw / "fer_val", "yaleb": data / "yaleb",
               "human": data / "human_realism" / "images"}
    aligned = {}
    for name, src in sources.items():
        dst = work / "aligned" / name
        config = AlignConfig(image_size=recipe.image_size, detect_pad=0.1 if name == "human" else 0.25)
        log(f"align {name}: {align_tree(src, dst, config).describe().splitlines()[0]}")
        aligned[name] = dst
    return aligned


def raw_files(folder: Path) -> list[Path]:
    """``folder/<class>/<file>`` (a linked FER split subset), sorted."""
    return sorted(p for p in folder.glob("*/*") if p.is_file())


def crops(folder: Path) -> list[Path]:
    """The crops ``augment align`` wrote under ``folder`` (its landmarks.csv order)."""
    table = pd.read_csv(folder / "landmarks.csv", keep_default_na=False)
    return [folder / p for p in table["out_path"] if p]


def yaleb_split(folder: Path, train_subjects: int) -> tuple[list[Path], list[Path]]:
    subjects = sorted({p.parent.name for p in crops(folder)})
    train = set(subjects[:train_subjects])
    paths = [p for p in crops(folder) if "Ambient" not in p.name]
    return [p for p in paths if p.parent.name in train], [p for p in paths if p.parent.name not in train]


def heldout_real(aligned: dict[str, Path], yale_heldout: list[Path], work: Path) -> dict[str, list[str]]:
    """``results.json``'s ``heldout_real``: the aligned FER-2013 validation crops, the held-out Yale B subjects'
    crops and the linked unaligned FER-2013 validation files, as path strings."""
    held = {"fer_val": crops(aligned["fer_val"]), "yaleb_heldout": yale_heldout,
            "fer_val_unaligned": raw_files(work / "raw" / "fer_val")}
    return {k: [str(p) for p in v] for k, v in held.items()}


FRAMINGS = {"aligned": ("path",), "whole": ("whole",), "both": ("path", "whole")}


def human_table(recipe: DefaultQRecipe, aligned: Path) -> pd.DataFrame:
    """The study's faces with people's mean and std, ``path`` pointing at the aligned crop and ``whole`` at
    the study's own image; a ``fold`` column (stratified by source, seeded)."""
    from augmenter.quality.ratings import read_ratings

    table = read_ratings(Path(recipe.data) / "human_realism").table.copy()
    table["whole"] = [os.path.abspath(p) for p in table["path"]]
    table["path"] = [str(aligned / Path(p).name) for p in table["path"]]
    table = table[[Path(p).is_file() for p in table["path"]]].reset_index(drop=True)
    rng = np.random.default_rng(recipe.seed)
    table["fold"] = -1
    for _, index in sorted(table.groupby("source").groups.items()):
        order = rng.permutation(np.asarray(index))
        table.loc[order, "fold"] = np.arange(len(order)) % recipe.folds
    return table


def _replicas(table: pd.DataFrame, folder: Path, repeat: int) -> pd.DataFrame:
    """``table`` repeated ``repeat`` times through symlinks (a ratings table lists each file once)."""
    copies = []
    for k in range(repeat):
        copy = table.copy()
        links = []
        for p in copy["path"]:
            link = folder / str(k) / Path(p).name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(link):
                os.symlink(os.path.abspath(p), link)
            links.append(str(link))
        copy["path"] = links
        copies.append(copy)
    return pd.concat(copies, ignore_index=True)


def stage2_table(humans: pd.DataFrame, pool: pd.DataFrame, recipe: DefaultQRecipe, folder: Path) -> Path:
    """The fine-tuning table: ``humans`` repeated in the recipe's framings (``human_repeat`` copies a face in
    all) + ``replay`` pool training faces (train split), and a validation split of pool validation faces only
    (the people's faces are never used to pick a model)."""
    rng = np.random.default_rng(recipe.seed)
    train_pool = pool[pool["split"] == "train"]
    replay = train_pool.iloc[rng.permutation(len(train_pool))[:recipe.replay]]
    val_pool = pool[pool["split"] == "val"]
    val = val_pool.iloc[rng.permutation(len(val_pool))[:500]].assign(split="val")
    columns = FRAMINGS[recipe.human_framing]
    repeat = max(1, recipe.human_repeat // len(columns))
    people = pd.concat([_replicas(humans[[column, "mean", "std", "source"]].rename(columns={column: "path"}),
                                  folder / "links" / column, repeat) for column in columns], ignore_index=True)
    table = pd.concat([people.assign(split="train"), replay.assign(split="train")[people.columns.tolist() + ["split"]],
                       val[people.columns.tolist() + ["split"]]], ignore_index=True)
    table["path"] = [os.path.abspath(p) for p in table["path"]]  # a ratings table's paths resolve from its folder
    csv = folder / "ratings.csv"
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv, index=False)
    return csv


def _train(recipe: DefaultQRecipe, data: Path, out: Path, epochs: int, margin: float, init: Path | None,
           lr: float) -> Path:
    config = QTrainConfig(data=str(data), out=str(out), image_size=recipe.image_size, base_width=recipe.base_width,
                          epochs=epochs, margin_scale=margin, lr=lr, seed=recipe.seed, workers=recipe.workers,
                          device="cpu", init=None if init is None else str(init), pair_weight=recipe.pair_weight)
    train_q(config)
    return out / "last.pt"


def predict(checkpoint: Path, paths: list[Path]) -> np.ndarray:
    from augmenter.quality.model import load_q
    from augmenter.quality.score import predict_ratings

    net, _ = load_q(checkpoint, "cpu")
    ratings, _ = predict_ratings(net, [str(p) for p in paths], batch_size=128, workers=0)
    return ratings


def train_default_q(recipe: DefaultQRecipe, work: Path, log=print) -> dict:
    """Every stage; returns (and writes to ``work/results.json``) the measured figures."""
    work.mkdir(parents=True, exist_ok=True)
    write_text_atomic(work / "recipe.json", json.dumps(asdict(recipe), indent=2))
    aligned = align_sources(recipe, work, log)
    yale_train, yale_heldout = yaleb_split(aligned["yaleb"], recipe.yaleb_train_subjects)
    from augmenter.sample.tree import SampleConfig, render_sample
    from augmenter.datasets.registry import read_dataset

    render_sample(work / "sample", SampleConfig(identities=4, size=recipe.image_size))
    renders = [r.path for r in read_dataset("sample", work / "sample").records][::2]
    pool_config = recipe.pool
    if recipe.hard_generator and pool_config.hard_share == 0:
        pool_config = PoolConfig(**{**asdict(pool_config), "hard_share": 0.35})
    unaligned = raw_files(work / "raw" / "fer_train") if recipe.unaligned else []
    pool_csv = build_pool(crops(aligned["fer_train"]) + yale_train, renders, work / "pool", pool_config, log=log,
                          hard_generator=list(recipe.hard_generator), unaligned=unaligned)
    pool_csv = repeat_groups(pool_csv, yale_train, recipe.yaleb_repeat)
    pool = pd.read_csv(pool_csv)
    pool["path"] = [str((work / "pool" / p)) if not os.path.isabs(p) else p for p in pool["image"]]

    stage1, selection = train_stage1(recipe, pool_csv, pool, work, log)
    # a framing of its own folder: rerunning an earlier round's work folder must not resume its stage-2 runs
    stage2 = work / ("stage2" if recipe.human_framing == "aligned" else f"stage2_{recipe.human_framing}")
    humans = cross_validate(recipe, pool, stage1, aligned["human"], stage2, log)
    humans.to_csv(stage2 / "human_cv.csv", index=False)

    final_csv = stage2_table(humans, pool, recipe, stage2 / "all")
    final = _train(recipe, final_csv, stage2 / "all" / "run", recipe.stage2_epochs, recipe.stage2_margin, stage1, 1e-4)
    results = {**{name: agreement(humans, column) for name, column in AGREEMENTS.items()},
               "final": str(final), "stage1": str(stage1), "stage1_selection": selection,
               "heldout_real": heldout_real(aligned, yale_heldout, work)}
    write_text_atomic(work / "results.json", json.dumps(results, indent=2, default=str))
    return results


AGREEMENTS = {"cv": "cv_prediction", "cv_whole": "cv_prediction_whole",
              "stage1_only": "stage1_prediction", "stage1_only_whole": "stage1_prediction_whole"}


def train_stage1(recipe: DefaultQRecipe, pool_csv: Path, pool: pd.DataFrame, work: Path,
                 log=print) -> tuple[Path, dict]:
    """Stage 1 on the pool, once per seed of ``recipe.stage1_seeds`` (empty: ``recipe.seed`` alone); with
    several, each run is scored on the pool's ``val`` rows (:mod:`pipelines.default_q.select`) and the best
    balanced accuracy is kept. Returns the kept checkpoint and every run's score (empty with one seed)."""
    seeds = tuple(recipe.stage1_seeds) or (recipe.seed,)
    runs = {seed: _train(replace(recipe, seed=seed), pool_csv, work / ("stage1" if i == 0 else f"stage1_seed{seed}"),
                         recipe.stage1_epochs, recipe.stage1_margin, None, 3e-4) for i, seed in enumerate(seeds)}
    if len(runs) == 1:
        return runs[seeds[0]], {}
    table = selection_table(pool)
    scores = {seed: selection_score(predict(ckpt, table["path"].tolist()), table["real"].to_numpy())
              for seed, ckpt in runs.items()}
    best = max(seeds, key=lambda seed: scores[seed]["balanced"])  # ties: the earlier seed
    for seed in seeds:
        log(f"stage 1 seed {seed}: real photos passing {scores[seed]['real_pass']:.1%}, damaged rejected "
            f"{scores[seed]['damaged_reject']:.1%} on the pool's val split" + (" (kept)" if seed == best else ""))
    return runs[best], {"kept": best, "scores": {str(seed): score for seed, score in scores.items()}}


def cross_validate(recipe: DefaultQRecipe, pool: pd.DataFrame, stage1: Path, aligned_humans: Path, folder: Path,
                   log=print) -> pd.DataFrame:
    """:func:`human_table` with each face's prediction by the stage 2 that never saw it (``cv_prediction``
    on the aligned crop, ``cv_prediction_whole`` on the study's image) and by stage 1 alone."""
    humans = human_table(recipe, aligned_humans)
    for column in AGREEMENTS.values():
        humans[column] = np.nan
    for fold in range(recipe.folds):
        fold_folder = folder / f"fold{fold}"
        csv = stage2_table(humans[humans["fold"] != fold], pool, recipe, fold_folder)
        last = _train(recipe, csv, fold_folder / "run", recipe.stage2_epochs, recipe.stage2_margin, stage1, 1e-4)
        held = humans["fold"] == fold
        for framing, column in (("path", "cv_prediction"), ("whole", "cv_prediction_whole")):
            humans.loc[held, column] = predict(last, humans.loc[held, framing].tolist())
        log(f"fold {fold}: scored {int(held.sum())} held-out faces")
    humans["stage1_prediction"] = predict(stage1, humans["path"].tolist())
    humans["stage1_prediction_whole"] = predict(stage1, humans["whole"].tolist())
    return humans


def agreement(humans: pd.DataFrame, column: str) -> dict:
    from scipy.stats import kendalltau, pearsonr, spearmanr

    from augmenter.quality.metrics import source_split

    pred, mean = humans[column].to_numpy(), humans["mean"].to_numpy()
    by_source = humans.groupby("source").agg(people=("mean", "mean"), q=(column, "mean"))
    return {"srocc": float(spearmanr(pred, mean).correlation), "plcc": float(pearsonr(pred, mean)[0]),
            "krocc": float(kendalltau(pred, mean).correlation),
            "by_source": by_source.round(3).to_dict(orient="index"),
            "source_order_people": by_source["people"].sort_values().index.tolist(),
            "source_order_q": by_source["q"].sort_values().index.tolist(),
            **source_split(pred, mean, humans["source"].tolist())}
