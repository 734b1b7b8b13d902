"""``augment train-q``, ``augment score`` and ``augment eval-q``: thin click commands over augmenter.quality."""
from __future__ import annotations

import functools
from pathlib import Path

import click

from augmenter.cli_util import make_bar, one_line_errors, progress_bar
from augmenter.errors import DatasetFormatError

_Q_HELP = "Q checkpoint (kind 'q'); without it the built-in default Q, 'demo' for the rendered-face demo Q."


def column_flags(func):
    """A ratings file without the column read_ratings looks for: name this command's ``--*-col``
    flag in the error, not the library keyword (``--path-col``, not ``path_col=``)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DatasetFormatError as err:
            from augmenter.quality.ratings import ColumnNotFoundError

            if isinstance(err, ColumnNotFoundError):
                raise err.naming_option("--" + err.option.replace("_", "-")) from None
            raise

    return wrapper


@click.command("train-q")
@click.option("--data", required=True,
              help="Ratings CSV/TSV, a folder holding ratings.csv, or a perception-study folder (img.csv + ans.csv).")
@click.option("--val", default=None, help="Separate validation ratings (default: the data's val split).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (rerun to resume).")
@click.option("--image-size", default=64, show_default=True, help="Q input size (128 = the paper's).")
@click.option("--base-width", default=16, show_default=True, help="Filters of the first conv (64 = the paper's).")
@click.option("--epochs", default=20, show_default=True)
@click.option("--batch-size", default=64, show_default=True)
@click.option("--lr", default=3e-4, show_default=True)
@click.option("--margin-scale", default=1.0, show_default=True, help="Tolerance in rater stds of the margin loss.")
@click.option("--seed", default=0, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--path-col", default="image", show_default=True, help="Column of image paths in the ratings file.")
@click.option("--mean-col", default="mean", show_default=True)
@click.option("--std-col", default="std", show_default=True)
@click.option("--init", default=None, type=click.Path(path_type=Path),
              help="Start from this Q checkpoint's weights (fine-tuning; same --image-size and --base-width).")
@one_line_errors
@column_flags
def train_q_command(data, val, out, image_size, base_width, epochs, batch_size, lr, margin_scale, seed, workers,
                    device, path_col, mean_col, std_col, init):
    """Train Q on images with mean and std of their naturalness ratings (1-10)."""
    from augmenter.quality.train import QTrainConfig, train_q

    config = QTrainConfig(data=str(data), val=val, out=str(out), image_size=image_size, base_width=base_width,
                          epochs=epochs, batch_size=batch_size, lr=lr, margin_scale=margin_scale, seed=seed,
                          workers=workers, device=device, init=None if init is None else str(init),
                          columns={"path_col": path_col, "mean_col": mean_col, "std_col": std_col})
    with make_bar(desc="train-q", unit="step") as bar:
        result = train_q(config, progress=lambda s: (bar.update(1), bar.set_postfix(epoch=s["epoch"], loss=f"{s['loss']:.3f}")))
    click.echo(result.describe())


@click.command("score")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--q", "q_path", default=None, type=click.Path(path_type=Path), help=_Q_HELP)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="CSV to write: path,q_score,rating.")
@click.option("--batch-size", default=64, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--device", default="auto", show_default=True)
@one_line_errors
def score_command(inputs, q_path, out, batch_size, workers, device):
    """Score images, folders (recursive) or manifests with Q; q_score = predicted rating / 10."""
    from augmenter.atomic import atomic_path, check_writable
    from augmenter.quality.model import load_q, q_notice
    from augmenter.quality.score import UNREADABLE_IMAGE, collect_inputs, describe_scores, predict_ratings, scores_table
    from augmenter.skips import SkipReport

    check_writable(out)  # before any work: a bad --out must not cost a whole scoring run
    net, loaded = load_q(q_path, device)
    if q_notice(loaded):
        click.echo(q_notice(loaded), err=True)
    skips = SkipReport()
    paths = collect_inputs(inputs, skips)
    n_inputs = len(paths) + skips.total
    bar, update = progress_bar("score")
    with bar:
        ratings, failed = predict_ratings(net, paths, batch_size=batch_size, workers=workers, progress=update)
    table = scores_table(paths, ratings)
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    for message in failed:
        skips.add(UNREADABLE_IMAGE, message)
    click.echo(describe_scores(table, n_inputs, skips, out))
    if skips.total:
        click.echo(skips.summary(), err=True)
    if failed:
        skipped = out.with_name(out.stem + "_unreadable.txt")
        with atomic_path(skipped) as tmp:
            tmp.write_text("\n".join(failed) + "\n", encoding="utf-8")
        click.echo(f"{len(failed)} unreadable file(s), listed with reasons in {skipped}", err=True)


@click.command("eval-q")
@click.option("--q", "q_path", default=None, type=click.Path(path_type=Path), help=_Q_HELP)
@click.option("--data", required=True,
              help="Ratings CSV/TSV with mean and std, a folder with ratings.csv, or a perception-study folder "
                   "(img.csv + ans.csv: the people's split-half ceiling is reported too).")
@click.option("--split", default="auto", show_default=True,
              help="Rows to evaluate: test, val, train, all; auto = test when the file has a test split, else all.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for q_eval.json and q_scatter.png.")
@click.option("--batch-size", default=128, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--path-col", default="image", show_default=True)
@click.option("--mean-col", default="mean", show_default=True)
@click.option("--std-col", default="std", show_default=True)
@one_line_errors
@column_flags
def eval_q_command(q_path, data, split, out, batch_size, workers, device, path_col, mean_col, std_col):
    """Measure Q against rated images: SROCC, PLCC, KROCC (with 95% bootstrap intervals), RMSE, within-spread
    share, 5/10 accuracy, and per source whether Q ranks the sources as people do."""
    import json

    import numpy as np

    from augmenter.quality.metrics import INTERVAL_KEYS, describe_quality, write_quality_report
    from augmenter.quality.model import load_q, q_notice
    from augmenter.quality.ratings import read_ratings
    from augmenter.quality.score import predict_ratings
    from augmenter.quality.study import split_half_ceiling

    net, loaded = load_q(q_path, device)
    if q_notice(loaded):
        click.echo(q_notice(loaded), err=True)
    listing = read_ratings(data, path_col=path_col, mean_col=mean_col, std_col=std_col)
    table = listing.table
    if split == "auto":
        split = "test" if (table["split"] == "test").any() else "all"
    if split != "all":
        table = table[table["split"] == split]
        if not len(table):
            raise click.BadParameter(f"{listing.file} has no rows in split {split!r}", param_hint="--split")
    bar, update = progress_bar("eval-q")
    with bar:
        ratings, failed = predict_ratings(net, table["path"].tolist(), batch_size=batch_size, workers=workers,
                                          progress=update)
    ok = ~np.isnan(ratings)
    paths = table["path"].to_numpy()[ok].tolist()
    ceiling = None
    if listing.answers is not None:  # a perception study: how well its people agree with each other
        ceiling = split_half_ceiling(listing.answers[listing.answers["path"].isin(paths)])
    metrics = write_quality_report(out, ratings[ok], table["mean"].to_numpy()[ok], table["std"].to_numpy()[ok],
                                   paths=paths, sources=table["source"].to_numpy()[ok].tolist(),
                                   human_ceiling=ceiling)
    shown = ("srocc", "plcc", "plcc_logistic", "krocc", "rmse", "within_spread", "accuracy_at_threshold",
             *(f"{k}_ci95" for k in INTERVAL_KEYS), "orders_sources_as_people")
    line = {"split": split, "n": int(ok.sum()), "unreadable": len(failed),
            **{k: metrics[k] for k in shown if k in metrics}}
    if ceiling is not None:
        line["human_ceiling_srocc"] = ceiling["spearman"]
        line["human_ceiling_srocc_corrected"] = ceiling["spearman_corrected"]
    click.echo(json.dumps(line, default=str))
    click.echo(describe_quality(metrics))
    click.echo(f"report: {out / 'q_eval.json'}, {out / 'q_scatter.png'}")
    if listing.skips.total:
        click.echo(listing.skips.summary(), err=True)


@click.command("combine-q")
@click.option("--q", "q_paths", multiple=True, required=True, type=click.Path(path_type=Path),
              help="A member Q checkpoint (repeat; 'demo' or an ensemble also work). Two or more.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Ensemble checkpoint to write.")
@click.option("--note", default="", help="Provenance line stored in the checkpoint, before the members' own.")
@one_line_errors
def combine_q_command(q_paths, out, note):
    """Write one Q checkpoint that rates by the mean of several Qs (measured in docs/quality.md, "Round 13")."""
    from augmenter.quality.model import combine_q, q_path_of

    if len(q_paths) < 2:
        raise click.UsageError("--q: give two or more Q checkpoints to combine")
    try:
        path = combine_q([q_path_of(str(p)) for p in q_paths], out, note)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"wrote {path}: the mean of {len(q_paths)} Q checkpoints")
