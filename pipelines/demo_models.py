"""Reproduce the built-in demo models that ship inside the package.

The demo Q (``augmenter/assets/demo_q.pt``) is trained here on the simulated-rater set: the built-in
sample faces damaged by synthetic artifacts and rated by simulated raters. It is the default Q of
``augment score`` and ``augment expand`` so the toolkit runs out of the box; it has never seen a human
rating, so it is not a judge of real synthetic faces. Run ``augment-train-demo-q`` to rebuild it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from augmenter.checkpoint import load_checkpoint, save_checkpoint
from augmenter.quality.model import DEMO_Q
from augmenter.quality.simulated import build_simulated_set
from augmenter.quality.train import QTrainConfig, QTrainResult, train_q


@dataclass(frozen=True)
class DemoQRecipe:
    identities: int = 16
    size: int = 64
    per_face: int = 2
    epochs: int = 30
    seed: int = 0


def export_inference_checkpoint(src: Path, dst: Path, note: str) -> Path:
    """Copy a Q checkpoint's weights (float16) and config without optimizer state: a small asset."""
    ckpt = load_checkpoint(src, kind="q")
    weights = {k: v.half() if v.is_floating_point() else v for k, v in ckpt.model.items()}
    return save_checkpoint(dst, kind="q", model=weights, step=ckpt.step, config=ckpt.config,
                           vocabularies=ckpt.vocabularies, extra={"provenance": note})


def train_demo_q(work: Path, recipe: DemoQRecipe = DemoQRecipe(), asset: Path = DEMO_Q,
                 progress=None) -> QTrainResult:
    """Build the simulated-rater set under ``work``, train Q on it, export the best weights to ``asset``."""
    data = build_simulated_set(work / "simulated", identities=recipe.identities, size=recipe.size,
                               per_face=recipe.per_face, seed=recipe.seed)
    config = QTrainConfig(data=str(work / "simulated"), out=str(work / "q_run"), image_size=64, base_width=16,
                          epochs=recipe.epochs, seed=recipe.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    result = train_q(config, progress=progress)
    metrics = result.best_metrics
    note = (f"demo Q: trained by pipelines/demo_models.py on {len(data.table)} simulated-rater images "
            f"({recipe}); held-out identities val SROCC {metrics.get('srocc')}; simulated labels, not human ratings")
    export_inference_checkpoint(work / "q_run" / "best.pt", asset, note)
    return result


@dataclass(frozen=True)
class DemoLeganRecipe:
    identities: int = 32
    size: int = 64
    attr_epochs: int = 8
    steps: int = 3600
    minutes: float = 60.0
    paired_weight: float = 10.0
    seed: int = 0


def export_generator(src: Path, dst: Path, note: str) -> Path:
    """Keep only the EMA generator (float16) and what rebuilds it: the shipped demo LEGAN."""
    ckpt = load_checkpoint(src)
    weights = {k: v.half() if v.is_floating_point() else v for k, v in ckpt.ema["generator"].items()}
    return save_checkpoint(dst, kind=ckpt.kind, model={"generator": weights}, step=ckpt.step,
                           config={k: ckpt.config[k] for k in ("arch", "image_size", "generator")},
                           vocabularies=ckpt.vocabularies, extra={"provenance": note})


def train_demo_legan(work: Path, recipe: DemoLeganRecipe = DemoLeganRecipe(), asset: Path | None = None,
                     log=print) -> Path:
    """Render the sample, train the attribute classifier and the paired LEGAN with the demo Q; export it.

    The same steps as the README's commands: ``augment sample``, ``augment train-attr``,
    ``augment train-legan --paired-weight 10 --q <demo Q> --attr <classifier>``.
    """
    from augmenter.classify.train_attr import AttrTrainConfig, train_attribute_classifier
    from augmenter.gan.models import DEMO_LEGAN
    from augmenter.gan.train import GanTrainConfig, LossWeights, train_gan
    from augmenter.sample.tree import SampleConfig, render_sample

    sample = work / "sample"
    render_sample(sample, SampleConfig(identities=recipe.identities, size=recipe.size, seed=recipe.seed))
    spec = [f"sample:{sample}"]
    train_attribute_classifier(AttrTrainConfig(data=spec, out=str(work / "attr"), image_size=recipe.size,
                                               epochs=recipe.attr_epochs, seed=recipe.seed))
    run = work / "legan_paired_q"
    result = train_gan(GanTrainConfig(data=spec, out=str(run), arch="legan", image_size=recipe.size,
                                      steps=recipe.steps, minutes=recipe.minutes, q=str(DEMO_Q),
                                      attr=str(work / "attr" / "best.pt"), seed=recipe.seed, eval_every=200,
                                      grid_every=400, weights=LossWeights(paired=recipe.paired_weight)), log=log)
    note = (f"demo LEGAN: trained by pipelines/demo_models.py on the built-in sample ({recipe}); "
            f"{result.steps_done} steps in {result.wall_s / 60:.0f} min; rendered faces only")
    return export_generator(run / "last.pt", asset or DEMO_LEGAN, note)
