"""``--train``: does the rebalanced set make a better classifier? Train one expression classifier per
remedy with the same seed, backbone and budget, evaluate each on the validation split, tabulate.

Budget: every run takes ``epochs x (real training images / batch)`` optimizer steps — the rebalanced run
draws that many images per epoch from its larger pool (``epoch_size`` = the real set's size), so adding
synthetic faces never buys extra training. Rows, by default (:data:`DEFAULT_REMEDIES`): ``none`` (real only),
``sampler`` (every class equally likely per draw) and ``synthetic+sampler`` (the kept synthetic faces join and
take ``synthetic_share`` of their class's draws, default a quarter), with further remedies on request
(``synthetic``: real + synthetic drawn as images, ``reweight``). The table over seeds is against the sampler
when it is trained (the remedy a synthetic one must beat: on aligned FER-2013 it is worth 4-5 points of
balanced accuracy over no remedy by itself), otherwise against ``none``. Defaults chosen by measurement
(docs/pipelines.md): 12 epochs (at 5 every arm was still climbing; 12 are worth 5.6 points to the sampler)
and a synthetic share of 0.25 (relit faces at their share of images: −1.8 points against the sampler; at 0.25:
−0.3, level). Figures are those of each run's last epoch (``epoch="last"``, the default): the
validation split is the evaluation set here, and picking each run's best epoch on it (``epoch="best"``, as
``train-expression`` selects ``best.pt``, and as this table did before) would choose on the test data.

Seeds (:func:`train_seeds`): every remedy is trained once per seed (the seed sets the initial weights,
the draw order and the augmentation; the rebalanced manifest is the same for every seed). Seed ``s``
trains in ``TRAIN/seed{s}/{remedy}/`` and writes its own ``TRAIN/seed{s}/compare.json`` / ``.md`` (the
single-seed table above); a rerun resumes or reuses every finished run. The table over seeds (mean ± sd,
paired difference to ``none`` with a 95 % interval, :mod:`pipelines.seed_table`) is ``seeds.md`` /
``seeds.json``.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from augmenter.checkpoint import load_checkpoint
from evaluation.outputs import write_result
from evaluation.report import compare_results, flatten_numbers, to_markdown
from pipelines.seed_table import SeedTable, seed_table, summary_lines, write_seed_table
from recognition.trainer import check_choice
from recognition.train_expression import SYNTHETIC_REMEDIES, ExpressionConfig, check_synthetic_share, train_expression


DEFAULT_REMEDIES = ("none", "sampler", "synthetic+sampler")


@dataclass
class CompareSettings:
    epochs: int = 12
    batch_size: int = 128
    remedies: tuple[str, ...] = DEFAULT_REMEDIES
    image_size: int = 48
    backbone: str = "small_resnet"
    workers: int = 1
    device: str = "auto"
    epoch: str = "last"          # last | best: whose figures are compared (best = chosen on the evaluation split)
    synthetic_share: float | None = 0.25  # synthetic+sampler: the synthetic faces' share of each class's draws

    def __post_init__(self) -> None:
        check_choice("epoch", self.epoch, ("last", "best"))
        if self.synthetic_share is not None:  # refused before the synthesis, not after it
            check_synthetic_share(self.synthetic_share)

    @property
    def baseline(self) -> str:
        """The remedy every other is compared with over seeds: the sampler when trained, else ``none``."""
        for remedy in ("sampler", "none"):
            if remedy in self.remedies:
                return remedy
        return self.remedies[0]


def last_epoch_metrics(run: Path) -> dict:
    """The metrics logged after the last finished epoch of a ``train-expression`` run (its ``log.jsonl``)."""
    lines = (run / "log.jsonl").read_text().splitlines()
    evaluated = [row for row in map(json.loads, filter(str.strip, lines)) if "balanced_accuracy" in row]
    if not evaluated:
        raise ValueError(f"{run / 'log.jsonl'}: no evaluated epoch logged")
    return evaluated[-1]  # lines are appended in training order, a resumed run's after the earlier ones


def run_metrics(epoch: dict, classes: Sequence[str], minutes: float) -> dict:
    """The comparable figures of one run (``epoch``: the metrics of the epoch compared): overall metrics and
    per-class recall keyed by class name."""
    recall = epoch.get("per_class_recall") or []
    return {"accuracy": epoch.get("accuracy"), "balanced_accuracy": epoch.get("balanced_accuracy"),
            "macro_f1": epoch.get("macro_f1"), "epoch": epoch.get("epoch"),
            "per_class_recall": dict(zip(classes, recall)), "train_minutes": round(minutes, 2)}


def train_and_compare(data: str, manifest: Path, out: Path, n_real: int, settings: CompareSettings, seed: int = 0,
                      log: Callable[[str], None] = print) -> dict:
    """Train every remedy of ``settings`` on ``data`` (``NAME:ROOT``); returns and writes the comparison."""
    results, labels = [], []
    for remedy in settings.remedies:
        config = ExpressionConfig(data=[data], out=str(out / remedy), remedy=remedy,
                                  synthetic=[str(manifest)] if remedy in SYNTHETIC_REMEDIES else [],
                                  backbone=settings.backbone, image_size=settings.image_size, epochs=settings.epochs,
                                  epoch_size=n_real, batch_size=settings.batch_size, seed=seed,
                                  workers=settings.workers, device=settings.device,
                                  synthetic_share=settings.synthetic_share if remedy == "synthetic+sampler" else None)
        start = time.perf_counter()
        result = train_expression(config, log=log)
        classes = load_checkpoint(out / remedy / "best.pt", kind="expression").vocabularies["expression"]
        figures = result.best if settings.epoch == "best" else last_epoch_metrics(out / remedy)
        results.append(run_metrics(figures, classes, (time.perf_counter() - start) / 60))
        labels.append(remedy)
        log(f"{remedy}: balanced accuracy {figures.get('balanced_accuracy'):.4f} ({settings.epoch} epoch)")
    table = compare_results(results, labels=labels)
    markdown = f"# Expression classifier: baseline vs rebalanced (seed {seed})\n\n" + to_markdown(table) + "\n"
    comparison = {"runs": dict(zip(labels, results)), "epochs": settings.epochs, "epoch": settings.epoch,
                  "epoch_size": n_real, "seed": seed, "data": data, "manifest": str(manifest)}
    write_result(out, "compare", comparison, markdown)
    return comparison


EPOCH_WORDS = {"last": "last epoch", "best": "best epoch by balanced accuracy on the evaluation split"}
SEED_METRICS_LEFT_OUT = ("epoch", "train_minutes")


def seed_metrics(run: dict) -> dict:
    """The figures of one run that enter the table over seeds: :func:`run_metrics` flattened
    (``per_class_recall.disgust``...), without the epoch number and the training time."""
    return {k: v for k, v in flatten_numbers(run).items() if k not in SEED_METRICS_LEFT_OUT}


def train_seeds(data: str, manifest: Path, out: Path, n_real: int, settings: CompareSettings, seeds: Sequence[int],
                table_out: Path | None = None, log: Callable[[str], None] = print) -> SeedTable:
    """:func:`train_and_compare` once per seed (into ``out/seed{s}``, seed after seed so that every finished
    seed is a complete pair), then the table over seeds against ``settings.baseline``, written as
    ``table_out/seeds.md`` and ``seeds.json`` (``table_out`` default: ``out``).

    Example:
        >>> table = train_seeds("fer2013:data/fer2013", Path("runs/rebal/manifest.parquet"), Path("runs/rebal/train"),
        ...                     28709, CompareSettings(remedies=("none", "sampler", "synthetic")), seeds=[0, 1, 2],
        ...                     table_out=Path("runs/rebal"))                                    # doctest: +SKIP
        >>> table.stats["synthetic"]["balanced_accuracy"].delta.lo                               # doctest: +SKIP
    """
    if not seeds:
        raise ValueError("no seed to train with")
    values: dict[str, dict[int, dict]] = {remedy: {} for remedy in settings.remedies}
    for seed in seeds:
        log(f"seed {seed} ({list(seeds).index(seed) + 1} of {len(seeds)})")
        comparison = train_and_compare(data, manifest, out / f"seed{seed}", n_real, settings, seed=seed, log=log)
        for remedy, run in comparison["runs"].items():
            values[remedy][seed] = seed_metrics(run)
    baseline = settings.baseline
    table = seed_table(values, baseline, context={
        "pipeline": "rebalance-affectnet --train", "data": data, "manifest": str(manifest),
        "runs": {remedy: {str(s): str(out / f"seed{s}" / remedy) for s in seeds} for remedy in settings.remedies},
        "epochs": settings.epochs, "epoch": settings.epoch, "epoch_size": n_real, "backbone": settings.backbone,
        "synthetic_share": settings.synthetic_share,
        "varies with the seed": "initial weights, draw order, augmentation (the rebalanced manifest is fixed)"})
    notes = [f"Expression classifiers on {data}: remedies {', '.join(settings.remedies)}, {settings.epochs} epoch(s) "
             f"of {n_real} draws each, figures of each run's {EPOCH_WORDS[settings.epoch]}"
             + (f"; synthetic+sampler gives the synthetic faces {settings.synthetic_share:g} of each class's draws"
                if "synthetic+sampler" in settings.remedies and settings.synthetic_share is not None else "")
             + ". The seed sets the "
             f"initial weights, draw order and augmentation; the synthetic faces ({manifest}) are the same for "
             f"every seed. Runs: {out}/seed<S>/<remedy>/."]
    write_seed_table(table_out or out, table, f"Expression classifier over seeds: remedies vs {baseline}", notes)
    for line in summary_lines(table, ["balanced_accuracy", "macro_f1", "accuracy"]):
        log(line)
    return table
