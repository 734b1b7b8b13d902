"""Which splits are for evaluation: the one place the toolkit decides it.

Readers map each dataset's own split names onto the canonical record splits of
:data:`augmenter.datasets.record.SPLITS` (``"train"``, ``"val"``, ``"test"``, or ``"unknown"``):

==============================  ====================================================================
dataset                         where the split comes from
==============================  ====================================================================
``fer2013`` (folders)           ``train``/``training``; ``val``/``valid``/``validation``/``PublicTest``;
                                ``test``/``PrivateTest`` (any case; :data:`SPLIT_NAMES`)
``fer2013`` (``fer2013.csv``)   ``Usage``: ``Training`` / ``PublicTest`` / ``PrivateTest``
``affectnet``                   ``training.csv`` -> train, ``validation.csv`` -> val; another ``--csv``
                                by its file stem through :data:`SPLIT_NAMES`, else unknown
``casia``, ``folder``,          no splits: ``"unknown"``, which counts as training (the user chose
``class-folder``, ``multipie``,   those folders to learn from; held-out identities are the trainers'
``yaleb``, ``sample``             own hash split)
``manifest``                    rows carry no split; an ``augment expand`` manifest's ``source_split``
                                column says where each row's source came from (:func:`record_split`)
==============================  ====================================================================

``val`` and ``test`` (:data:`~augmenter.datasets.record.EVAL_SPLITS`) are evaluation splits: no trainer
learns from them and ``augment expand`` does not expand them unless asked (``--include-eval-splits``),
because a variant of an evaluation face in a training set is a leak (see
:mod:`augmenter.datasets.leak`).

Example:
    >>> canonical_split("PublicTest"), is_evaluation_split("PrivateTest"), is_evaluation_split("unknown")
    ('val', True, False)
"""
from __future__ import annotations

from collections.abc import Iterable

from augmenter.datasets.record import EVAL_SPLITS, SPLITS, UNKNOWN, FaceRecord

__all__ = ["EVAL_SPLITS", "SPLITS", "SPLIT_NAMES", "VALIDATION_SPLIT", "canonical_split", "is_evaluation_split",
           "is_validation_split", "partition_by_split", "record_split"]

VALIDATION_SPLIT = "val"
"""The canonical name of a dataset's validation split (what trainers select checkpoints on)."""

SPLIT_NAMES: dict[str, str] = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "publictest": "val",
    "test": "test", "privatetest": "test",
}
"""Split name as datasets write it, lower case -> canonical split. Covers FER-2013's folders and its csv's
``Usage`` values, AffectNet's file-list stems and the canonical names themselves."""


def canonical_split(name: str | None) -> str:
    """The canonical split of a name datasets use (any case), ``"unknown"`` for anything else (``None``,
    ``""``, a name no dataset uses). Canonical names map to themselves, so calling it twice is harmless."""
    if not name:
        return UNKNOWN
    return SPLIT_NAMES.get(str(name).strip().lower(), UNKNOWN)


def is_evaluation_split(name: str | None) -> bool:
    """Whether ``name`` (a record's split or a dataset's own name for it) is an evaluation split:
    validation or test. Unknown splits are not: a dataset without splits is training data."""
    return canonical_split(name) in EVAL_SPLITS


def is_validation_split(name: str | None) -> bool:
    """Whether ``name`` is the validation split (``val``, ``validation``, FER's ``PublicTest``...)."""
    return canonical_split(name) == VALIDATION_SPLIT


def record_split(record: FaceRecord) -> str:
    """The canonical split ``record`` belongs to: its own, else (a manifest row, which has none) the
    ``source_split`` the manifest recorded for its source; ``"unknown"`` when neither is known."""
    own = canonical_split(record.split)
    return own if own != UNKNOWN else canonical_split(record.extra.get("source_split"))


def partition_by_split(records: Iterable[FaceRecord]) -> tuple[list[FaceRecord], list[FaceRecord]]:
    """``(training, evaluation)`` records, order kept: evaluation are those whose :func:`record_split`
    is validation or test, training all the others (train and unknown)."""
    training, evaluation = [], []
    for record in records:
        (evaluation if is_evaluation_split(record_split(record)) else training).append(record)
    return training, evaluation
