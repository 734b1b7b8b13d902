"""Which variants ``augment expand`` makes: targets per source, their seeds, chunks and shards.

Everything here is a pure function of the run's settings and the source listing, so a rerun, a resumed
run and a sharded run plan exactly the same variants:

- a source's targets are a permutation of its candidate targets drawn by a generator seeded from
  ``(seed, source key)``, where the key is the source path relative to the dataset root (moving the
  dataset does not change the plan); variant ``v`` takes entry ``v`` of that permutation, so the
  ``K`` variants of a source are distinct and variant ``v`` is the same whatever ``K``'s neighbours do;
- candidates never include the source's own attribute (compared through the emotion <-> Multi-PIE
  expression mapping, so a FER "happy" face is not given "smile");
- sources are cut into chunks of ``batch_size`` in listing order; a chunk is the unit of work, of
  resuming and of sharding (shard ``i`` of ``N`` takes chunks ``i, i + N, ...``), so every image goes
  through the same batch in every kind of run and the outputs are identical to the byte.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import product

import numpy as np

from augmenter.attributes import emotion_to_expression, expression_to_emotion
from augmenter.datasets.record import UNKNOWN, FaceRecord

MODES = ("lighting", "expression", "both")


@dataclass(frozen=True)
class Target:
    """A variant's requested attributes; ``None`` keeps the source's."""

    lighting: str | None = None
    expression: str | None = None

    @property
    def tag(self) -> str:
        """``L-flash07``, ``E-smile`` or ``L-flash07_E-smile`` (used in file names and the manifest)."""
        parts = ([f"L-{self.lighting}"] if self.lighting else []) + ([f"E-{self.expression}"] if self.expression else [])
        return "_".join(parts)


@dataclass(frozen=True)
class Variant:
    source: int          # index into the listing's records
    index: int           # variant index within its source, 0..K-1
    target: Target
    seed: int            # 63-bit seed derived from (run seed, source key, variant index), recorded in the manifest


def derived_seed(seed: int, key: str, index: int | None = None) -> int:
    """A 63-bit integer from ``(seed, key[, index])``, stable across machines and Python versions."""
    text = f"{seed}|{key}" if index is None else f"{seed}|{key}|{index}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def same_expression(a: str, b: str) -> bool:
    """Whether two expression names mean the same (``happy`` and ``smile`` do)."""
    return a == b or emotion_to_expression(a) == b or expression_to_emotion(a) == b


def own_expression(record: FaceRecord, name: str, classes: Mapping[str, str] | None = None) -> bool:
    """Whether expression ``name`` is the one ``record`` already shows: the same name or its emotion /
    Multi-PIE counterpart, or, with ``classes`` (expression name -> the dataset class it is written as),
    the record's own class."""
    if record.expression != UNKNOWN and same_expression(record.expression, name):
        return True
    own = {record.expression, record.extra.get("class", UNKNOWN)} - {UNKNOWN}
    return classes is not None and classes.get(name) in own


def candidate_targets(record: FaceRecord, mode: str, lighting: list[str], expression: list[str],
                      classes: Mapping[str, str] | None = None) -> list[Target]:
    """Every allowed target for ``record``, in a fixed order; its own lighting / expression excluded
    (see :func:`own_expression`)."""
    lights = [name for name in lighting if record.lighting == UNKNOWN or name != record.lighting]
    exprs = [name for name in expression if not own_expression(record, name, classes)]
    if mode == "lighting":
        return [Target(lighting=name) for name in lights]
    if mode == "expression":
        return [Target(expression=name) for name in exprs]
    if mode == "both":
        return [Target(l, e) for l, e in product(lights, exprs)]
    raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")


def plan_source(record: FaceRecord, key: str, source: int, per_image: int, mode: str, lighting: list[str],
                expression: list[str], seed: int, classes: Mapping[str, str] | None = None) -> list[Variant]:
    """The ``min(per_image, #candidates)`` variants of one source (see the module docstring)."""
    candidates = candidate_targets(record, mode, lighting, expression, classes)
    order = np.random.default_rng(derived_seed(seed, key)).permutation(len(candidates))
    return [Variant(source, v, candidates[int(order[v])], derived_seed(seed, key, v))
            for v in range(min(per_image, len(candidates)))]


def chunks_of_shard(n_sources: int, batch_size: int, shard: int = 0, shards: int = 1) -> list[range]:
    """The source index ranges (chunks of ``batch_size``) that shard ``shard`` of ``shards`` processes."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    starts = range(0, n_sources, batch_size)
    return [range(s, min(s + batch_size, n_sources)) for i, s in enumerate(starts) if i % shards == shard]


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` (0-based ``i``) -> ``(i, N)`` with a clear error."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r} is not i/N (e.g. 0/4)") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {text!r}: need 0 <= i < N")
    return i, n
