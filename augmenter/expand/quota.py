"""Quota runs: synthesize in rounds until every target has its quota of kept variants.

Where ``augment expand`` makes a fixed plan of variants per source, a quota run asks, round after round,
for as many variants as each target still seems to need, and keeps what passes the
:class:`~augmenter.expand.synthesis.KeepRule` (Q and the extra judges):

- per round, a target still short of its quota gets ``ceil(1.1 x shortfall / acceptance so far)`` attempts
  (at least 1; the acceptance starts at 0.5 and counts as at least 0.02), within its budget of
  ``floor(budget x quota)`` attempts over the whole run; the caller's ``supply`` turns that number into
  variants (it picks the sources, and may hand out fewer when they run out);
- the round's variants, target after target, are cut into chunks of ``batch_size`` and go through the shared
  :class:`~augmenter.expand.synthesis.ChunkRunner` (generator + Q, judges, atomic writes, journal);
- a variant that passes every judge after its target already has its quota (a round can overshoot) is not
  kept: its reason is ``"over quota"`` and it is not written;
- the run ends when every target has its quota, no target can get another attempt, ``supply`` has nothing
  left, or after ``max_rounds`` rounds.

Resume: chunk ``k`` of round ``r`` is journalled as ``r * ROUND_STRIDE + k``. A rerun replays the rounds (their
variants are a function of the journalled chunks, so ``supply`` must answer the same calls the same way),
skips the journalled chunks, redoes those that lost an image, and ends with exactly the outputs of an
uninterrupted run.

Example:
    >>> run = run_quotas(layout, models, device, out, ChunkJournal(out / "journal.jsonl"), KeepRule(0.6),
    ...                  {Target(expression="disgust"): 500}, supply, budget=4.0)      # doctest: +SKIP
    >>> run.states[Target(expression="disgust")].kept                                  # doctest: +SKIP
    500
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from augmenter.errors import RunConflictError
from augmenter.expand.journal import ChunkJournal
from augmenter.expand.plan import Target, Variant
from augmenter.expand.synthesis import Chunk, ChunkProcessor, ChunkRunner, KeepRule, Layout, resumable_entries

ROUND_STRIDE = 1_000_000  # journal key = round * ROUND_STRIDE + chunk of the round
PRIOR_ACCEPTANCE = 0.5
MIN_ACCEPTANCE = 0.02
OVERSHOOT = 1.1

Supply = Callable[[Target, int, int], list[Variant]]
"""``(target, n, round) -> up to n new variants of target``. A resumed run calls it again in the same order
with the same arguments, and must get the same variants."""


@dataclass
class QuotaState:
    """One target's count: its quota, its attempt budget, and what its attempts became."""

    quota: int
    budget: int
    generated: int = 0
    kept: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # by reason ("q", a judge's name, "over quota", ...)

    @property
    def acceptance(self) -> float:
        return self.kept / self.generated if self.generated else PRIOR_ACCEPTANCE

    @property
    def short(self) -> int:
        return self.quota - self.kept

    @property
    def attempts_left(self) -> int:
        return self.budget - self.generated

    def count(self, reason: str) -> None:
        self.generated += 1
        if reason:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
        else:
            self.kept += 1


def round_requests(states: Mapping[Target, QuotaState]) -> dict[Target, int]:
    """How many attempts each target gets this round (see the module docstring); targets that need none
    or have no budget left are left out."""
    requests = {}
    for target, s in states.items():
        if s.short <= 0 or s.attempts_left <= 0:
            continue
        want = math.ceil(OVERSHOOT * s.short / max(s.acceptance, MIN_ACCEPTANCE))
        requests[target] = min(max(want, 1), s.attempts_left)
    return requests


def round_chunks(variants: list[Variant], round_number: int, batch_size: int) -> list[Chunk]:
    """One round's variants cut into chunks of ``batch_size`` (each decodes its distinct sources once)."""
    return [Chunk(round_number * ROUND_STRIDE + k, list(dict.fromkeys(v.source for v in variants[b:b + batch_size])),
                  variants[b:b + batch_size], offset=b)
            for k, b in enumerate(range(0, len(variants), batch_size))]


@dataclass
class QuotaRun:
    """What a quota run produced: ``entries`` every chunk's journal entry in order, ``states`` per target."""

    states: dict[Target, QuotaState]
    entries: list[dict]
    rounds: int
    chunks_run: int
    chunks_resumed: int
    seconds: float

    @property
    def rows(self) -> list[dict]:
        return [row for entry in self.entries for row in entry["rows"]]


class _Rounds:
    """The bookkeeping of a quota run: the states, and every chunk's entry as it comes."""

    def __init__(self, quotas: Mapping[Target, int], budget: float, journal: Path,
                 progress: Callable[[int, dict[Target, QuotaState]], None] | None):
        self.states = {t: QuotaState(int(n), math.floor(budget * n)) for t, n in quotas.items()}
        self.journal, self.progress = journal, progress
        self.entries: list[dict] = []
        self.chunks: dict[int, Chunk] = {}
        self.round = 0

    def room(self) -> dict[Target, int]:
        return {t: s.short for t, s in self.states.items()}

    def account(self, entry: dict) -> None:
        chunk = self.chunks[entry["chunk"]]
        reasons = entry["reasons"]
        if len(reasons) != len(chunk.variants):
            raise RunConflictError(self.journal, f"chunk {entry['chunk']} has {len(reasons)} variant(s) there and "
                                                 f"{len(chunk.variants)} in this run's plan: the sources changed; "
                                                 "use another output folder")
        for variant, reason in zip(chunk.variants, reasons):
            self.states[variant.target].count(reason)
        self.entries.append(entry)
        if self.progress is not None:
            self.progress(self.round, self.states)


def run_quotas(layout: Layout, models, device: torch.device, out: str | Path, journal: ChunkJournal, rule: KeepRule,
               quotas: Mapping[Target, int], supply: Supply, *, budget: float = 4.0, max_rounds: int = 8,
               batch_size: int = 64, workers: int = 0, writers: int = 2,
               progress: Callable[[int, dict[Target, QuotaState]], None] | None = None,
               log: Callable[[str], None] = print) -> QuotaRun:
    """Synthesize until every target in ``quotas`` (target -> kept variants wanted) has them, its budget
    (``budget x quota`` attempts) is spent, ``supply`` runs dry or ``max_rounds`` rounds are done; see the
    module docstring. ``layout`` decides paths, journal rows and report items
    (:class:`~augmenter.expand.synthesis.Layout`); ``progress(round, states)`` is called after every chunk."""
    start = time.perf_counter()
    out = Path(out)
    done = resumable_entries(journal, out, False, log)
    done = {n: e for n, e in done.items() if "reasons" in e}  # an entry without the quota bookkeeping is redone
    book = _Rounds(quotas, budget, journal.path, progress)
    ran = resumed = rounds = 0
    with ThreadPoolExecutor(max(1, writers)) as pool:
        processor = ChunkProcessor(layout, models, device, pool, out, rule, room=book.room)
        runner = ChunkRunner(processor, journal, layout.records, models.translator.image_size, 0, workers, device)
        for r in range(max_rounds):
            if all(s.short <= 0 for s in book.states.values()):
                break
            variants = [v for target, n in round_requests(book.states).items() for v in supply(target, n, r)]
            if not variants:
                break
            rounds, book.round = rounds + 1, r
            chunks = round_chunks(variants, r, batch_size)
            book.chunks = {c.number: c for c in chunks}
            fresh = runner.run(chunks, done, on_entry=book.account)
            ran, resumed = ran + fresh, resumed + len(chunks) - fresh
    return QuotaRun(book.states, book.entries, rounds, ran, resumed, time.perf_counter() - start)
