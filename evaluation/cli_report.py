"""``eval-report``: the click front end of :func:`evaluation.report.compare_results`."""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.cli_util import one_line_errors


@click.command("eval-report", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--label", "labels", multiple=True,
              help="Name of each result, in order (one per result) [default: folder names or file stems].")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Also write report.md and report.html here.")
@one_line_errors
def eval_report(results, labels, out):
    """Results side by side (one row per metric) with deltas from the first one, e.g.
    `eval-report runs/base/lfw.json runs/aug/lfw.json --label base --label aug --out runs/report`."""
    from augmenter.atomic import write_text_atomic
    from evaluation.report import compare_results, to_html, to_markdown

    try:
        table = compare_results(list(results), labels=list(labels) if labels else None)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    markdown = to_markdown(table)
    click.echo(markdown, nl=False)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "report.md", markdown)
        write_text_atomic(out / "report.html", to_html(table))
        click.echo(f"written to {out / 'report.md'} and {out / 'report.html'}", err=True)


if __name__ == "__main__":  # pragma: no cover
    eval_report()
