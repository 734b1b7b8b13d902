"""``eval-lfw``: the LFW View 2 protocol (:mod:`evaluation.lfw`) from the command line.

Examples::

    eval-lfw --pairs lfw/pairs.txt --lfw-root lfw/images --checkpoint runs/v1/best.pt --flip --out runs/v1/lfw
    eval-lfw --pairs lfw/pairs.txt --features lfw_embeddings.npz --json
    eval-lfw --bin faces_emore/lfw.bin --checkpoint runs/v1/best.pt
"""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.cli_util import one_line_errors


@click.command("eval-lfw", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--pairs", type=click.Path(path_type=Path),
              help="LFW pairs.txt (View 2), or a first,second,same,fold CSV.")
@click.option("--lfw-root", type=click.Path(path_type=Path),
              help="Folder of the LFW images (name/name_0001.jpg); with --features, what .npz paths are relative to.")
@click.option("--bin", "bin_path", type=click.Path(path_type=Path),
              help="insightface lfw.bin (pairs and images in one file) instead of --pairs.")
@click.option("--checkpoint", type=click.Path(path_type=Path),
              help="Verifier checkpoint: embed the pair images with it.")
@click.option("--features", type=click.Path(path_type=Path),
              help=".npz of paths and embeddings (augment embed) instead of --checkpoint; with --bin its paths are "
                   "the image indices 0, 1, ...")
@click.option("--flip", is_flag=True, help="Feature = embedding + mirror-image embedding, L2-normalised.")
@click.option("--allow-missing", is_flag=True,
              help="Skip the pairs with a missing or unreadable image or feature (reported as skipped_pairs).")
@click.option("--out", type=click.Path(path_type=Path), help="Write lfw.json, lfw.md and lfw_roc.png here.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of one line.")
@click.option("--batch-size", default=128, show_default=True, help="With --checkpoint.")
@click.option("--workers", default=2, show_default=True, help="Image decoding workers, with --checkpoint.")
@click.option("--device", default="auto", show_default=True, help="With --checkpoint.")
@one_line_errors
def eval_lfw(pairs, lfw_root, bin_path, checkpoint, features, flip, allow_missing, out, as_json, batch_size, workers,
             device):
    """Verification accuracy (10 folds), VAL@FAR=1e-3, ROC AUC and EER on LFW View 2."""
    from evaluation.lfw_run import run_lfw, write_lfw_outputs
    from evaluation.outputs import result_json

    if (pairs is None) == (bin_path is None):
        raise click.UsageError("give exactly one of --pairs and --bin")
    if (features is None) == (checkpoint is None):
        raise click.UsageError("give exactly one of --checkpoint and --features")
    if bin_path is not None and lfw_root is not None:
        raise click.UsageError("--lfw-root applies to --pairs, not to --bin")
    if pairs is not None and checkpoint is not None and lfw_root is None:
        raise click.UsageError("--checkpoint with --pairs needs --lfw-root (the folder of the images)")
    result = run_lfw(pairs=pairs, lfw_root=lfw_root, bin_path=bin_path, features=features, checkpoint=checkpoint,
                     flip=flip, allow_missing=allow_missing, batch_size=batch_size, workers=workers, device=device)
    if out is not None:
        written = write_lfw_outputs(out, result)
        click.echo(f"wrote {', '.join(str(p) for p in written)}", err=True)
    click.echo(result_json(result.to_dict()) if as_json else result.summary(), nl=not as_json)
