"""``eval-ijbb``: the click front end of :func:`evaluation.ijbb.run_ijbb` (IJB-B 1:1 verification)."""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.cli_util import make_config, one_line_errors, progress_bar


@click.command("eval-ijbb", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--meta-dir", required=True, type=click.Path(path_type=Path),
              help="IJB-B meta folder: ijbb_face_tid_mid.txt, ijbb_template_pair_label.txt, ijbb_name_5pts_score.txt.")
@click.option("--features", type=click.Path(path_type=Path), default=None,
              help="An .npz of names (or paths) and embeddings (+ flip_embeddings), e.g. from `augment embed --flip`.")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="A train-verifier checkpoint: embed the loose crops of --image-dir instead of reading --features.")
@click.option("--image-dir", type=click.Path(path_type=Path), default=None,
              help="Folder of the loose crops (IJBB/loose_crop), aligned from the 5-point file; with --checkpoint.")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Folder for ijbb.json, ijbb.md, ijbb_roc.png (and ijbb_scores.npy, ijbb_labels.npy).")
@click.option("--no-flip", is_flag=True, help="Image feature = embedding only (default: + flip embedding).")
@click.option("--no-detector-score", is_flag=True, help="Do not weight image features by the detector score.")
@click.option("--normalize-images", is_flag=True,
              help="L2-normalise each image feature before pooling (insightface's use_norm_score=False).")
@click.option("--save-scores", is_flag=True, help="Also write the pair scores (float64, pair-file order) and labels.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON result instead of a one-line summary.")
@click.option("--batch-size", default=128, show_default=True, help="With --checkpoint.")
@click.option("--workers", default=2, show_default=True, help="With --checkpoint: image decoding processes.")
@click.option("--device", default="auto", show_default=True, help="With --checkpoint.")
@one_line_errors
def eval_ijbb(meta_dir, features, checkpoint, image_dir, out, no_flip, no_detector_score, normalize_images,
              save_scores, as_json, batch_size, workers, device):
    """IJB-B 1:1 template verification (insightface's eval_ijbc.py protocol): TAR at FAR 1e-6 ... 1e-1, AUC."""
    from evaluation.ijbb import IJBBConfig, Switches, run_ijbb
    from evaluation.outputs import result_json

    switches = Switches(flip=not no_flip, detector_score=not no_detector_score, normalize_images=normalize_images)
    config = make_config(IJBBConfig, meta_dir=meta_dir, out=out, features=features, checkpoint=checkpoint,
                         image_dir=image_dir, switches=switches, save_scores=save_scores, batch_size=batch_size,
                         workers=workers, device=device, usage=True)

    def log(message: str) -> None:
        click.echo(message, err=True)

    if checkpoint is None:
        result = run_ijbb(config, log=log)
    else:
        bar, update = progress_bar("embed")
        with bar:
            result = run_ijbb(config, log=log, progress=update)
    click.echo(result_json(result.result) if as_json else result.summary(), nl=not as_json)


if __name__ == "__main__":  # pragma: no cover
    eval_ijbb()
