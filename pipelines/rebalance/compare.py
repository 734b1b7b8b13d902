"""``--train``: does the rebalanced set make a better classifier? Train one expression classifier per
remedy with the same seed, backbone and budget, evaluate each on the validation split, tabulate.

Budget: every run takes ``epochs x (real training images / batch)`` optimizer steps — the rebalanced run
draws that many images per epoch from its larger pool (``epoch_size`` = the real set's size), so adding
synthetic faces never buys extra training. Rows: ``none`` (baseline, real only), ``synthetic`` (real +
the kept synthetic faces) and any further remedies asked for (``sampler``, ``reweight``). Figures are
those of each run's best epoch by balanced accuracy, as ``train-expression`` selects ``best.pt``.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from augmenter.checkpoint import load_checkpoint
from evaluation.outputs import write_result
from evaluation.report import compare_results, to_markdown
from recognition.train_expression import ExpressionConfig, train_expression


@dataclass
class CompareSettings:
    epochs: int = 8
    batch_size: int = 128
    remedies: tuple[str, ...] = ("none", "synthetic")
    image_size: int = 48
    backbone: str = "small_resnet"
    workers: int = 1
    device: str = "auto"


def run_metrics(best: dict, classes: Sequence[str], minutes: float) -> dict:
    """The comparable figures of one run: overall metrics and per-class recall keyed by class name."""
    recall = best.get("per_class_recall") or []
    return {"accuracy": best.get("accuracy"), "balanced_accuracy": best.get("balanced_accuracy"),
            "macro_f1": best.get("macro_f1"), "best_epoch": best.get("epoch"),
            "per_class_recall": dict(zip(classes, recall)), "train_minutes": round(minutes, 2)}


def train_and_compare(data: str, manifest: Path, out: Path, n_real: int, settings: CompareSettings, seed: int = 0,
                      log: Callable[[str], None] = print) -> dict:
    """Train every remedy of ``settings`` on ``data`` (``NAME:ROOT``); returns and writes the comparison."""
    results, labels = [], []
    for remedy in settings.remedies:
        config = ExpressionConfig(data=[data], out=str(out / remedy), remedy=remedy,
                                  synthetic=[str(manifest)] if remedy == "synthetic" else [],
                                  backbone=settings.backbone, image_size=settings.image_size, epochs=settings.epochs,
                                  epoch_size=n_real, batch_size=settings.batch_size, seed=seed,
                                  workers=settings.workers, device=settings.device)
        start = time.perf_counter()
        result = train_expression(config, log=log)
        classes = load_checkpoint(out / remedy / "best.pt", kind="expression").vocabularies["expression"]
        results.append(run_metrics(result.best, classes, (time.perf_counter() - start) / 60))
        labels.append(remedy)
        log(f"{remedy}: balanced accuracy {result.best.get('balanced_accuracy'):.4f}")
    table = compare_results(results, labels=labels)
    markdown = "# Expression classifier: baseline vs rebalanced\n\n" + to_markdown(table) + "\n"
    comparison = {"runs": dict(zip(labels, results)), "epochs": settings.epochs, "epoch_size": n_real,
                  "seed": seed, "data": data, "manifest": str(manifest)}
    write_result(out, "compare", comparison, markdown)
    return comparison
