"""Entry points of the pipelines package (rebalance-affectnet, the demo)."""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.cli_util import not_landed, one_line_errors, progress_bar

rebalance_affectnet = not_landed("rebalance-affectnet", 9, "rebalance rare expressions with LEGAN and Q")


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
    from tqdm import tqdm

    from augmenter.quality.model import DEMO_Q
    from pipelines.demo_models import DemoQRecipe, train_demo_q as run

    with tqdm(unit="step", desc="train demo Q", disable=None) as bar:
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
