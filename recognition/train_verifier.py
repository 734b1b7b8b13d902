"""``train-verifier``: a face verifier (backbone + margin head over identities) on an identity-folder set
plus optional synthetic manifests.

- Classes are the training set's identities; a synthetic image (kept rows of ``augment expand``
  manifests) joins its source identity's class, and is counted and left out when that identity is
  not in the real data. Images of a dataset's validation/test split are never trained on, and synthetic
  rows made from them, from held-out identities or from the validation pairs' images are refused and
  counted in one logged line (:mod:`augmenter.datasets.leak`).
- Mixing: all images equally (default), ``synthetic_ratio`` of the draws from the synthetic pool, and
  optionally ``q_weighted`` within it (see :mod:`recognition.data`).
- ``holdout``: the share of identities held out by the toolkit's hash split (as ``train-attr`` and
  ``train-legan`` hold them out) is never trained on, so pairs can be drawn from unseen people.
- ``max_light_angle``: keep only images whose light comes from within this many degrees of frontal
  (Yale B's azimuth/elevation; Multi-PIE's flash directions); images with no known direction stay.
- ``expressions``: keep only images showing one of these expressions (empty: all).
- Validation (``val_pairs``, LFW ``pairs.txt`` format or a ``first,second,same`` CSV): accuracy at the
  best threshold and ROC AUC of cosine similarities after every epoch; ``best.pt`` = best accuracy.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from augmenter.attributes import FLASH_DIRECTIONS, angle_between
from augmenter.datasets.pairs import read_pairs
from augmenter.datasets.leak import EvaluationSources
from augmenter.datasets.record import UNKNOWN, FaceRecord
from augmenter.datasets.spec import parse_spec, read_specs, split_by_identities, split_held_out
from augmenter.datasets.splits import is_evaluation_split
from augmenter.errors import DatasetFormatError
from augmenter.expand.plan import own_expression
from augmenter.nets.backbones import BACKBONES, backbone_config, build_backbone
from augmenter.device import resolve_device
from recognition.data import (data_root, mixing_weights, real_samples, require_training_records, synthetic_samples,
                              training_records)
from recognition.embedding import embed_batches
from recognition.heads import HEADS, ClassifierHead
from recognition.metrics import best_threshold_accuracy, roc_auc
from recognition.trainer import (OPTIMIZERS, Classifier, TrainResult, TrainSetup, check_choice, check_run_folder,
                                 train_loop)


@dataclass
class VerifierConfig:
    """Settings of one ``train-verifier`` run (saved in ``config.json`` and every checkpoint)."""

    data: list[str]                       # NAME:ROOT specs: casia:DIR, folder:DIR, yaleb:DIR...
    out: str
    synthetic: list[str] = field(default_factory=list)
    synthetic_ratio: float | None = None
    q_weighted: bool = False
    val_pairs: str | None = None
    val_root: str | None = None           # folder the pair paths are relative to (default: the first data root)
    max_light_angle: float | None = None
    expressions: list[str] = field(default_factory=list)  # train on these expressions only (empty: all)
    holdout: float = 0.0                  # identities held out by hash (the toolkit's split) are not trained on
    held_out_identities: list[str] = field(default_factory=list)  # held out by name instead of by hash
    backbone: str = "mobilefacenet"
    weights: str | None = None            # local facenet-pytorch weights for inception_resnet_v1
    head: str = "arcface"
    scale: float = 64.0
    margin: float | None = None
    embedding_size: int = 512
    image_size: int = 112
    epochs: int = 20
    epoch_size: int | None = None         # draws per epoch (default: all samples); equal budgets across runs
    batch_size: int = 128
    lr: float = 0.1
    optimizer: str = "sgd"
    weight_decay: float = 5e-4
    shift: int = 0
    seed: int = 0
    workers: int = 2
    device: str = "auto"
    checkpoint_every: int = 200

    def __post_init__(self) -> None:
        """Refuse settings no run can use (``train-verifier`` prints the message as a one-line error)."""
        check_choice("backbone", self.backbone, BACKBONES)
        check_choice("head", self.head, HEADS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.synthetic_ratio is not None and not 0 <= self.synthetic_ratio < 1:
            raise ValueError(f"synthetic ratio must be in [0, 1), got {self.synthetic_ratio}")


def light_angle(record: FaceRecord) -> float | None:
    """Degrees between the record's light and frontal, when known (Yale B extras, Multi-PIE flashes)."""
    try:
        return angle_between((float(record.extra["azimuth"]), float(record.extra["elevation"])), (0.0, 0.0))
    except (KeyError, ValueError):
        pass
    if record.lighting in FLASH_DIRECTIONS:
        return angle_between(FLASH_DIRECTIONS[record.lighting], (0.0, 0.0))
    return None


def train_verifier(config: VerifierConfig, progress: Callable[[dict], None] | None = None,
                   log: Callable[[str], None] = print) -> TrainResult:
    """Train (or resume) a verifier; see the module docstring."""
    device = resolve_device(config.device)
    check_run_folder(config.out)
    records, skips = read_specs(list(config.data))
    evaluation_files = [r.path for r in records if is_evaluation_split(r.split)]
    records = training_records([r for r in records if r.identity != UNKNOWN], log)
    if not records:
        raise DatasetFormatError(data_root(config.data), "no identity-labelled images: a verifier trains on "
                                                         "identity folders (folder:DIR, casia:DIR, yaleb:DIR)")
    if config.holdout or config.held_out_identities:
        records, held = (split_by_identities(records, config.held_out_identities) if config.held_out_identities
                         else split_held_out(records, config.holdout, config.seed))
        require_training_records(records, held, config.data, "held-out identities")
        log(f"{len({r.identity for r in held})} identities held out (never trained on)")
        evaluation_files += [r.path for r in held]
    if config.max_light_angle is not None:
        before = len(records)
        records = [r for r in records if (a := light_angle(r)) is None or a <= config.max_light_angle]
        log(f"lighting within {config.max_light_angle:g} degrees of frontal: {len(records)} of {before} image(s)")
    if config.expressions:
        before = len(records)
        records = [r for r in records if any(own_expression(r, e) for e in config.expressions)]  # smile = happy
        log(f"expressions {', '.join(config.expressions)}: {len(records)} of {before} image(s)")
    identities = sorted({f"{r.identity}" for r in records})
    if len(identities) < 2:
        raise DatasetFormatError(data_root(config.data), f"{len(identities)} identity in the training set "
                                                         f"({len(records)} image(s)): a verifier needs two or more")
    key = lambda r: r.identity  # noqa: E731
    samples = real_samples(records, identities, key)
    pairs = None
    if config.val_pairs:
        root = Path(config.val_root) if config.val_root else parse_spec(config.data[0])[1]
        pairs = read_pairs(config.val_pairs, root)
        evaluation_files += [p for pair in pairs for p in (pair.first, pair.second)]
    if config.synthetic:
        synthetic = synthetic_samples(config.synthetic, identities, key, skips, EvaluationSources.of(evaluation_files),
                                      log)
        log(f"synthetic: {len(synthetic)} kept image(s) from {len(config.synthetic)} manifest(s)")
        samples += synthetic
    weights = None
    if config.synthetic and (config.synthetic_ratio is not None or config.q_weighted):
        weights = mixing_weights(samples, config.synthetic_ratio, config.q_weighted)
    log(f"train: {len(samples)} image(s) of {len(identities)} identities")

    torch.manual_seed(config.seed)  # the initial weights are part of the run's seeded result
    backbone = build_backbone(config.backbone, config.embedding_size, config.image_size, weights=config.weights)
    head = ClassifierHead(config.head, config.embedding_size, len(identities), scale=config.scale, margin=config.margin)
    model = Classifier(backbone, head)
    validate = None
    if pairs is not None:
        paths = sorted({str(p) for pair in pairs for p in (pair.first, pair.second)})
        where = {p: i for i, p in enumerate(paths)}
        same = np.array([p.same for p in pairs])
        log(f"validation: {len(pairs)} pair(s) from {config.val_pairs}")

        def pair_validation(m: Classifier) -> dict:
            emb, errors = embed_batches(m.backbone, paths, config.image_size, device, workers=config.workers)
            if emb.shape[1]:
                scores = (emb[[where[str(p.first)] for p in pairs]] * emb[[where[str(p.second)] for p in pairs]]).sum(1)
            else:  # not one image could be read
                scores = np.full(len(pairs), np.nan)
            ok = np.isfinite(scores)
            accuracy, threshold = best_threshold_accuracy(scores[ok], same[ok])
            return {"pair_accuracy": accuracy, "threshold": threshold, "auc": roc_auc(scores[ok], same[ok]),
                    "pairs_scored": int(ok.sum()), "unreadable": len(errors)}

        validate = pair_validation

    setup = TrainSetup(
        kind="verifier", out=Path(config.out), config=asdict(config),
        backbone_config=backbone_config(config.backbone, config.embedding_size, config.image_size),
        samples=samples, vocabularies={"identity": identities}, epochs=config.epochs, batch_size=config.batch_size,
        lr=config.lr, optimizer=config.optimizer, weight_decay=config.weight_decay, image_size=config.image_size,
        shift=config.shift, seed=config.seed, workers=config.workers, device=config.device,
        checkpoint_every=config.checkpoint_every, sample_weights=weights, select="pair_accuracy", skips=skips,
        epoch_size=config.epoch_size)
    return train_loop(setup, model, validate, progress=progress, log=log)
