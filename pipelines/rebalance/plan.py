"""How many synthetic faces each class needs, and which real faces they are made from.

Expression rebalancing (the paper's): sources for class ``c`` are training images of the other classes.
Each class has its own seeded queue in which identities are spread (one image of every identity before a
second of any; images without an identity count as their own) and source classes interleave. Rounds walk
the queues; a source image is translated at most ``max_uses`` times over the whole run.

Lighting rebalancing: sources for class ``c`` under light ``L`` are the class's *own* training images, in a
queue of their own per ``(c, L)`` (seeded by the light too, so the lights do not all start on the same
faces), walked once: a source gets each light at most once (the generator is deterministic, so a second
pass would write the same face again).

How many sources a class gets per round is the synthesis engine's rule
(:func:`augmenter.expand.quota.round_requests`).

Example:
    >>> parse_target("uniform", {"happy": 10, "disgust": 2})
    {'happy': 10, 'disgust': 10}
    >>> needed_counts({"happy": 10, "disgust": 2}, {"happy": 10, "disgust": 10})
    {'happy': 0, 'disgust': 8}
"""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from augmenter.datasets.record import UNKNOWN, FaceRecord


def class_counts(records: Sequence[FaceRecord], classes: Sequence[str]) -> dict[str, int]:
    counted = Counter(r.expression for r in records)
    return {c: int(counted.get(c, 0)) for c in classes}


def parse_target(text: str, counts: dict[str, int]) -> dict[str, int]:
    """``uniform`` | ``max`` | ``mean`` | ``N`` | ``name=N,name=N`` -> the target count of every class."""
    text = str(text).strip()
    if text in ("uniform", "max"):
        return {c: max(counts.values()) for c in counts}
    if text == "mean":
        return {c: int(round(sum(counts.values()) / len(counts))) for c in counts}
    if text.isdigit():
        return {c: int(text) for c in counts}
    targets = dict(counts)
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not value.strip().isdigit():
            raise ValueError(f"--target {text!r}: expected uniform, max, mean, a count, or name=count,name=count")
        if name not in counts:
            raise ValueError(f"--target {text!r}: no class {name!r} in the data ({', '.join(counts)})")
        targets[name] = int(value)
    return targets


def needed_counts(counts: dict[str, int], targets: dict[str, int]) -> dict[str, int]:
    return {c: max(0, targets[c] - counts[c]) for c in counts}


def _rank(seed: int, *parts: object) -> int:
    key = "|".join(map(str, (seed, *parts))).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big")


def source_queue(records: Sequence[FaceRecord], target: str, seed: int, own: bool = False, salt: str = "",
                 sources: Sequence[str] | None = None) -> list[int]:
    """Indices of the records usable as sources for ``target``, identities spread: the other classes'
    images (only those of the classes in ``sources`` when given, e.g. ``["neutral"]``), or with ``own`` the
    class's own (lighting rebalancing); ``salt`` (a light's name) reorders."""
    key = (seed, target, salt) if salt else (seed, target)  # unsalted: the order runs made before lights existed
    by_group: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if (r.expression == target) != own or (sources is not None and not own and r.expression not in sources):
            continue
        group = f"{r.dataset}/{r.identity}" if r.identity != UNKNOWN else f"file/{r.path}"
        by_group.setdefault(group, []).append(i)
    order = []
    for group, rows in by_group.items():
        rows.sort(key=lambda i: _rank(*key, records[i].path))
        order += [(position, _rank(*key, group), i) for position, i in enumerate(rows)]
    order.sort()
    return [i for _, _, i in order]


@dataclass(frozen=True)
class Job:
    """One translation: source record ``source`` to expression ``target``; ``use`` counts the source's uses."""

    source: int
    target: str
    use: int
    round: int


class SourcePlanner:
    """Hands out sources round after round, each at most ``max_uses`` times in total.

    Without ``lights`` the queues are keyed by class (other classes' images, or only those of the classes in
    ``sources``, walked in cycles); with ``lights`` by ``(class, light)`` (the class's own images, each queue
    walked once)."""

    def __init__(self, records: Sequence[FaceRecord], classes: Sequence[str], seed: int, max_uses: int,
                 lights: Sequence[str] = (), sources: Sequence[str] | None = None):
        if lights:
            self.queues = {(c, light): source_queue(records, c, seed, own=True, salt=light)
                           for c in classes for light in lights}
        else:
            self.queues = {c: source_queue(records, c, seed, sources=sources) for c in classes}
        self.cycle = not lights
        self.cursor = {key: 0 for key in self.queues}
        self.uses = np.zeros(len(records), dtype=np.int64)
        self.max_uses = max_uses

    def take(self, key: str | tuple[str, str], n: int, round_number: int) -> list[Job]:
        """Up to ``n`` jobs for ``key`` (a class, or ``(class, light)``), fewer when its sources are used up."""
        queue, jobs = self.queues[key], []
        target = key if isinstance(key, str) else key[0]
        tried = 0
        while len(jobs) < n and queue and tried < len(queue):
            if not self.cycle and self.cursor[key] >= len(queue):
                break
            i = queue[self.cursor[key] % len(queue)]
            self.cursor[key] += 1
            if self.uses[i] >= self.max_uses:
                tried += 1
                continue
            tried = 0
            jobs.append(Job(i, target, int(self.uses[i]), round_number))
            self.uses[i] += 1
        return jobs
