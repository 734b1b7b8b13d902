"""``eval-expression``: the click front end of :func:`evaluation.expression.evaluate_expression`."""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.cli_util import one_line_errors


@click.command("eval-expression", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--checkpoint", required=True, help="A train-expression checkpoint (best.pt).")
@click.option("--data", multiple=True, required=True, help="fer2013:DIR, affectnet:DIR or class-folder:DIR; repeatable.")
@click.option("--split", type=click.Choice(["val", "test", "train", "all"]), default=None,
              help="Split to evaluate [default: each dataset's validation split; all images of a set without splits].")
@click.option("--classes", type=click.Choice(["7", "8"]), default=None,
              help="AffectNet convention: 8 = all eight; 7 = contempt images dropped and the contempt logit "
                   "left out of the argmax [default: the model's classes].")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Folder for expression.json, expression.md, expression_confusion.png, expression_predictions.csv.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of the Markdown summary.")
@click.option("--batch-size", default=128, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--device", default="auto", show_default=True)
@one_line_errors
def eval_expression(checkpoint, data, split, classes, out, as_json, batch_size, workers, device):
    """Accuracy, balanced accuracy, macro-F1, per-class recall/precision and the confusion matrix of an
    expression classifier."""
    from evaluation.expression import evaluate_expression, expression_markdown
    from evaluation.outputs import result_json

    try:
        result = evaluate_expression(checkpoint, list(data), split=split, classes=int(classes) if classes else None,
                                     out=out, batch_size=batch_size, workers=workers, device=device,
                                     log=lambda m: click.echo(m, err=True))
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(result_json(result) if as_json else expression_markdown(result), nl=False)
    if not as_json:
        click.echo(f"written to {out}")


if __name__ == "__main__":  # pragma: no cover
    eval_expression()
