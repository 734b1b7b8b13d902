"""Entry points of the pipelines package (rebalance-affectnet, the demo)."""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.attributes import RELIGHT_STYLES
from augmenter.cli_util import make_bar, make_config, one_line_errors, progress_bar



@click.command("rebalance-affectnet", context_settings={"help_option_names": ["-h", "--help"]},
               epilog="Example: rebalance-affectnet --dataset fer2013 --root data/fer2013 --legan runs/legan/last.pt "
                      "--q runs/q/best.pt --expression-model runs/fer/best.pt --out runs/rebal --train")
@click.option("--dataset", type=click.Choice(["affectnet", "fer2013", "folder", "class-folder", "sample"]),
              default="affectnet", show_default=True)
@click.option("--root", required=True, help="The dataset's folder (AffectNet: the folder of training.csv and the crops).")
@click.option("--csv", default=None, help="AffectNet's training CSV when it is not ROOT/training.csv.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (rerun to resume).")
@click.option("--target", default="uniform", show_default=True,
              help="uniform (= max) | mean | N | name=N,name=N: the count every class is brought up to.")
@click.option("--legan", default=None, help="Generator checkpoint (default: the built-in field generator; 'demo': the demo LEGAN).")
@click.option("--q", default=None, help="Q checkpoint (default: the built-in default Q).")
@click.option("--tear-check", default=None,
              help="Check of each synthetic face against its source (default: the built-in one; 'none': Q alone).")
@click.option("--q-min", default=0.6, show_default=True, help="Keep a synthetic face when its q_score is at least this.")
@click.option("--expression-model", default=None, help="train-expression checkpoint that judges each synthetic face.")
@click.option("--verify-expression/--no-verify-expression", default=None,
              help="Keep only faces the expression model calls the target (default: on when --expression-model is given).")
@click.option("--budget", default=4.0, show_default=True, help="At most this many attempts per needed face, per class.")
@click.option("--edit", type=click.Choice(["lighting", "expression"]), default="lighting", show_default=True,
              help="lighting: the class's own faces under new lights, expression kept (labels stay right; measured "
                   "the better of the two); expression: other classes' faces translated to the class's expression "
                   "(the paper's).")
@click.option("--lights", default=None,
              help="--edit lighting: comma-separated lights (default: those within 70° of azimuth, not from below, "
                   "frontal left out).")
@click.option("--sources", default=None,
              help="--edit expression: comma-separated classes whose training faces are translated, e.g. neutral "
                   "(default: every other class).")
@click.option("--max-uses", default=3, show_default=True,
              help="Times one source image may be translated (--edit expression; lighting gives each light once).")
@click.option("--batch-size", default=64, show_default=True)
@click.option("--seed", default=0, show_default=True, help="Seed of the synthesis (and the first seed of --seeds N).")
@click.option("--device", default="auto", show_default=True)
@click.option("--train", is_flag=True,
              help="Then train classifiers and compare: none, sampler and synthetic+sampler (the rebalanced data).")
@click.option("--also", default="", help="Further remedies to compare with --train, e.g. synthetic,reweight.")
@click.option("--synthetic-share", default=0.25, show_default=True, type=click.FloatRange(0, 1),
              help="--train, synthetic+sampler: the synthetic faces' share of each class's draws.")
@click.option("--epochs", default=12, show_default=True, help="Epochs of each --train run (same budget for every run).")
@click.option("--epoch", "epoch_choice", type=click.Choice(["last", "best"]), default="last", show_default=True,
              help="Compare each classifier after its last epoch, or at its best epoch on the validation split "
                   "(best chooses on the evaluation data: optimistic).")
@click.option("--seeds", default="3", show_default=True,
              help="Training seeds of every --train remedy: a count N (seeds SEED..SEED+N-1) or a list such as 0,1,2 "
                   "(one seed alone: 7,). Writes OUT/seeds.md and seeds.json: mean ± sd and the paired difference "
                   "to the sampler (to 'none' when the sampler is not trained) with a 95% interval.")
@click.option("--workers", default=1, show_default=True)
@one_line_errors
def rebalance_affectnet(dataset, root, csv, out, target, legan, q, tear_check, q_min, expression_model,
                        verify_expression, budget, edit, lights, sources, max_uses, batch_size, seed, device, train,
                        also, synthetic_share, epochs, epoch_choice, seeds, workers):
    """Bring rare expression classes up to a target count with LEGAN faces that Q and an expression model accept."""
    from pipelines.rebalance.compare import DEFAULT_REMEDIES, CompareSettings, train_seeds
    from pipelines.rebalance.config import RebalanceConfig, comma_names
    from pipelines.rebalance.run import run_rebalance
    from pipelines.seed_table import parse_seeds

    try:
        seed_list = parse_seeds(seeds, start=seed)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--seeds") from None
    remedies = tuple(dict.fromkeys(DEFAULT_REMEDIES + tuple(comma_names(also))))
    config = make_config(RebalanceConfig, dataset=dataset, root=root, out=str(out), csv=csv, target=target, legan=legan,
                         q=q, tear_check=tear_check, q_min=q_min, expression_model=expression_model,
                         verify_expression=verify_expression, budget=budget, edit=edit, lights=lights,
                         sources=sources, max_uses=max_uses, batch_size=batch_size,
                         seed=seed, device=device,
                         train={"epochs": epochs, "epoch": epoch_choice, "remedies": list(remedies), "seeds": seed_list,
                                "synthetic_share": synthetic_share} if train else {})
    bar = make_bar(desc="rebalance", unit="face")

    def progress(state: dict) -> None:
        bar.total = state["needed"]
        bar.n = state["kept"]
        bar.set_postfix(round=state["round"], attempts=state["generated"], refresh=False)
        bar.refresh()

    try:
        with bar:
            result = run_rebalance(config, log=bar.write, progress=progress)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(result.describe())
    if train:
        n_real = sum(t["real"] for t in result.summary["classes"].values())
        train_seeds(f"{dataset}:{root}", out / "manifest.parquet", out / "train", n_real,
                    CompareSettings(epochs=epochs, remedies=remedies, workers=workers, device=device,
                                    epoch=epoch_choice, synthetic_share=synthetic_share), seed_list,
                    table_out=out, log=click.echo)
        if len(seed_list) == 1:
            click.echo((out / "train" / f"seed{seed_list[0]}" / "compare.md").read_text())
        click.echo((out / "seeds.md").read_text())


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/demo"), show_default=True)
@click.option("--identities", default=4, show_default=True, help="Identities in the rendered sample.")
@click.option("--size", type=click.Choice(["64", "128"]), default="64", show_default=True)
@one_line_errors
def demo(out: Path, identities: int, size: str) -> None:
    """Run the main job on built-in data (render the sample, read it back, translate and score a few faces)."""
    from pipelines.demo import run_demo

    bar, progress = progress_bar("render")
    with bar:
        result = run_demo(out, identities=identities, size=int(size), progress=progress)
    click.echo(result.describe())


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--work", type=click.Path(path_type=Path), default=Path("build/demo_q"), show_default=True,
              help="Where the simulated-rater set and the training run go (rerun to resume).")
@click.option("--identities", default=16, show_default=True)
@click.option("--epochs", default=30, show_default=True)
@click.option("--asset", type=click.Path(path_type=Path), default=None,
              help="Where to write the exported demo Q (default: the package's augmenter/assets/demo_q.pt).")
@one_line_errors
def train_demo_q(work: Path, identities: int, epochs: int, asset: Path | None) -> None:
    """Rebuild the built-in demo Q: simulated-rater set from the rendered sample, then train-q."""
    from augmenter.quality.model import DEMO_Q
    from pipelines.demo_models import DemoQRecipe, train_demo_q as run

    with make_bar(desc="train demo Q", unit="step") as bar:
        result = run(work, DemoQRecipe(identities=identities, epochs=epochs), asset or DEMO_Q,
                     progress=lambda s: bar.update(1))
    click.echo(result.describe())
    click.echo(f"exported to {asset or DEMO_Q}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--work", type=click.Path(path_type=Path), default=Path("build/legan_demo"), show_default=True)
@click.option("--minutes", default=60.0, show_default=True, help="Training budget of the LEGAN run.")
@click.option("--asset", type=click.Path(path_type=Path), default=None,
              help="Where to write the exported demo LEGAN (default: the package's augmenter/assets/demo_legan.pt).")
@one_line_errors
def train_demo_legan(work: Path, minutes: float, asset: Path | None) -> None:
    """Rebuild the built-in demo LEGAN: render the sample, train-attr, train-legan (paired, with the demo Q)."""
    from pipelines.demo_models import DemoLeganRecipe, train_demo_legan as run

    path = run(work, DemoLeganRecipe(minutes=minutes), asset, log=click.echo)
    click.echo(f"exported to {path}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--work", type=click.Path(path_type=Path), default=Path("build/default_generator"), show_default=True)
@click.option("--data", default="../shared/data", show_default=True, help="Folder holding yaleb/ and fer2013/.")
@click.option("--steps", default=1000, show_default=True, help="Generator training steps (about 0.8 s each on 2 cores).")
@click.option("--minutes", default=0.0, show_default=True, help="Stop after this much training time too (0: steps only).")
@click.option("--batch-size", default=16, show_default=True)
@click.option("--eval-every", default=250, show_default=True,
              help="Steps between held-out lighting evaluations in log.jsonl (0: none).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--offset-bound", default=None, type=float,
              help="Bound of the lighting branch's additive offset, in [0, 1] units (default: the recipe's; "
                   "0.5 paints smooth faces on other cameras' photos, see docs/generator.md).")
@click.option("--offset-on-albedo", is_flag=True,
              help="Scale the offset by the source's own detail (added light reflected by the face's albedo).")
@click.option("--asset", type=click.Path(path_type=Path), default=None,
              help="Where to write the exported generator (default: augmenter/assets/fields_generator.pt).")
@one_line_errors
def train_default_generator(work: Path, data: str, steps: int, minutes: float, batch_size: int, eval_every: int,
                            device: str, offset_bound: float | None, offset_on_albedo: bool, asset: Path | None) -> None:
    """Rebuild the built-in field generator from Extended Yale B + FER-2013 (rerun to resume)."""
    from augmenter.gan.models import FIELDS_GENERATOR
    from pipelines.default_generator.run import GeneratorRecipe, export, provenance, run

    recipe = GeneratorRecipe(data=data)
    recipe.train.steps, recipe.train.minutes, recipe.train.batch = steps, minutes, batch_size
    recipe.train.eval_every, recipe.train.device = eval_every, device
    if offset_bound is not None:
        recipe.train.offset_bound = offset_bound
    if offset_on_albedo:
        recipe.train.offset_on_albedo = True
    last = run(recipe, work, log=click.echo)
    click.echo(f"exported to {export(last, asset or FIELDS_GENERATOR, provenance(recipe), relight_style=recipe.relight_style)}")


@click.command("augment-verification", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", required=True, help="Extended Yale B folder, aligned by `augment align` (the built-in generator "
              "paints on the dataset's own crops), or the --dataset's folder.")
@click.option("--dataset", type=click.Choice(["yaleb", "multipie", "sample"]), default="yaleb", show_default=True,
              help="An identity set with known light directions (sample: the built-in renders).")
@click.option("--mode", type=click.Choice(["lighting", "both"]), default="lighting", show_default=True,
              help="lighting: relight to the generator's harsh lights; both: joint light and expression edits.")
@click.option("--train-expressions", default="", help="Train on these expressions only, comma-separated (e.g. "
              "neutral); the other expressions become a third test list, 'expression'.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (rerun to resume).")
@click.option("--legan", default=None, help="Generator checkpoint that relights (default: the built-in field generator).")
@click.option("--relight-style", type=click.Choice(list(RELIGHT_STYLES)), default="lab", show_default=True,
              help="How a fields generator relights (see augment expand --help): the measured recipe relights in "
                   "the lab style, whose dark sides match a fixed-exposure rig's harsh photos.")
@click.option("--q", default=None, help="Q checkpoint (default: the built-in default Q).")
@click.option("--q-min", default=0.0, show_default=True, help="Keep a relit face when its q_score is at least this.")
@click.option("--per-image", default=13, show_default=True,
              help="Relit variants per training image (13: every harsh light of the built-in generator).")
@click.option("--synthetic-ratio", default=0.5, show_default=True, help="Share of training draws that are synthetic.")
@click.option("--synthetic-draws", type=click.Choice(["replace", "add"]), default="replace", show_default=True,
              help="replace: both verifiers take the same steps, synthetic draws instead of real ones; add: the "
                   "augmented verifier sees the real photos as often as the real-only one, the synthetic draws on top.")
@click.option("--max-angle", default=35.0, show_default=True, help="Training light within this many degrees of frontal.")
@click.option("--pairs", multiple=True, help="Further pair lists to evaluate (LFW pairs.txt or CSV, paths under --root).")
@click.option("--pairs-per-kind", default=300, show_default=True, help="Same and different test pairs per light condition.")
@click.option("--epochs", default=30, show_default=True)
@click.option("--seed", default=0, show_default=True, help="Seed of the expansion (and the first seed of --seeds N).")
@click.option("--seeds", default="3", show_default=True,
              help="Replicate seeds (identity split, test pairs, training of both verifiers): a count N (seeds "
                   "SEED..SEED+N-1) or a list such as 0,1,2 (one seed alone: 7,). Writes OUT/seeds.md and seeds.json: "
                   "mean ± sd and the paired difference to 'real' with a 95% interval.")
@click.option("--held-out", default="", help="Test identities by name, comma-separated (default: a hash split per "
              "seed), e.g. the subjects the generator never trained on.")
@click.option("--device", default="auto", show_default=True)
@click.option("--epoch", type=click.Choice(["last", "best-frontal"]), default="last", show_default=True,
              help="Which epoch of each verifier is compared: the last, or the best on the near-frontal test pairs "
                   "(a choice made on test identities: biased, for comparison with earlier figures).")
@one_line_errors
def augment_verification(root, dataset, mode, train_expressions, out, legan, relight_style, q, q_min, per_image, synthetic_ratio,
                         synthetic_draws, max_angle, pairs, pairs_per_kind, epochs, seed, seeds, held_out, device, epoch):
    """Train a verifier on real near-frontal faces with and without LEGAN relit variants; compare on harsh light."""
    from pipelines.seed_table import parse_seeds
    from pipelines.verification import VerificationExperiment, run_experiment

    try:
        seed_list = parse_seeds(seeds, start=seed)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--seeds") from None
    config = make_config(VerificationExperiment, root=root, out=str(out), dataset=dataset, mode=mode,
                         train_expressions=[e.strip() for e in train_expressions.split(",") if e.strip()],
                         legan=legan, relight_style=relight_style, q=q, q_min=q_min,
                         per_image=per_image, synthetic_ratio=synthetic_ratio, synthetic_draws=synthetic_draws,
                         max_angle=max_angle, pairs=list(pairs),
                         pairs_per_kind=pairs_per_kind, epochs=epochs, seed=seed, seeds=seed_list,
                         held_out=[i.strip() for i in held_out.split(",") if i.strip()], device=device,
                         epoch=epoch)
    try:
        run_experiment(config, log=click.echo)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo((out / "seeds.md").read_text())


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", type=click.Path(path_type=Path), default=Path("../shared/data"), show_default=True,
              help="Folder holding fer2013/, yaleb/ and human_realism/ (the stand-in data).")
@click.option("--work", type=click.Path(path_type=Path), default=Path("build/default_q"), show_default=True,
              help="Where aligned crops, the pool, both stages and the measurements go (rerun to resume).")
@click.option("--asset", type=click.Path(path_type=Path), default=None,
              help="Where to write the exported Q (default: the package's augmenter/assets/default_q.pt).")
@click.option("--hard-generator", multiple=True, type=click.Path(path_type=Path),
              help="A generator trained against an earlier Q (train-legan --q): its outputs become rated negatives. "
                   "Repeat it for the generators of several rounds.")
@click.option("--pair-weight", default=1.0, show_default=True,
              help="Weight of the within-photo order term: each damaged copy below its own photo (0: off).")
@click.option("--blur-curve", nargs=2, type=float, default=None,
              help="Blur's simulated rating curve (w, g): 7 - 5.8 w s^g at severity s (default: the pool's, "
                   "PoolConfig.blur_curve; rounds 1-7: 0.7 1.6).")
@click.option("--stage1-epochs", type=click.IntRange(min=1), default=None,
              help="Epochs of stage 1 on the pool (default: the recipe's, DefaultQRecipe.stage1_epochs; rounds 1-8: 8).")
@click.option("--human-framing", type=click.Choice(["aligned", "whole", "both"]), default=None,
              help="The study's faces in stage 2: aligned crops, the study's whole images, or both (default: the "
                   "recipe's, DefaultQRecipe.human_framing; rounds 10-15: both).")
@click.option("--stage1-seeds", default=None,
              help="Train stage 1 once per seed (a count N: seeds SEED..SEED+N-1, or a list such as 0,1,2) and keep "
                   "the run that separates the pool's val photos from their damaged copies best at 0.6 (default: "
                   "--seed alone, DefaultQRecipe.stage1_seeds; round 11 kept a run that its own generator games).")
@click.option("--fer-per-class", type=click.IntRange(min=1), default=None,
              help="FER-2013 train photos per class in the pool (default: the recipe's, DefaultQRecipe.fer_per_class; "
                   "rounds 1-13: 600).")
@click.option("--yaleb-repeat", type=click.IntRange(min=1), default=None,
              help="List each Yale B training photo's pool rows this many times in all (default: the recipe's, "
                   "DefaultQRecipe.yaleb_repeat; rounds 1-15: 1).")
@click.option("--faint-geometry", type=click.IntRange(min=0), default=None,
              help="Extra faint seams and warps (severity 0.1-0.5) per aligned real photo in the pool (default: the "
                   "recipe's, PoolConfig.faint_geometry; rounds 1-17: 0).")
@click.option("--faint-std", type=click.FloatRange(min=0), default=None,
              help="The label std of those faint seams and warps (default: PoolConfig.faint_std, 1.2 as every "
                   "failure; wide, the margin loss leaves their score to the within-photo order term).")
@click.option("--faint-mode", "faint_modes", type=click.Choice(["seam", "warp"]), multiple=True,
              help="A mode --faint-geometry adds; repeat for both (default: PoolConfig.faint_modes, seams and warps; "
                   "round 20: seams alone).")
@click.option("--seams-keep-padding/--seams-cross-padding", default=None,
              help="Whether the pool's seams of photos leave the aligner's black padding black (default: "
                   "PoolConfig.seams_keep_padding, off; round 21: on).")
@click.option("--seed", default=0, show_default=True)
@one_line_errors
def train_default_q(data: Path, work: Path, asset: Path | None, hard_generator: tuple[Path, ...], pair_weight: float,
                    blur_curve: tuple[float, float] | None, stage1_epochs: int | None, human_framing: str | None,
                    stage1_seeds: str | None, fer_per_class: int | None, yaleb_repeat: int | None,
                    faint_geometry: int | None, faint_std: float | None, faint_modes: tuple[str, ...],
                    seams_keep_padding: bool | None, seed: int) -> None:
    """Rebuild the default Q: align the stand-in data, train on a pool with simulated ratings, fine-tune on
    people's ratings with 5-fold cross-validation, measure, export."""
    from dataclasses import replace

    from pipelines.default_q.export import export_default_q
    from pipelines.default_q.pool import PoolConfig
    from pipelines.default_q.run import DefaultQRecipe, train_default_q as run

    given = lambda **options: {k: v for k, v in options.items() if v is not None}  # noqa: E731  (unset: the recipe's)
    pool = replace(PoolConfig(), **given(blur_curve=tuple(blur_curve) if blur_curve else None,
                                         faint_geometry=faint_geometry, faint_std=faint_std,
                                         faint_modes=tuple(dict.fromkeys(faint_modes)) or None,
                                         seams_keep_padding=seams_keep_padding))
    recipe = DefaultQRecipe(data=str(data), seed=seed, hard_generator=tuple(str(g) for g in hard_generator),
                            pair_weight=pair_weight, pool=pool,
                            **given(stage1_epochs=stage1_epochs, human_framing=human_framing,
                                    fer_per_class=fer_per_class, yaleb_repeat=yaleb_repeat))
    if stage1_seeds is not None:
        from pipelines.seed_table import parse_seeds

        try:
            recipe.stage1_seeds = tuple(parse_seeds(stage1_seeds, start=seed))
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--stage1-seeds") from None
    results = run(recipe, work, log=click.echo)
    for key, framing in (("cv", "aligned crops"), ("cv_whole", "the study's whole images")):
        cv = results[key]
        click.echo(f"people vs Q, 5-fold cross-validated on {data / 'human_realism'} ({framing}): SROCC "
                   f"{cv['srocc']:.3f}, PLCC {cv['plcc']:.3f}; sources by people {cv['source_order_people']}, "
                   f"by Q {cv['source_order_q']}")
    path = export_default_q(Path(results["final"]), asset, results)
    click.echo(f"exported to {path}")


@click.command("yale-baseline", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", required=True, help="Extended Yale B (cropped) folder.")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--epochs", default=30, show_default=True)
@one_line_errors
def yale_baseline(root: str, out: Path, epochs: int) -> None:
    """The lighting baseline of verification on Extended Yale B: train on near-frontal light, test
    held-out identities on near-frontal and on harsh light (writes OUT/yale_verification.json)."""
    import json

    from pipelines.yale_verification import YaleBaseline, run

    figures = run(YaleBaseline(root=root, out=str(out), epochs=epochs))
    click.echo(json.dumps({k: v for k, v in figures.items() if k != "config"}, indent=2))


@click.command("train-stand-in-q", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", multiple=True, required=True, help="Dataset spec NAME:ROOT (repeatable).")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--max-sources", default=3000, show_default=True)
@click.option("--epochs", default=20, show_default=True)
@click.option("--seed", default=0, show_default=True)
@one_line_errors
def train_stand_in_q(data: tuple[str, ...], out: Path, max_sources: int, epochs: int, seed: int) -> None:
    """A Q with simulated raters on real training images (the demo Q's recipe on FER-2013 / Yale B)."""
    from pipelines.stand_in_q import train_stand_in_q as run

    result = run(list(data), out, max_sources, epochs, seed)
    click.echo(result.describe() if hasattr(result, "describe") else result)


@click.command("train-tear-check", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--pool", type=click.Path(path_type=Path), default=Path("build/default_q/pool"), show_default=True,
              help="The pool folder of augment-train-default-q's work folder (ratings.csv and images/).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("augmenter/assets/tear_check.pt"),
              show_default=True)
@click.option("--photos", type=click.IntRange(min=2), default=6000, show_default=True,
              help="Natural training photos drawn from the pool, each given one variant by the default generator.")
@click.option("--steps", type=click.IntRange(min=1), default=3000, show_default=True)
@click.option("--seed", default=0, show_default=True)
@one_line_errors
def train_tear_check(pool: Path, out: Path, photos: int, steps: int, seed: int) -> None:
    """Train the tear check beside Q (variant against source: seams, swapped tiles); resumes when interrupted."""
    import json

    from pipelines.default_q.tear_check import build_tear_check

    if not (pool / "ratings.csv").is_file():
        raise click.ClickException(f"{pool / 'ratings.csv'}: not found; run augment-train-default-q first, "
                                   "or pass --pool")
    click.echo(json.dumps(build_tear_check(pool, out, photos, steps, seed, log=click.echo)))


@click.command("measure-default-q", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--q", default=None, help="Q checkpoint (default: the built-in default Q).")
@click.option("--results", required=True, type=click.Path(path_type=Path), help="results.json of train-default-q.")
@click.option("--generator", default="demo", show_default=True, help="Generator whose outputs are measured.")
@click.option("--tear-check", default="none", show_default=True,
              help="Also score each failure with this tear check against its photo ('default': the built-in one).")
@click.option("--out", default=None, type=click.Path(path_type=Path), help="Also write the figures as JSON here.")
@one_line_errors
def measure_default_q(q: str | None, results: Path, generator: str, tear_check: str, out: Path | None) -> None:
    """Q on held-out real photos and their graded failures: medians, shares at 0.6, failures below source."""
    import json

    from augmenter.atomic import write_text_atomic
    from pipelines.default_q.measure import measure

    held = json.loads(results.read_text())["heldout_real"]
    text = json.dumps(measure(q, held["fer_val"], held["yaleb_heldout"], generator,
                              fer_val_unaligned=held.get("fer_val_unaligned", []),
                              tear_check=None if tear_check == "default" else tear_check), indent=2)
    if out:
        write_text_atomic(out, text + "\n")
    click.echo(text)
