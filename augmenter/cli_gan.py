"""``augment train-legan`` and ``augment translate``: thin click commands over augmenter.gan."""
from __future__ import annotations

from pathlib import Path

import click

from augmenter.cli_util import make_bar, make_config, one_line_errors


@click.command("train-legan")
@click.option("--data", "data", multiple=True, required=True,
              help="Dataset spec NAME:ROOT (repeatable), e.g. sample:build/sample, yaleb:DIR, fer2013:DIR.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder (rerun to resume).")
@click.option("--arch", type=click.Choice(["legan", "stargan"]), default="legan", show_default=True)
@click.option("--q", "q_path", default=None, help="Frozen Q checkpoint for the quality loss (off without it).")
@click.option("--tear-check", default=None,
              help="With --q: the quality loss also charges outputs a tear check finds torn against their source "
                   "('default': the built-in check; off without it).")
@click.option("--rules-in-loss", is_flag=True,
              help="With --tear-check: its hand rules (soft, colour, light from black, glow) also charge in the loss; "
                   "by default they only judge (a rule in the loss is learned up to its threshold).")
@click.option("--identity-net", default=None,
              help="LightCNN-29 v2 weight file or a toolkit 'attr'/'verifier' checkpoint (identity loss off without it).")
@click.option("--attr", default=None, help="Attribute classifier checkpoint for held-out figures during training.")
@click.option("--image-size", default=64, show_default=True)
@click.option("--g-width", default=None, type=int, help="Generator width (default 24 for LEGAN, 32 for StarGAN).")
@click.option("--steps", default=20_000, show_default=True)
@click.option("--minutes", default=None, type=float, help="Stop (and save) after this much training time.")
@click.option("--batch-size", default=16, show_default=True)
@click.option("--n-critic", default=1, show_default=True)
@click.option("--paired-weight", default=0.0, show_default=True,
              help="Weight of the paired L1 to the true image under the target (0 = paper-faithful, unpaired).")
@click.option("--quality-weight", default=1.0, show_default=True)
@click.option("--identity-weight", default=1.0, show_default=True)
@click.option("--holdout", default=0.2, show_default=True, help="Share of identities held out for evaluation.")
@click.option("--seed", default=0, show_default=True)
@click.option("--grid-every", default=500, show_default=True)
@click.option("--eval-every", default=500, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--workers", default=2, show_default=True)
@one_line_errors
def train_legan_command(data, out, arch, q_path, tear_check, rules_in_loss, identity_net, attr, image_size, g_width,
                        steps, minutes, batch_size, n_critic, paired_weight, quality_weight, identity_weight, holdout,
                        seed, grid_every, eval_every, device, workers):
    """Train LEGAN (or the StarGAN baseline) for lighting and expression translation."""
    from augmenter.gan.train import GanTrainConfig, LossWeights, train_gan

    weights = LossWeights(paired=paired_weight, quality=quality_weight, identity=identity_weight)
    config = make_config(GanTrainConfig, data=list(data), out=str(out), arch=arch, image_size=image_size,
                         g_width=g_width or (24 if arch == "legan" else 32), steps=steps, minutes=minutes,
                         batch_size=batch_size, n_critic=n_critic, weights=weights, q=q_path, tear_check=tear_check,
                         rules_in_loss=rules_in_loss,
                         identity_net=identity_net, attr=attr, holdout=holdout, seed=seed,
                         grid_every=grid_every, eval_every=eval_every, device=device, workers=workers)
    with make_bar(desc=f"train {arch}", unit="step", total=steps) as bar:
        def progress(s: dict) -> None:
            if not bar.n:  # the first step of this session: a resumed run's earlier steps took no time here
                bar.initial = s["step"] - 1
            bar.n = s["step"]
            bar.set_postfix({k: f"{v:.3f}" for k, v in s.items() if k in ("d_adv", "g_adv", "g_cls", "g_cycle", "g_paired")},
                            refresh=False)
            bar.refresh()

        result = train_gan(config, progress=progress, log=bar.write)
    click.echo(result.describe())


@click.command("translate")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--legan", "legan_path", default=None, type=click.Path(path_type=Path),
              help="Generator checkpoint (fields, legan or stargan); the built-in field generator without it, "
                   "'demo' for the render-trained demo LEGAN.")
@click.option("--lighting", default=None, help="Target lighting (a name from the checkpoint's vocabulary).")
@click.option("--expression", default=None, help="Target expression.")
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--batch-size", default=32, show_default=True)
@click.option("--device", default="auto", show_default=True)
@one_line_errors
def translate_command(inputs, legan_path, lighting, expression, out, batch_size, device):
    """Relight and/or change the expression of images or folders; every target when none is given.

    Outputs mirror the inputs' folders under --out (OUT/<path>__<target>.png); inputs whose names
    would clash keep their suffix in the output name, so no output overwrites another.
    """
    from augmenter.gan.models import built_in_notice
    from augmenter.gan.translate import translate_sources
    from augmenter.device import resolve_device
    from augmenter.quality.score import collect_sources
    from augmenter.skips import SkipReport

    notice = built_in_notice(legan_path)
    if notice:
        click.echo(notice, err=True)
    skips = SkipReport()
    sources = collect_sources(inputs, skips, exclude=out)
    summary = translate_sources(sources, out, legan_path, skips=skips, lighting=lighting, expression=expression,
                                batch_size=batch_size, device=resolve_device(device))
    click.echo(summary)


@click.command("eval-gan")
@click.option("--legan", "legan_path", default=None, type=click.Path(path_type=Path),
              help="Generator checkpoint (fields, legan or stargan); the built-in field generator without it, "
                   "'demo' for the demo LEGAN.")
@click.option("--data", "data", multiple=True, required=True, help="Dataset spec NAME:ROOT (repeatable).")
@click.option("--attr", "attr_path", required=True, type=click.Path(path_type=Path),
              help="Attribute classifier trained on real images (augment train-attr).")
@click.option("--q", "q_path", default=None, type=click.Path(path_type=Path), help="Q for the mean Q score.")
@click.option("--holdout", default=0.2, show_default=True, help="The same held-out share as in training.")
@click.option("--max-inputs", default=48, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--device", default="auto", show_default=True)
@one_line_errors
def eval_gan_command(legan_path, data, attr_path, q_path, holdout, max_inputs, out, device):
    """Translate held-out faces to every target; attribute accuracy, ground-truth L1, identity, FID/KID, Q."""
    import json

    from augmenter.gan.eval_run import run_gan_evaluation
    from augmenter.device import resolve_device

    metrics = run_gan_evaluation(legan_path, list(data), attr_path, out, holdout=holdout, q_path=q_path,
                                 max_inputs=max_inputs, device=resolve_device(device))
    click.echo(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}, indent=1))
    click.echo(f"report: {out / 'gan_eval.json'}, examples: {out / 'gan_examples.png'}")
