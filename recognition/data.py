"""Training data of the recognition trainers: real records plus synthetic manifests, as labelled samples.

A :class:`Sample` is a path, a class index and a sampling weight. Synthetic images come from expansion
manifests (``augment expand``, ``rebalance-affectnet``): only kept rows, each joining the class of its
``identity`` (verification) or ``expression`` (expression recognition); a row whose file is missing or
whose class is not among the real data's is counted in the skips, never fatal. Rows made from the
trainer's evaluation faces are refused (:mod:`augmenter.datasets.leak`), counted and reported.

Mixing (:func:`mixing_weights`): by default every sample is drawn equally often. With
``synthetic_ratio = r`` the synthetic pool gets probability ``r`` of each draw and the real images
``1 - r`` (uniform within each); with ``q_weighted`` a synthetic image's share within its pool is
proportional to its ``q_score``.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from augmenter.datasets.leak import EvaluationSources, combine_checks, guard_synthetic_records
from augmenter.datasets.manifest import manifest_records
from augmenter.datasets.record import FaceRecord
from augmenter.datasets.spec import parse_spec
from augmenter.datasets.splits import is_evaluation_split, record_split
from augmenter.errors import DatasetFormatError
from augmenter.image_dataset import ImageDataset, partition_failures, stack_images
from augmenter.skips import SkipReport


@dataclass(frozen=True)
class Sample:
    path: str
    label: int
    synthetic: bool = False
    q_score: float = math.nan


def data_root(specs: Sequence[str]) -> Path:
    """The folder an error about the training data names: the root of the one spec, else every spec's
    root, comma-separated."""
    roots = [str(parse_spec(spec)[1]) for spec in specs]
    return Path(roots[0] if len(roots) == 1 else ", ".join(roots))


def split_counts(records: Sequence[FaceRecord]) -> str:
    """``"test 4, val 12"``: how many records each split holds."""
    return ", ".join(f"{split} {n}" for split, n in sorted(Counter(r.split for r in records).items()))


def require_training_records(train: Sequence[FaceRecord], held_out: Sequence[FaceRecord], specs: Sequence[str],
                             held_out_as: str) -> None:
    """DatasetFormatError naming the data root(s) when ``train`` is empty because every image went to
    ``held_out`` (described as ``held_out_as``), so that nothing trains on an empty set."""
    if not train:
        raise DatasetFormatError(data_root(specs), f"no training images left: all {len(held_out)} image(s) fall in "
                                                   f"the {held_out_as}; add images or lower the hold-out")


def training_records(records: Sequence[FaceRecord], log: Callable[[str], None]) -> list[FaceRecord]:
    """The records a trainer may learn from: none of a validation/test split and, for the rows of a manifest
    given as ``--data`` (which carry no split of their own), none made from a face of one (their
    ``source_split``); those rows are counted in one logged line, as the synthetic ones are."""
    kept = [r for r in records if not is_evaluation_split(record_split(r))]
    leaked = sum(not is_evaluation_split(r.split) and is_evaluation_split(record_split(r)) for r in records)
    if leaked:
        log(f"refused {leaked} manifest row(s) of --data whose source is in an evaluation split")
    return kept


def real_samples(records: Sequence[FaceRecord], classes: Sequence[str], key) -> list[Sample]:
    """Samples of ``records`` whose ``key(record)`` is in ``classes`` (others are dropped by the caller's choice
    of classes, e.g. an excluded expression)."""
    index = {c: i for i, c in enumerate(classes)}
    return [Sample(str(r.path), index[key(r)]) for r in records if key(r) in index]


def synthetic_samples(manifests: Sequence[str | Path], classes: Sequence[str], key, skips: SkipReport,
                      evaluation: EvaluationSources | None = None,
                      log: Callable[[str], None] | None = None) -> list[Sample]:
    """Kept synthetic rows of every manifest whose class (``key(record)``) is among ``classes``; the rest
    counted. Real rows (``generator_hash`` ``""``, as in a ``rebalance-affectnet`` manifest) are skipped:
    those images are already in the real training data.

    With ``evaluation`` (the trainer's validation and test images), rows made from an evaluation face are
    refused (:func:`augmenter.datasets.leak.check_synthetic_sources`), counted in ``skips`` and reported
    in one line to ``log``: training on them would measure the model on faces it has seen.

    Raises :class:`DatasetFormatError` when manifests are given but not one of their rows is usable (every
    image missing, refused or of an unknown class): a "with synthetic faces" run without any would
    silently be a second real-only run."""
    index = {c: i for i, c in enumerate(classes)}
    out = []
    checks = []
    own = SkipReport()
    for manifest in manifests:
        records, missing = manifest_records(manifest, kept_only=True)
        own.merge(missing)
        records = [r for r in records if r.extra.get("generator_hash")]
        if evaluation is not None:
            records, check = guard_synthetic_records(records, evaluation, own, Path(manifest).name)
            checks.append(check)
        for r in records:
            label = key(r)
            if label not in index:
                own.add("synthetic class not in the real data", f"{Path(manifest).name}: {r.path} ({label})")
                continue
            q = r.extra.get("q_score", "")
            out.append(Sample(str(r.path), index[label], True, float(q) if q else math.nan))
    skips.merge(own)
    if evaluation is not None and log is not None:
        log(combine_checks(checks).line())
    if manifests and not out:
        reasons = ", ".join(f"{n} {reason}" for reason, n in own.counts.most_common()) or "no kept synthetic row"
        raise DatasetFormatError(Path(manifests[0]), f"not one usable synthetic image in {len(manifests)} manifest(s) "
                                                     f"({reasons}); image paths resolve against each manifest's folder")
    return out


def synthetic_flags(samples: Sequence[Sample]) -> np.ndarray:
    return np.array([s.synthetic for s in samples], dtype=bool)


def mixing_weights(samples: Sequence[Sample], synthetic_ratio: float | None = None, q_weighted: bool = False) -> np.ndarray:
    """Per-sample draw probabilities (sum 1); see the module docstring."""
    synthetic = synthetic_flags(samples)
    n_syn, n_real = int(synthetic.sum()), int((~synthetic).sum())
    weights = np.ones(len(samples), dtype=np.float64)
    if q_weighted and n_syn:
        q = np.array([s.q_score for s in samples], dtype=np.float64)
        weights[synthetic] = np.where(np.isfinite(q[synthetic]), np.clip(q[synthetic], 1e-3, None), 1e-3)
    if synthetic_ratio is not None and n_syn and n_real:
        if not 0 <= synthetic_ratio < 1:
            raise ValueError(f"synthetic ratio must be in [0, 1), got {synthetic_ratio}")
        weights[synthetic] *= synthetic_ratio / weights[synthetic].sum()
        weights[~synthetic] *= (1 - synthetic_ratio) / weights[~synthetic].sum()
    return weights / weights.sum()


def class_balanced_weights(labels: np.ndarray, n_classes: int, synthetic: np.ndarray | None = None,
                           share: float | None = None) -> np.ndarray:
    """Draw probabilities with each class equally likely, normalised: ``1 / count(class)`` per sample, or
    with ``share`` the class's synthetic samples (``synthetic`` flags) take ``share`` of its draws and its
    real ones the rest (a class with only one kind keeps all its draws on it).

    Example:
        >>> class_balanced_weights(np.array([0, 0, 1, 1, 1]), 2, np.array([0, 0, 0, 1, 1], bool), 0.5).round(3)
        array([0.25 , 0.25 , 0.25 , 0.125, 0.125])
    """
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = 1.0 / counts[labels]
    if share is not None and synthetic is not None:
        for c in range(n_classes):
            real, fake = (labels == c) & ~synthetic, (labels == c) & synthetic
            if real.any() and fake.any():
                weights[real], weights[fake] = (1 - share) / real.sum(), share / fake.sum()
    return weights / weights.sum()


def inverse_frequency_loss_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """Cross-entropy class weights ``n / (n_classes_present * count)`` (mean 1 over the samples); 0 for
    classes with no sample."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = len(labels) / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


class FaceSamples(ImageDataset):
    """Item ``i``: ``(i, (3, S, S) uint8 image, label, error)``: the shared
    :class:`augmenter.image_dataset.ImageDataset` item with the sample's label inserted before the error.

    Of its own it keeps the training augmentation, applied in :meth:`prepare` on top of the shared decode and
    resize: training items get a random horizontal flip and a random shift of up to ``shift`` pixels
    (edge-replicated), seeded by ``(seed, epoch, i)`` so a resumed epoch sees the same pixels (the trainer sets
    ``epoch``). A failed decode gives an empty image and its one-line error."""

    def __init__(self, samples: Sequence[Sample], size: int, train: bool = False, shift: int = 0, seed: int = 0):
        super().__init__([s.path for s in samples], size)
        self.labels = [s.label for s in samples]
        self.train, self.shift, self.seed = train, shift, seed
        self.epoch = 0

    def prepare(self, index: int, image: np.ndarray) -> np.ndarray:
        """The resized crop, flipped and shifted as ``(seed, epoch, index)`` draws when training."""
        image = super().prepare(index, image)
        if not self.train:
            return image
        rng = np.random.default_rng((self.seed, self.epoch, index))
        if rng.random() < 0.5:
            image = image[:, ::-1]
        if self.shift:
            dx, dy = rng.integers(-self.shift, self.shift + 1, size=2)
            matrix = np.float32([[1, 0, dx], [0, 1, dy]])
            image = cv2.warpAffine(np.ascontiguousarray(image), matrix, (self.size, self.size),
                                   borderMode=cv2.BORDER_REPLICATE)
        return image

    def __getitem__(self, i: int):
        i, image, error = super().__getitem__(i)
        return i, image, self.labels[i], error


def collate_samples(batch):
    """``(indices (B,), images (B, 3, S, S) uint8, labels (B,), errors)``; failed items dropped."""
    good, failures = partition_failures(batch, error_at=3)
    indices, images = stack_images(good)
    labels = torch.tensor([item[2] for item in good], dtype=torch.long)
    return indices, images, labels, [message for _, message in failures]
