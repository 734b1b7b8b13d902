"""Dataset specs on the command line (``NAME:ROOT``) and identity-disjoint held-out splits.

A spec names a reader and its root, e.g. ``sample:build/demo/sample``, ``yaleb:../shared/data/yaleb``,
``fer2013:../shared/data/fer2013``, ``affectnet:/data/AffectNet``. Several specs train one model on the
union of their records; each record keeps the labels its dataset gives ("unknown" for the others).

Held-out identities are chosen by a hash of (dataset, identity), not by position, so every tool (GAN
training, the attribute classifier, evaluation) agrees on them for the same fraction whatever the
order or number of records. Records without an identity fall back to a hash of their path.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from augmenter.datasets.record import UNKNOWN, FaceRecord
from augmenter.datasets.registry import DATASETS, read_dataset
from augmenter.skips import SkipReport


def parse_spec(spec: str) -> tuple[str, Path]:
    """``"NAME:ROOT"`` -> ``(name, root)``; a clear ``ValueError`` for an unknown name or no colon."""
    name, sep, root = spec.partition(":")
    if not sep or not root:
        raise ValueError(f"dataset spec {spec!r} is not NAME:ROOT (e.g. sample:build/demo/sample)")
    if name not in DATASETS:
        raise ValueError(f"dataset spec {spec!r}: unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return name, Path(root)


def read_specs(specs: list[str]) -> tuple[list[FaceRecord], SkipReport]:
    """The records of every spec, concatenated in spec order, and their merged skips."""
    records: list[FaceRecord] = []
    skips = SkipReport()
    for spec in specs:
        name, root = parse_spec(spec)
        listing = read_dataset(name, root)
        records.extend(listing.records)
        skips.merge(listing.skips)
    return records, skips


def is_held_out(record: FaceRecord, fraction: float, seed: int = 0) -> bool:
    """Whether ``record``'s identity falls in the held-out ``fraction`` (deterministic, by hash)."""
    if fraction <= 0:
        return False
    key = record.identity if record.identity != UNKNOWN else str(record.path)
    digest = hashlib.sha256(f"{seed}|{record.dataset}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < fraction


def split_held_out(records: list[FaceRecord], fraction: float, seed: int = 0) -> tuple[list[FaceRecord], list[FaceRecord]]:
    """``(train, held_out)`` with no identity in both."""
    held = [is_held_out(r, fraction, seed) for r in records]
    return [r for r, h in zip(records, held) if not h], [r for r, h in zip(records, held) if h]


def split_by_identities(records: list[FaceRecord], held_out: Iterable[str]) -> tuple[list[FaceRecord], list[FaceRecord]]:
    """``(train, held_out)``: the records of the named identities held out, the rest trained on.

    For a split a hash cannot give: e.g. testing only on the people a generator never trained on, so
    neither the verifier nor the variants it trains on has seen a test person. ``ValueError`` naming the
    identities that have no record (a typo would otherwise hold out nobody).
    """
    wanted = set(held_out)
    missing = sorted(wanted - {r.identity for r in records})
    if missing:
        raise ValueError(f"held-out identities not in the data: {', '.join(missing)}")
    return [r for r in records if r.identity not in wanted], [r for r in records if r.identity in wanted]
