"""``augment train-attr``: a thin click command over augmenter.classify.train_attr."""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.cli_util import make_bar, one_line_errors


def _names(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """``None`` (= the values in the data) or a comma-separated list of names."""
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise click.BadParameter("give a comma-separated list of names, or leave the option out")
    return names


@click.command("train-attr")
@click.option("--data", "data", multiple=True, required=True,
              help="Dataset spec NAME:ROOT (e.g. sample:build/sample, yaleb:../shared/data/yaleb); repeat to "
                   "train on several. Real images only: this classifier judges the GAN's outputs.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (rerun to resume).")
@click.option("--image-size", default=64, show_default=True, help="Input side in pixels (64 or 128).")
@click.option("--epochs", default=8, show_default=True)
@click.option("--batch-size", default=64, show_default=True)
@click.option("--lr", default=2e-3, show_default=True)
@click.option("--holdout", default=0.2, show_default=True,
              help="Fraction of identities held out for validation (the same split as GAN training).")
@click.option("--seed", default=0, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--lighting", default=None, callback=_names,
              help="Comma-separated lighting classes (default: those in the data, e.g. ambient,flash01,...).")
@click.option("--expression", default=None, callback=_names,
              help="Comma-separated expression classes (default: those in the data).")
@one_line_errors
def train_attr_command(data, out, image_size, epochs, batch_size, lr, holdout, seed, workers, device, lighting,
                       expression):
    """Train the attribute classifier (lighting, expression, identity embedding) that eval-gan uses.

    Validates every epoch on held-out identities and keeps the best checkpoint (by lighting +
    expression accuracy) as OUT/best.pt. Interrupted runs resume from the last finished epoch.
    """
    from augmenter.classify.train_attr import AttrTrainConfig, train_attribute_classifier

    config = AttrTrainConfig(data=list(data), out=str(out), image_size=image_size, holdout=holdout, seed=seed,
                             epochs=epochs, batch_size=batch_size, lr=lr, workers=workers, device=device,
                             lighting=lighting, expression=expression)
    with make_bar(desc="train-attr", unit="step") as bar:
        def update(s: dict) -> None:
            bar.update(1)
            bar.set_postfix(epoch=s["epoch"], loss=f"{s['loss']:.3f}")

        try:
            result = train_attribute_classifier(config, progress=update)
        except ValueError as err:
            raise click.ClickException(str(err)) from None
    click.echo(result.describe())
