"""Entry points of the pipelines package (rebalance-affectnet, the demo)."""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.cli_util import not_landed, one_line_errors

rebalance_affectnet = not_landed("rebalance-affectnet", 9, "rebalance rare expressions with LEGAN and Q")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/demo"), show_default=True)
@click.option("--device", default="cpu", show_default=True)
@one_line_errors
def demo(out: Path, device: str) -> None:
    """Run the main job on built-in data (currently: face alignment of bundled photos)."""
    from pipelines.demo import run_alignment_demo

    summary = run_alignment_demo(out, device=device)
    click.echo(summary.describe())
    click.echo(f"aligned crops and landmarks.csv are in {out / 'aligned'}")
