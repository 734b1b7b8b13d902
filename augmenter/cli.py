"""The ``augment`` command: a thin click layer over the library.

Each command turns its options into a config object and calls one library function.
"""
from __future__ import annotations

from pathlib import Path

import click

from augmenter import __version__
from augmenter.attributes import LIGHTING, MULTIPIE_EXPRESSIONS, unknown_names
from augmenter.cli_attr import train_attr_command
from augmenter.cli_expand import expand_command, merge_command
from augmenter.cli_gan import eval_gan_command, train_legan_command, translate_command
from augmenter.cli_quality import combine_q_command, eval_q_command, score_command, train_q_command
from augmenter.cli_util import make_config, one_line_errors, progress_bar


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="augment")
def main() -> None:
    """Synthesize lighting and expression variants of faces, judge them with Q, keep the natural ones."""


@main.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@click.option("--size", "image_size", default=112, show_default=True, help="Side of the square crop in pixels (112, 128, ...).")
@click.option("--device", default="cpu", show_default=True, help="Torch device for MTCNN: cpu, cuda, cuda:1.")
@click.option("--min-score", default=0.9, show_default=True, help="Detections below this probability count as no face.")
@click.option("--batch-size", default=16, show_default=True)
@click.option("--select", type=click.Choice(["largest", "best"]), default="largest", show_default=True,
              help="Which face to keep when an image has several.")
@click.option("--detect-pad", default=0.25, show_default=True,
              help="Black border (fraction of the longer side) added for detection; helps MTCNN on tight "
                   "face crops. Use 0 for full photos.")
@click.option("--retry/--no-retry", default=True, show_default=True,
              help="Detect faces missed under harsh light again on brightness-normalised copies (the crop keeps "
                   "the original's light).")
@click.option("--overwrite", is_flag=True, help="Redo everything instead of resuming a previous run.")
@one_line_errors
def align(src: Path, dst: Path, image_size: int, device: str, min_score: float, batch_size: int, select: str,
          detect_pad: float, retry: bool, overwrite: bool) -> None:
    """Detect and align every face image under SRC into a mirror tree under DST.

    Writes one crop per image with a face (five-point similarity alignment to the canonical
    template) and DST/landmarks.csv with the detection score, box and landmarks of every image.
    Interrupted runs resume where they stopped.
    """
    from augmenter.align_tree import AlignConfig, align_tree

    config = make_config(AlignConfig, image_size=image_size, device=device, min_score=min_score,
                         batch_size=batch_size, select=select, detect_pad=detect_pad, retry=retry, overwrite=overwrite)
    bar, progress = progress_bar("align")
    with bar:
        summary = align_tree(src, dst, config, progress=progress)
    click.echo(summary.describe())


def _name_list(vocabulary: tuple[str, ...]):
    """A click callback: ``"all"`` or comma-separated names from ``vocabulary`` -> tuple of names."""

    def parse(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
        if value.strip() == "all":
            return vocabulary
        names = tuple(n.strip() for n in value.split(",") if n.strip())
        unknown = unknown_names(names, vocabulary)
        if unknown or not names:
            raise click.BadParameter(
                f"unknown name(s) {', '.join(unknown) or '(none given)'}; use 'all' or a comma-separated list "
                f"of {', '.join(vocabulary)}"
            )
        return tuple(dict.fromkeys(names))  # repeats dropped, order kept

    return parse


@main.command()
@click.option("--identities", type=click.IntRange(1, 999), required=True, help="Number of faces (subjects 001...).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder of the sample (Multi-PIE layout).")
@click.option("--size", type=click.Choice(["64", "128"]), default="64", show_default=True, help="Image side in pixels.")
@click.option("--seed", default=0, show_default=True, help="Picks the faces; the same seed gives the same pixels.")
@click.option("--expressions", default="all", show_default=True, callback=_name_list(MULTIPIE_EXPRESSIONS),
              help=f"'all' or a comma-separated list of {', '.join(MULTIPIE_EXPRESSIONS)}.")
@click.option("--lighting", default="all", show_default=True, callback=_name_list(LIGHTING),
              help="'all' or a comma-separated list of ambient, flash01 ... flash18.")
@click.option("--overwrite", is_flag=True, help="Start over in a folder that holds a sample of another config.")
@one_line_errors
def sample(identities: int, out: Path, size: str, seed: int, expressions: tuple[str, ...], lighting: tuple[str, ...],
           overwrite: bool) -> None:
    """Render the built-in 3D face sample (known identity, lighting, expression) into the --out folder.

    It gets the Multi-PIE layout (read it with the "sample" dataset), labels.csv and sample.json.
    Interrupted runs resume where they stopped.
    """
    from augmenter.sample.tree import SampleConfig, render_sample

    config = SampleConfig(identities=identities, size=int(size), seed=seed, expressions=expressions,
                          lighting=lighting, overwrite=overwrite)
    bar, progress = progress_bar("sample")
    with bar:
        summary = render_sample(out, config, progress=progress)
    click.echo(summary.describe())



def _add_plugin_commands() -> None:
    """Verbs that later packages add to ``augment`` (``augment embed`` from recognition) through the
    ``augmenter.commands`` entry points, so that augmenter never imports them."""
    from importlib.metadata import entry_points

    for point in entry_points(group="augmenter.commands"):
        main.add_command(point.load(), point.name)


_add_plugin_commands()

main.add_command(train_q_command)
main.add_command(score_command)
main.add_command(eval_q_command)
main.add_command(combine_q_command)
main.add_command(train_legan_command)
main.add_command(translate_command)
main.add_command(train_attr_command)
main.add_command(eval_gan_command)
main.add_command(expand_command)
main.add_command(merge_command)

if __name__ == "__main__":
    main()
