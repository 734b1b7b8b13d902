"""Entry points of the recognition package: ``train-verifier``, ``train-expression`` and ``augment embed``
(registered into the ``augment`` group through the ``augmenter.commands`` entry point, so that
``augmenter`` never imports ``recognition``)."""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.cli_util import make_bar, make_config, one_line_errors

TORCHRUN = ("torchrun --nnodes 2 --node-rank $K --nproc-per-node 8 --master-addr host0 --master-port 29500 "
            "-m recognition.cli verifier --data casia:/data/casia_aligned --synthetic /data/casia_x/manifest.parquet "
            "--synthetic-ratio 0.3 --backbone iresnet50 --out runs/v1")


def _progress_bar(desc: str):
    bar = make_bar(desc=desc, unit="step")

    def update(s: dict) -> None:
        bar.total = s["steps_per_epoch"]
        bar.n = s["step"] % s["steps_per_epoch"] + 1
        bar.set_description(f"{desc} epoch {s['epoch']}")
        bar.set_postfix(loss=f"{s['loss']:.3f}", refresh=False)
        bar.refresh()

    return bar, update


def _run(train, config, desc: str) -> None:
    bar, update = _progress_bar(desc)
    try:
        with bar:
            result = train(config, progress=update, log=bar.write)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    click.echo(result.describe())


@click.command("train-verifier", context_settings={"help_option_names": ["-h", "--help"]},
               epilog=f"Several GPUs or hosts: {TORCHRUN}")
@click.option("--data", multiple=True, required=True, help="Identity-folder dataset NAME:ROOT (casia:DIR, folder:DIR, yaleb:DIR); repeatable.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (rerun to resume).")
@click.option("--synthetic", multiple=True, help="Expansion manifest whose kept images join their identity; repeatable.")
@click.option("--synthetic-ratio", type=float, default=None, help="Share of draws from the synthetic images (0..1).")
@click.option("--q-weighted", is_flag=True, help="Draw synthetic images in proportion to their q_score.")
@click.option("--val-pairs", default=None, help="Pair list for validation (LFW pairs.txt format, or first,second,same CSV).")
@click.option("--val-root", default=None, help="Folder the pair list's images are under (default: the first --data root).")
@click.option("--max-light-angle", type=float, default=None, help="Train only on images lit within this many degrees of frontal.")
@click.option("--backbone", type=click.Choice(["mobilefacenet", "iresnet18", "iresnet50", "inception_resnet_v1"]),
              default="mobilefacenet", show_default=True)
@click.option("--weights", default=None, help="Local facenet-pytorch weight file (vggface2 / casia-webface) for inception_resnet_v1.")
@click.option("--head", type=click.Choice(["arcface", "cosface", "softmax"]), default="arcface", show_default=True)
@click.option("--scale", default=64.0, show_default=True, help="Logit scale s of the margin heads.")
@click.option("--margin", type=float, default=None, help="Margin (default 0.5 ArcFace, 0.35 CosFace).")
@click.option("--embedding-size", default=512, show_default=True)
@click.option("--image-size", default=112, show_default=True)
@click.option("--epochs", default=20, show_default=True)
@click.option("--epoch-size", type=int, default=None, help="Draws per epoch (default: every training image once); fixes the budget when synthetic images are added.")
@click.option("--batch-size", default=128, show_default=True, help="Per process.")
@click.option("--lr", default=0.1, show_default=True)
@click.option("--optimizer", type=click.Choice(["sgd", "adamw"]), default="sgd", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--device", default="auto", show_default=True)
@one_line_errors
def train_verifier(data, out, synthetic, synthetic_ratio, q_weighted, val_pairs, val_root, max_light_angle, backbone,
                   weights, head, scale, margin, embedding_size, image_size, epochs, epoch_size, batch_size, lr, optimizer,
                   seed, workers, device):
    """Train a face verifier on real (plus synthetic) identity folders."""
    from recognition.train_verifier import VerifierConfig, train_verifier as train

    config = make_config(VerifierConfig, data=list(data), out=str(out), synthetic=list(synthetic),
                         synthetic_ratio=synthetic_ratio, q_weighted=q_weighted, val_pairs=val_pairs, val_root=val_root,
                         max_light_angle=max_light_angle, backbone=backbone, weights=weights, head=head, scale=scale,
                         margin=margin, embedding_size=embedding_size, image_size=image_size, epochs=epochs,
                         epoch_size=epoch_size, batch_size=batch_size, lr=lr, optimizer=optimizer, seed=seed,
                         workers=workers, device=device)
    _run(train, config, "verifier")


@click.command("train-expression", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", multiple=True, required=True, help="fer2013:DIR, affectnet:DIR or class-folder:DIR; repeatable.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (rerun to resume).")
@click.option("--remedy", type=click.Choice(["none", "sampler", "reweight", "synthetic", "synthetic+sampler"]), default="none", show_default=True,
              help="Class-imbalance remedy (synthetic+sampler: the synthetic rows join and draws are class-balanced).")
@click.option("--synthetic", multiple=True, help="Manifest of synthetic images (remedies synthetic*); repeatable.")
@click.option("--synthetic-share", type=float, default=None,
              help="synthetic+sampler: the synthetic faces' share of each class's draws (default: their share of "
                   "its images).")
@click.option("--backbone", type=click.Choice(["small_resnet", "mobilefacenet", "iresnet18"]), default="small_resnet",
              show_default=True)
@click.option("--width", default=16, show_default=True, help="small_resnet base width.")
@click.option("--image-size", default=48, show_default=True)
@click.option("--epochs", default=10, show_default=True)
@click.option("--epoch-size", type=int, default=None, help="Draws per epoch (default: every training image once); fixes the budget when synthetic images are added.")
@click.option("--batch-size", default=128, show_default=True)
@click.option("--lr", default=2e-3, show_default=True)
@click.option("--max-train", type=int, default=None, help="Train on this many images (seeded subset) for quick runs.")
@click.option("--seed", default=0, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--device", default="auto", show_default=True)
@one_line_errors
def train_expression(data, out, remedy, synthetic, synthetic_share, backbone, width, image_size, epochs, epoch_size,
                     batch_size, lr, max_train, seed, workers, device):
    """Train an expression classifier; report accuracy, balanced accuracy and macro-F1 every epoch."""
    from recognition.train_expression import ExpressionConfig, train_expression as train

    config = make_config(ExpressionConfig, data=list(data), out=str(out), remedy=remedy, synthetic=list(synthetic),
                         synthetic_share=synthetic_share, backbone=backbone, width=width, image_size=image_size,
                         epochs=epochs, epoch_size=epoch_size, batch_size=batch_size, lr=lr, max_train=max_train,
                         seed=seed, workers=workers, device=device)
    _run(train, config, f"expression ({remedy})")


@click.command("embed", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True)
@click.option("--model", "checkpoint", required=True, help="A train-verifier (or train-expression) checkpoint.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The .npz to write.")
@click.option("--flip", is_flag=True, help="Also store the embeddings of the mirrored images.")
@click.option("--batch-size", default=128, show_default=True)
@click.option("--workers", default=2, show_default=True)
@click.option("--device", default="auto", show_default=True)
@one_line_errors
def embed_command(inputs, checkpoint, out, flip, batch_size, workers, device):
    """Embed images (files, folders, .txt lists, manifests) into an .npz of paths and embeddings."""
    from recognition.embed import embed_inputs

    click.echo(embed_inputs(list(inputs), checkpoint, out, flip=flip, batch_size=batch_size, workers=workers,
                            device=device).describe())


@click.group()
def main() -> None:
    """``python -m recognition.cli verifier|expression|embed ...`` (what torchrun launches)."""


main.add_command(train_verifier, "verifier")
main.add_command(train_expression, "expression")
main.add_command(embed_command, "embed")

if __name__ == "__main__":
    main()
