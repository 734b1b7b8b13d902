"""The synthesis core: chunks of planned variants -> generator + Q -> judges -> keep -> atomic writes -> journal.

``augment expand`` (:mod:`augmenter.expand.engine`) and quota runs (:mod:`augmenter.expand.quota`, used by
``rebalance-affectnet``) both go through :class:`ChunkRunner`; what differs between them is a
:class:`Layout` (where a variant is written, the journal row it gets, what the report keeps of it).

Per :class:`Chunk` (a list of variants and the source images they are made from):

1. a DataLoader worker decodes and resizes the chunk's sources (``uint8``, see :class:`ChunkImages`);
2. the generator translates every variant of the chunk in one batch, Q scores them
   (:meth:`augmenter.expand.engine.Models.forward`);
3. :class:`KeepRule` decides: Q's rule (``q_score >= q_min``, or the ``keep_best`` best of each source),
   then every extra judge (a :data:`Judge`) must accept, then the target's quota must have room;
4. a thread pool writes the kept images (atomic writes) while the model goes on with the next chunk;
   once a chunk's images are on disk its journal entry is appended.

Killing the process at any moment loses at most the chunks in flight: :func:`resumable_entries` reads the
journal back, checks that the images it lists still exist, and :meth:`ChunkRunner.run` skips the journalled
chunks, so a rerun ends with exactly the outputs of an uninterrupted run.

Journal contract: an entry is ``{"chunk", "rows", "skips", "seconds", ...}`` (plus what the layout adds);
every row has ``out_path`` and ``kept``; with quotas the entry also has ``reasons``, one per variant in
chunk order (``""`` kept, ``"q"``, a judge's name, ``"over quota"``, or the source's skip reason).
"""
from __future__ import annotations

import base64
import io
import math
import os
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

from augmenter.datasets.record import FaceRecord
from augmenter.expand.files import naming_errors
from augmenter.expand.journal import ChunkJournal
from augmenter.expand.plan import Target, Variant, own_expression, same_expression
from augmenter.expand.sources import ChunkImages
from augmenter.io import write_image_atomic
from augmenter.tensors import grey_images, to_model_input, to_uint8_images

IN_FLIGHT = 8  # chunks whose images may still be queued for writing

Judge = Callable[[torch.Tensor, Sequence[Target]], tuple]
"""An extra judge besides Q: ``(images (B, 3, S, S) float in [-1, 1], targets (B,)) -> (accept (B,) bool,
score (B,) float)``, optionally with a third element, one label per image (e.g. the expression a classifier
saw), recorded beside the score. A variant is kept only when every judge accepts it."""

Q_REASON = "q"
OVER_QUOTA = "over quota"


@dataclass(frozen=True)
class Verdict:
    """One judge's answer for one variant."""

    accept: bool
    score: float
    label: str | None = None


def judge_batch(name: str, judge: Judge, images: torch.Tensor, targets: Sequence[Target]) -> list[Verdict]:
    """Call ``judge`` and check its answer's shape; ``ValueError`` naming the judge otherwise."""
    answer = judge(images, list(targets))
    accept, score = np.asarray(answer[0], dtype=bool).reshape(-1), np.asarray(answer[1], dtype=np.float64).reshape(-1)
    labels = list(answer[2]) if len(answer) > 2 and answer[2] is not None else [None] * len(targets)
    if not len(accept) == len(score) == len(labels) == len(targets):
        raise ValueError(f"judge {name!r} answered {len(accept)} accept / {len(score)} score / {len(labels)} label "
                         f"value(s) for {len(targets)} image(s)")
    return [Verdict(bool(a), float(s), None if lab is None else str(lab)) for a, s, lab in zip(accept, score, labels)]


def keep_decisions(q: np.ndarray, sources: list[int], q_min: float, keep_best: int | None) -> np.ndarray:
    """Which variants to keep: ``q >= q_min``, or with ``keep_best`` the N best of each source (ties by
    variant order). ``q`` and ``sources`` are per variant, in plan order; NaN scores are never kept."""
    finite = np.isfinite(q)
    if keep_best is None:
        return finite & (q >= q_min)
    kept = np.zeros(len(q), dtype=bool)
    for s in dict.fromkeys(sources):
        rows = [i for i, src in enumerate(sources) if src == s and finite[i]]
        rows.sort(key=lambda i: (-q[i], i))
        kept[rows[:keep_best]] = True
    return kept


@dataclass
class KeepRule:
    """What a variant must pass to be kept: Q (``q_min``, or ``keep_best`` per source), then every judge in
    ``judges`` (name -> :data:`Judge`, called in order; the first that refuses names the rejection).
    ``match_grey``: the output of a grey source is made grey (after Q scored it, before the judges)."""

    q_min: float = 0.6
    keep_best: int | None = None
    judges: Mapping[str, Judge] = field(default_factory=dict)
    match_grey: bool = False


@dataclass
class Outcome:
    """What became of one variant of a chunk."""

    variant: Variant
    chunk: int
    position: int                     # index in its round (quota runs) or chunk
    q: float = math.nan
    kept: bool = False
    reason: str = ""                  # "" kept; "q"; a judge's name; "over quota"; the source's skip reason
    note: str = ""                    # what the tear check did to Q's score, in words ("" when nothing)
    message: str = ""                 # why the source failed
    path: str = ""                    # where the image was written ("" when it was not)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    output: int | None = None         # index into Batch.pixels; None when the source failed

    @property
    def failed(self) -> bool:
        return self.output is None


@dataclass
class Batch:
    """A processed chunk, for :meth:`Layout.annotate`."""

    number: int
    outcomes: list[Outcome]           # every variant of the chunk, in chunk order
    sources: list[int]                # the sources that decoded, in chunk order
    images: torch.Tensor              # their (n, 3, S, S) uint8 pixels
    pixels: np.ndarray                # the outputs (m, S, S, 3) uint8 (Outcome.output indexes them)


class Layout(Protocol):
    """What a caller decides about its variants."""

    records: Sequence[FaceRecord]

    def paths(self, variant: Variant) -> tuple[str, str]:
        """The kept and the rejected path (relative to ``out``) the variant may be written to."""

    def row(self, outcome: Outcome) -> dict | None:
        """The variant's journal row (with ``out_path`` and ``kept``), or ``None`` for none."""

    def annotate(self, entry: dict, batch: Batch) -> None:
        """Add what the report needs of ``batch`` to its journal ``entry``."""


@dataclass
class Chunk:
    """The unit of work, of journalling and of resuming."""

    number: int
    sources: list[int]                # record indices to decode (a source may have no variant)
    variants: list[Variant]
    offset: int = 0                   # position of the first variant in its round


def png_b64(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def write_variant(path: Path, pixels: np.ndarray) -> None:
    """Write one variant (atomically); an operating-system error names the image."""
    with naming_errors(path):
        write_image_atomic(path, pixels, 95)


def generator_index(vocabulary: Sequence[str], name: str) -> int:
    """``name``'s index in the generator's vocabulary: the same name, else the first entry that means the same
    (:func:`~augmenter.expand.plan.same_expression`); ``KeyError`` when none does."""
    if name in vocabulary:
        return list(vocabulary).index(name)
    for i, entry in enumerate(vocabulary):
        if same_expression(entry, name):
            return i
    raise KeyError(f"{name!r} is not in the generator's vocabulary ({', '.join(vocabulary)})")


class ChunkProcessor:
    """Turns one decoded chunk into written images and its journal entry.

    ``room``: with quotas, a callable giving how many more variants each target may keep (read once per
    chunk); targets it does not list are not limited."""

    def __init__(self, layout: Layout, models, device: torch.device, pool: ThreadPoolExecutor, out: Path,
                 rule: KeepRule, save_rejected: bool = False, room: Callable[[], Mapping[Target, int]] | None = None):
        self.layout, self.models, self.device, self.pool = layout, models, device, pool
        self.out, self.rule, self.save_rejected, self.room = Path(out), rule, save_rejected, room
        t = models.translator
        self.light_index = {n: i for i, n in enumerate(t.lighting)}
        self.expr_index = {}
        self.vocabulary = t.expression

    def _expression(self, name: str | None, record: FaceRecord) -> int:
        # an expression the source already shows is kept, not applied again (a smile on a smile exaggerates
        # it): lighting rebalancing asks for the class's own expression under a new light
        if name is None or own_expression(record, name):
            return -1
        if name not in self.expr_index:
            self.expr_index[name] = generator_index(self.vocabulary, name)
        return self.expr_index[name]

    def process(self, chunk: Chunk, good: list[int], images: torch.Tensor, failures: list) -> tuple[list[Future], dict]:
        failed = {s: (reason, message) for s, reason, message in failures}
        entry = {"chunk": chunk.number, "rows": [], "skips": [[reason, message] for _, reason, message in failures]}
        outcomes = [Outcome(v, chunk.number, chunk.offset + i) for i, v in enumerate(chunk.variants)]
        decoded = [o for o in outcomes if o.variant.source not in failed]
        for o in outcomes:
            if o.variant.source in failed:
                o.reason, o.message = failed[o.variant.source]
        pixels = self._judge(decoded, good, images) if decoded else np.empty((0, 0, 0, 3), np.uint8)
        futures = []
        for o in decoded:
            if o.kept or self.save_rejected:
                o.path = self.layout.paths(o.variant)[0 if o.kept else 1]
                futures.append(self.pool.submit(write_variant, self.out / o.path, pixels[o.output]))
        entry["rows"] = [row for row in map(self.layout.row, outcomes) if row is not None]
        if self.room is not None:
            entry["reasons"] = [o.reason for o in outcomes]
        self.layout.annotate(entry, Batch(chunk.number, outcomes, list(good), images, pixels))
        return futures, entry

    def _judge(self, decoded: list[Outcome], good: list[int], images: torch.Tensor) -> np.ndarray:
        """Generate, score and decide ``decoded`` (filled in place); returns the output pixels."""
        rule, variants = self.rule, [o.variant for o in decoded]
        position = {s: i for i, s in enumerate(good)}
        take = [position[v.source] for v in variants]
        lighting = torch.tensor([self.light_index[v.target.lighting] if v.target.lighting else -1 for v in variants])
        expression = torch.tensor([self._expression(v.target.expression, self.layout.records[v.source]) for v in variants])
        y, q, why = self.models.forward(to_model_input(images, self.device), lighting, expression, torch.tensor(take))
        if rule.match_grey:
            is_grey = grey_images(images)[take].to(y.device)[:, None, None, None]
            y = torch.where(is_grey, y.mean(1, keepdim=True).expand_as(y), y)
        verdicts = {name: judge_batch(name, judge, y, [v.target for v in variants]) for name, judge in rule.judges.items()}
        kept = keep_decisions(q, [v.source for v in variants], rule.q_min, rule.keep_best)
        room = dict(self.room()) if self.room is not None else {}
        for i, o in enumerate(decoded):
            o.q, o.note, o.output = float(q[i]), why[i], i
            o.verdicts = {name: answers[i] for name, answers in verdicts.items()}
            refused = [name for name, verdict in o.verdicts.items() if not verdict.accept]
            o.reason = "" if kept[i] and not refused else (Q_REASON if not kept[i] else refused[0])
            target = o.variant.target
            if not o.reason and target in room:
                if room[target] <= 0:
                    o.reason = OVER_QUOTA
                room[target] -= 1
            o.kept = not o.reason
        return to_uint8_images(y)


def chunks_missing_files(out: Path, done: dict[int, dict], save_rejected: bool) -> dict[int, list[str]]:
    """The finished chunks (journal entries) of which a written image is gone, with the missing paths:
    a kept variant, or with ``save_rejected`` a rejected one. One ``stat`` per image."""
    missing = {}
    for number, entry in sorted(done.items()):
        gone = [row["out_path"] for row in entry["rows"]
                if (row["kept"] or save_rejected) and row["out_path"] and not os.path.isfile(out / row["out_path"])]
        if gone:
            missing[number] = gone
    return missing


def remove_stale_temp_files(out: Path, paths: list[str]) -> int:
    """Delete the hidden temp files (``.<name>.<random>.tmp``, see :mod:`augmenter.atomic`) that a killed
    run left beside these outputs; returns how many. Only this process's unfinished chunks are passed,
    so a shard never touches another shard's writes in flight."""
    by_folder: dict[Path, set[str]] = {}
    for rel in paths:
        target = out / rel
        by_folder.setdefault(target.parent, set()).add(target.name)
    removed = 0
    for folder, names in by_folder.items():
        if not folder.is_dir():
            continue
        with os.scandir(folder) as it:
            for entry in it:
                name = entry.name
                if name.startswith(".") and name.endswith(".tmp") and name[1:-4].rsplit(".", 1)[0] in names:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
    return removed


def resumable_entries(journal: ChunkJournal, out: Path, save_rejected: bool,
                      log: Callable[[str], None]) -> dict[int, dict]:
    """The journal's finished chunks whose images are all still there (the others are dropped from the
    journal, to be redone, with a line saying how many images are missing)."""
    done = journal.read()
    lost = chunks_missing_files(out, done, save_rejected)
    if lost:
        gone = [p for paths in lost.values() for p in paths]
        log(f"{len(gone)} image(s) that the journal of {out} lists are missing (first: {gone[0]}): "
            f"redoing {len(lost)} chunk(s)")
        journal.drop(set(lost))
        done = {n: e for n, e in done.items() if n not in lost}
    return done


@dataclass
class ChunkRunner:
    """Runs chunks through a :class:`ChunkProcessor`, decoding ahead and writing behind, journalling each."""

    processor: ChunkProcessor
    journal: ChunkJournal
    records: Sequence[FaceRecord]
    image_size: int
    min_size: int = 0
    workers: int = 0
    device: torch.device = torch.device("cpu")

    def run(self, chunks: list[Chunk], done: dict[int, dict], on_entry: Callable[[dict], None] | None = None,
            on_written: Callable[[dict], None] | None = None) -> int:
        """Process the ``chunks`` not in ``done`` (journalled entries by chunk number); returns how many.

        ``on_entry`` sees every chunk's entry in chunk order, a journalled one or a new one as soon as its
        keep decisions are made (before its images are written); ``on_written`` each new entry once it is
        on disk and journalled. Ctrl-C journals what is already written before it propagates."""
        todo = [c for c in chunks if c.number not in done]
        out, layout = self.processor.out, self.processor.layout
        # what a killed run had in flight: the next chunks' images
        remove_stale_temp_files(out, [p for c in todo[:IN_FLIGHT + 8] for v in c.variants for p in layout.paths(v)])
        loader = iter(DataLoader(ChunkImages(self.records, [(c.number, c.sources) for c in todo], self.image_size,
                                             self.min_size),
                                 batch_size=None, num_workers=self.workers,
                                 prefetch_factor=4 if self.workers else None,
                                 pin_memory=self.device.type == "cuda")) if todo else iter(())
        pending: deque[tuple[list[Future], dict]] = deque()

        def flush(block: bool) -> None:
            while pending and (block or all(f.done() for f in pending[0][0])):
                futures, entry = pending.popleft()
                for f in futures:
                    f.result()  # re-raises a failed write
                self.journal.append(entry)
                if on_written:
                    on_written(entry)

        tick = time.perf_counter()
        try:
            for chunk in chunks:
                entry = done.get(chunk.number)
                if entry is None:
                    number, good, images, failures = next(loader)
                    assert number == chunk.number, (number, chunk.number)
                    futures, entry = self.processor.process(chunk, good, images, failures)
                    now = time.perf_counter()
                    entry["seconds"] = round(now - tick, 4)
                    tick = now
                    pending.append((futures, entry))
                    flush(block=len(pending) > IN_FLIGHT)
                if on_entry:
                    on_entry(entry)
            flush(block=True)
        except KeyboardInterrupt:
            flush(block=True)  # what is already written is recorded, so a rerun does not redo it
            raise
        return len(todo)
