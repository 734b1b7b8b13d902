"""``eval-edc``: the click front end of :func:`evaluation.quality.evaluate_edc`."""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.cli_util import one_line_errors


@click.command("eval-edc", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--pairs-scores", required=True, type=click.Path(path_type=Path),
              help="CSV with the columns first,second,score,same (score: higher = more alike; same: 1/0).")
@click.option("--q", "q_scores", required=True, type=click.Path(path_type=Path),
              help="CSV with the columns path,q_score (the output of `augment score`).")
@click.option("--fmr", default=1e-3, show_default=True, help="False match rate that fixes the threshold (on all pairs).")
@click.option("--discard-limit", default=0.2, show_default=True, help="Upper end of the partial area under the EDC.")
@click.option("--root", type=click.Path(path_type=Path), default=None,
              help="Folder the pair paths are relative to, when they are not written as in the Q CSV.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for edc.json, edc.md, edc.png.")
@one_line_errors
def eval_edc(pairs_scores, q_scores, fmr, discard_limit, root, out):
    """Error-versus-discard curve: FNMR at a threshold fixed at --fmr as the lowest-quality genuine pairs
    (pair quality = the lower Q score of its two images) are discarded."""
    from evaluation.quality import edc_markdown, evaluate_edc

    try:
        result = evaluate_edc(pairs_scores, q_scores, fmr=fmr, discard_limit=discard_limit, out=out, root=root)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(edc_markdown(result), nl=False)
    click.echo(f"written to {out}")


if __name__ == "__main__":  # pragma: no cover
    eval_edc()
