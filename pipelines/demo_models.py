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
