"""``train-expression``: an expression classifier on AffectNet, FER-2013 or class folders, with a choice of
class-imbalance remedy.

Remedies (``remedy``):

- ``none``: plain cross-entropy, samples drawn uniformly;
- ``sampler``: each draw picks a class uniformly, then an image of it (weights 1/count);
- ``reweight``: cross-entropy weighted by inverse class frequency (mean weight 1 over the samples);
- ``synthetic``: the kept rows of synthetic manifests (``rebalance-affectnet``, ``augment expand``) join
  the training set under their expression, samples drawn uniformly. Rows made from a validation or test
  face (their ``source_split``, or their source file is one of the run's evaluation images, the hash
  hold-out included) are refused and counted in one logged line (:mod:`augmenter.datasets.leak`);
- ``synthetic+sampler``: both — the synthetic rows join, then each draw picks a class uniformly and an
  image of it among the real and synthetic ones. Where a rare class stays short of its quota (few
  synthetic faces kept) the sampler still gives it its share of draws, and the synthetic faces make
  those draws more varied than the sampler's repeats of the same few real images. With
  ``synthetic_share`` the synthetic faces of a class take that share of the class's draws (its real
  images the rest) instead of their share of its images: 3,000 relit faces of 400 real ones would
  otherwise take 88 % of the class's draws.

Validation: the dataset's own validation split (FER-2013 ``validation``, AffectNet ``val``), else
identities (or files) held out by hash. Reported every epoch: accuracy, balanced accuracy (mean
per-class recall) and macro-F1; ``best.pt`` is the epoch with the best balanced accuracy.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from augmenter.attributes import EMOTIONS, EXPRESSIONS
from augmenter.datasets.leak import EvaluationSources
from augmenter.datasets.record import UNKNOWN
from augmenter.datasets.spec import read_specs, split_held_out
from augmenter.datasets.splits import is_evaluation_split, is_validation_split
from augmenter.errors import DatasetFormatError
from augmenter.nets.backbones import BACKBONES, backbone_config, build_backbone
from augmenter.device import resolve_device
from recognition.data import (class_balanced_weights, data_root, inverse_frequency_loss_weights, real_samples,
                              require_training_records, split_counts, synthetic_flags, synthetic_samples,
                              training_records)
from recognition.embedding import embed_batches
from recognition.heads import ClassifierHead
from recognition.metrics import classification_metrics
from recognition.trainer import (OPTIMIZERS, Classifier, TrainResult, TrainSetup, check_choice, check_run_folder,
                                 train_loop)

REMEDIES = ("none", "sampler", "reweight", "synthetic", "synthetic+sampler")
SYNTHETIC_REMEDIES = ("synthetic", "synthetic+sampler")  # the remedies that read --synthetic manifests


@dataclass
class ExpressionConfig:
    """Settings of one ``train-expression`` run (saved in ``config.json`` and every checkpoint)."""

    data: list[str]                      # dataset specs NAME:ROOT (fer2013:DIR, affectnet:DIR, class-folder:DIR)
    out: str
    remedy: str = "none"
    synthetic: list[str] = field(default_factory=list)
    backbone: str = "small_resnet"
    width: int = 16
    embedding_size: int = 256
    image_size: int = 48
    epochs: int = 10
    epoch_size: int | None = None        # draws per epoch (default: all samples); equal budgets across runs
    batch_size: int = 128
    lr: float = 2e-3
    optimizer: str = "adamw"
    weight_decay: float = 5e-4
    shift: int = 3
    holdout: float = 0.1
    max_train: int | None = None         # first N training images after a seeded shuffle (quick runs)
    seed: int = 0
    workers: int = 2
    device: str = "auto"
    checkpoint_every: int = 200
    synthetic_share: float | None = None  # synthetic+sampler: the synthetic faces' share of each class's draws

    def __post_init__(self) -> None:
        """Refuse settings no run can use (``train-expression`` prints the message as a one-line error)."""
        check_choice("remedy", self.remedy, REMEDIES)
        check_choice("backbone", self.backbone, BACKBONES)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.uses_synthetic and not self.synthetic:
            raise ValueError(f"remedy {self.remedy!r} needs at least one --synthetic MANIFEST")
        if self.synthetic_share is not None:
            if self.remedy != "synthetic+sampler":
                raise ValueError("synthetic_share goes with remedy 'synthetic+sampler'")
            check_synthetic_share(self.synthetic_share)
        if self.max_train is not None and self.max_train < 1:
            raise ValueError(f"max_train must be at least 1, got {self.max_train}")

    @property
    def uses_synthetic(self) -> bool:
        return self.remedy in SYNTHETIC_REMEDIES

    @property
    def class_balanced(self) -> bool:
        return self.remedy in ("sampler", "synthetic+sampler")


def check_synthetic_share(share: float) -> None:
    """Refuse a synthetic share of draws outside [0, 1] (``train-expression`` and ``rebalance-affectnet --train``)."""
    if not 0 <= share <= 1:
        raise ValueError(f"synthetic_share must be in [0, 1], got {share}")


def expression_classes(labels: list[str]) -> list[str]:
    """The expressions present, in the toolkit's order (emotions first, as AffectNet numbers them)."""
    order = list(EMOTIONS) + [e for e in EXPRESSIONS if e not in EMOTIONS]
    return [e for e in order if e in set(labels)]


def train_expression(config: ExpressionConfig, progress: Callable[[dict], None] | None = None,
                     log: Callable[[str], None] = print) -> TrainResult:
    """Train (or resume) an expression classifier; see the module docstring."""
    device = resolve_device(config.device)
    check_run_folder(config.out)
    records, skips = read_specs(list(config.data))
    evaluation_files = [r.path for r in records if is_evaluation_split(r.split)]  # labelled or not: never a source
    records = [r for r in records if r.expression != UNKNOWN]
    if not records:
        raise ValueError(f"no expression-labelled images in {', '.join(config.data)}")
    val = [r for r in records if is_validation_split(r.split)]
    train = training_records(records, log)
    if not train:
        raise DatasetFormatError(data_root(config.data), f"no training images: the train split is missing or empty "
                                                         f"(expression-labelled images: {split_counts(records)}); "
                                                         "FER-2013 trains on <root>/train/<emotion>/")
    if not val:
        train, val = split_held_out(train, config.holdout, config.seed)
        require_training_records(train, val, config.data, "validation hold-out")
    if config.max_train is not None and len(train) > config.max_train:
        keep = np.random.default_rng(config.seed).permutation(len(train))[:config.max_train]
        train = [train[i] for i in sorted(keep)]
    classes = expression_classes([r.expression for r in train])
    key = lambda r: r.expression  # noqa: E731
    samples = real_samples(train, classes, key)
    if config.uses_synthetic:
        evaluation = EvaluationSources.of([*evaluation_files, *(r.path for r in val)])  # val: maybe the hash hold-out
        synthetic = synthetic_samples(config.synthetic, classes, key, skips, evaluation, log)
        log(f"synthetic: {len(synthetic)} kept image(s) from {len(config.synthetic)} manifest(s)")
        samples += synthetic
    labels = np.array([s.label for s in samples])
    counts = np.bincount(labels, minlength=len(classes))
    log(f"train: {len(samples)} image(s), " + ", ".join(f"{c} {k}" for c, k in zip(classes, counts))
        + f"; validation: {len(val)}")
    val_samples = real_samples(val, classes, key)
    val_paths = [s.path for s in val_samples]
    val_labels = np.array([s.label for s in val_samples])

    torch.manual_seed(config.seed)  # the initial weights are part of the run's seeded result
    backbone = build_backbone(config.backbone, config.embedding_size, config.image_size, width=config.width)
    model = Classifier(backbone, ClassifierHead("softmax", config.embedding_size, len(classes)))

    def validate(m: Classifier) -> dict:
        embeddings, errors = embed_batches(m.backbone, val_paths, config.image_size, device, workers=config.workers,
                                           normalise=False)
        ok = ~np.isnan(embeddings).any(1) if embeddings.shape[1] else np.zeros(len(val_paths), dtype=bool)
        with torch.inference_mode():
            logits = m.head(torch.from_numpy(embeddings[ok]).to(device))
        predicted = logits.argmax(1).cpu().numpy()
        metrics = classification_metrics(val_labels[ok], predicted, len(classes))
        metrics["unreadable"] = len(errors)
        return metrics

    setup = TrainSetup(
        kind="expression", out=Path(config.out), config=asdict(config),
        backbone_config=backbone_config(config.backbone, config.embedding_size, config.image_size, config.width),
        samples=samples, vocabularies={"expression": classes}, epochs=config.epochs, batch_size=config.batch_size,
        lr=config.lr, optimizer=config.optimizer, weight_decay=config.weight_decay, image_size=config.image_size,
        shift=config.shift, seed=config.seed, workers=config.workers, device=config.device,
        checkpoint_every=config.checkpoint_every,
        sample_weights=(class_balanced_weights(labels, len(classes), synthetic_flags(samples), config.synthetic_share)
                        if config.class_balanced else None),
        loss_weights=inverse_frequency_loss_weights(labels, len(classes)) if config.remedy == "reweight" else None,
        select="balanced_accuracy", skips=skips, epoch_size=config.epoch_size)
    return train_loop(setup, model, validate if len(val_samples) else None, progress=progress, log=log)
