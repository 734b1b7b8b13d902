"""Entry points of the pipelines package (rebalance-affectnet, the demo)."""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.cli_util import not_landed, one_line_errors

rebalance_affectnet = not_landed("rebalance-affectnet", 9, "rebalance rare expressions with LEGAN and Q")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/demo"), show_default=True)
@click.option("--identities", default=4, show_default=True, help="Identities in the rendered sample.")
@click.option("--size", type=click.Choice(["64", "128"]), default="64", show_default=True)
@one_line_errors
def demo(out: Path, identities: int, size: str) -> None:
    """Run the main job on built-in data (currently: render the sample and read it back)."""
    from tqdm import tqdm

    from pipelines.demo import run_demo

    with tqdm(unit="img", desc="render", disable=None) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = run_demo(out, identities=identities, size=int(size), progress=progress)
    click.echo(result.describe())
