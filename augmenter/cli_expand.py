"""``augment expand`` and ``augment merge``: thin click commands over :mod:`augmenter.expand`."""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.attributes import AMBIENT, FIELD_LIGHTING, RELIGHT_STYLES
from augmenter.device import torchrun_env
from augmenter.cli_util import one_line_errors, progress_bar
from augmenter.datasets.registry import DATASETS
from augmenter.expand.report import DIRECTION_CONVENTION, lighting_legend


def lighting_epilog(per_line: int = 3) -> str:
    """The end of ``augment expand --help``: every lighting target of the default field generator and
    where it puts the light, ``per_line`` to a line, then the demo LEGAN's flash names."""
    entries = [lighting_legend([name]) for name in FIELD_LIGHTING]
    rows = ["  ".join(f"{e:<31}" for e in entries[i:i + per_line]).rstrip() for i in range(0, len(entries), per_line)]
    return (f"Lighting targets of the default field generator (another --legan checkpoint may have others) and "
            f"where each puts the light; {DIRECTION_CONVENTION}:\n\n\b\n" + "\n".join(rows) +
            f"\n\nThe demo LEGAN (--legan demo) has {AMBIENT} and Multi-PIE's flash01 ... flash18 instead.")


LIGHTING_EPILOG = lighting_epilog()


def shard_from_env() -> tuple[int, int] | None:
    """``(rank, world size)`` under ``torchrun`` (``RANK``/``WORLD_SIZE``), else ``None``."""
    rank, world, _ = torchrun_env()
    return (rank, world) if world > 1 else None


def device_for_rank(device: str) -> str:
    """Under ``torchrun`` each rank takes its own GPU (``LOCAL_RANK``) when ``device`` is auto or cuda."""
    local = torchrun_env()[2]
    if local is not None and device in ("auto", "cuda"):
        import torch

        if torch.cuda.is_available():
            return f"cuda:{local}"
    return device


@click.command("expand", epilog=LIGHTING_EPILOG)
@click.option("--dataset", type=click.Choice(sorted(DATASETS)), required=True,
              help="Source format; 'sample' is the built-in rendered data and needs no --root.")
@click.option("--root", default=None, help="The dataset's folder (a manifest file for --dataset manifest).")
@click.option("--csv", default=None, help="AffectNet: the file-list CSV (training.csv / validation.csv).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder (rerun to resume).")
@click.option("--per-image", default=4, show_default=True, help="Variants per source image.")
@click.option("--mode", type=click.Choice(["lighting", "expression", "both"]), default="both", show_default=True,
              help="Change the lighting, the expression, or both at once.")
@click.option("--lighting", default="all", show_default=True,
              help="'all' or comma-separated lighting targets, e.g. flash05,flash16: each target and where it "
                   "puts the light are listed at the end of this help.")
@click.option("--expression", default="all", show_default=True,
              help="'all' or comma-separated expression targets. FER-2013, AffectNet and class folders only "
                   "take those that are one of their classes (smile -> happy); the others are left out.")
@click.option("--expression-map", default=None,
              help="NAME=CLASS[,...]: write target NAME as class CLASS of a FER-2013, AffectNet or class-folder "
                   "dataset that has no class for it (e.g. scream=surprise).")
@click.option("--q-min", default=0.6, show_default=True, help="Keep a variant when its q_score (Q's rating / 10) is at least this.")
@click.option("--keep-best", default=None, type=int, help="Keep the N best variants of each source instead of --q-min.")
@click.option("--save-rejected", is_flag=True, help="Also write rejected variants (under OUT/.rejected/).")
@click.option("--legan", default=None, help="Generator checkpoint (default: the built-in field generator, any size; "
              "'demo': the render-trained demo LEGAN, 64 px, for the built-in sample).")
@click.option("--relight-style", type=click.Choice(list(RELIGHT_STYLES)), default=None,
              help="How a fields generator relights: 'photo' shades the photo under a key light and a soft fill "
                   "and keeps its exposure (faces from ordinary cameras), 'photo-deep' the same with deeper "
                   "shadows, 'lab' adds the learned offset at fixed exposure (Yale B's dark-room series). Default: "
                   "the checkpoint's own (the built-in generator: photo).")
@click.option("--size", "image_size", default=None, type=int,
              help="Side of the variants in px (default: the generator's; a fields generator "
                   "takes any size, e.g. 112).")
@click.option("--q", "q_path", default=None, help="Q checkpoint (default: the built-in default Q; 'demo': the rendered-face demo Q).")
@click.option("--tear-check", default=None,
              help="Checkpoint of the check that compares each variant with its source and lowers the q_score of a "
                   "torn one (seams, swapped tiles) by up to 0.2 (default: the built-in one; 'none': Q alone).")
@click.option("--seed", default=0, show_default=True)
@click.option("--batch-size", default=16, show_default=True, help="Source images per batch (fixes the chunks).")
@click.option("--min-size", default=32, show_default=True, help="Skip (and count) sources smaller than this, in px.")
@click.option("--limit", default=None, type=int, help="Only the first N source images.")
@click.option("--include-eval-splits", is_flag=True,
              help="Also expand validation/test sources (default: training split only). Their manifest rows say "
                   "so in source_split, and trainers refuse them.")
@click.option("--shard", default=None, help="i/N: process slice i of N (0-based; outputs in OUT/.expand/parts/); "
              "under torchrun, RANK/WORLD_SIZE.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:K.")
@click.option("--workers", default=1, show_default=True, help="Decoding processes (0: decode in this process).")
@click.option("--writers", default=2, show_default=True, help="Encoding and writing threads.")
@click.option("--resume", is_flag=True, help="Continue the run in OUT with its own saved settings.")
@click.option("--dry-run", is_flag=True, help="Print what would be produced and an estimate of time and disk.")
@one_line_errors
def expand_command(dataset, root, csv, out, per_image, mode, lighting, expression, expression_map, q_min, keep_best,
                   save_rejected, legan, relight_style, image_size, q_path, tear_check, seed, batch_size, min_size,
                   limit, include_eval_splits, shard, device, workers, writers, resume, dry_run):
    """Expand a face dataset with lighting / expression variants that Q accepts, recording every decision.

    Writes the kept images in the dataset's own layout under OUT, manifest.parquet (+ .csv) with one row
    per variant (kept or not, with its source's split in source_split), summary.json and report.html.
    Only training sources are expanded unless --include-eval-splits. Kill it at any time and rerun the same
    command: it resumes and ends with exactly the outputs of an uninterrupted run. A run that keeps
    nothing says so on stderr, with Q's scores and what to try (the exit status stays 0).
    """
    from augmenter.expand.config import ExpandConfig
    from augmenter.expand.engine import ExpandResult, run_expand
    from augmenter.expand.plan import parse_shard

    try:
        shard_i, shards = parse_shard(shard) if shard else (shard_from_env() or (0, 1))
        config = ExpandConfig(dataset=dataset, root=root, csv=csv, out=str(out), per_image=per_image, mode=mode,
                              lighting=lighting, expression=expression, expression_map=expression_map,
                              q_min=q_min, keep_best=keep_best,
                              save_rejected=save_rejected, legan=legan, relight_style=relight_style, q=q_path,
                              tear_check=tear_check, seed=seed, batch_size=batch_size,
                              min_size=min_size, image_size=image_size, limit=limit,
                              include_eval_splits=include_eval_splits, shard=shard_i, shards=shards,
                              device=device_for_rank(device), workers=workers, writers=writers, dry_run=dry_run)
        bar, progress = progress_bar("expand", unit="variant")
        with bar:
            result = run_expand(config, resume=resume, progress=progress, log=click.echo)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(result.describe())
    notice = result.nothing_kept() if isinstance(result, ExpandResult) else None
    if notice:
        click.secho(notice, err=True, fg="red", bold=True)


@click.command("merge")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--shards", default=None, type=click.IntRange(min=1),
              help="Merge the set of N shards when OUT holds parts of several shard counts (it must be complete).")
@one_line_errors
def merge_command(out: Path, shards: int | None) -> None:
    """Join the shards of the sharded expand run in OUT into OUT's manifest, summary and report."""
    from augmenter.expand.finalize import merge_run

    outputs, summary = merge_run(out, shards)
    click.echo(f"merged {summary['shards']} shard(s): {summary['variants']} variant(s), {summary['kept']} kept")
    for name, path in outputs.items():
        click.echo(f"{name}: {path}")
