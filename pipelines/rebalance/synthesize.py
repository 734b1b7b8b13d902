"""Rounds of synthesis until every class has its quota: LEGAN translates sources to the class's
expression (lighting kept), Q scores each output, the expression judge checks it, kept faces are written.

Per round, each class still short gets ``1.1 x shortfall / acceptance so far`` attempts (acceptance
starts at 0.5), within its budget of ``budget x needed`` attempts. Outputs of a grey source are made grey
(FER-2013 and Yale B are grey; LEGAN's three channels drift slightly). Kept images go to
``OUT/synthetic/<class>/<source stem>_to-<class>_u<use>.png``.

Resume: every finished batch is appended to ``OUT/.rebalance/journal.jsonl`` after its images are written.
A rerun replays the rounds (their jobs are a function of the finished batches), skips the journalled
batches and ends with exactly the outputs of an uninterrupted run. Faces kept beyond a class's quota (a
round can overshoot) are dropped at the end in job order, files included.
"""
from __future__ import annotations

import base64
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from augmenter.datasets.record import FaceRecord
from augmenter.errors import ImageDecodeError
from augmenter.expand.journal import ChunkJournal
from augmenter.expand.plan import derived_seed, same_expression
from augmenter.io import decode_image, write_image_atomic
from augmenter.tensors import fit_face, to_model_input, to_uint8_images
from pipelines.rebalance.plan import Job, SourcePlanner, round_jobs

ROUND_STRIDE = 1_000_000  # journal key = round * ROUND_STRIDE + batch
PRIOR_ACCEPTANCE = 0.5


@dataclass
class ClassState:
    needed: int
    generated: int = 0
    kept: int = 0
    rejected_q: int = 0
    rejected_expression: int = 0
    unreadable: int = 0
    over_quota: int = 0

    @property
    def acceptance(self) -> float:
        return self.kept / self.generated if self.generated else PRIOR_ACCEPTANCE


@dataclass
class Synthesis:
    """What the rounds produced: ``rows`` one per attempt in job order, ``states`` per class."""

    rows: list[dict]
    states: dict[str, ClassState]
    examples: list[dict]
    rounds: int
    seconds: float
    batches_run: int
    batches_resumed: int
    notes: list[str] = field(default_factory=list)


def output_path(record: FaceRecord, target: str, use: int) -> str:
    return f"synthetic/{target}/{record.path.stem}_to-{target}_u{use}.png"


def _thumb(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class BatchProcessor:
    """Turns one batch of jobs into written images and a journal entry."""

    def __init__(self, records: Sequence[FaceRecord], models, judge, out: Path, q_min: float, seed: int,
                 device: torch.device):
        self.records, self.models, self.judge, self.out = records, models, judge, out
        self.q_min, self.seed, self.device = q_min, seed, device
        translator = models.translator
        self.size = translator.image_size
        self.expression_index = {}
        for name in dict.fromkeys(r.expression for r in records):
            match = [i for i, e in enumerate(translator.expression) if same_expression(e, name)]
            self.expression_index[name] = match[0] if match else None

    def process(self, key: int, jobs: list[Job], examples: set[int]) -> dict:
        start = time.perf_counter()
        rows, images, ok, grey = [], [], [], []
        for j, job in enumerate(jobs):
            try:
                pixels = fit_face(decode_image(self.records[job.source].path), self.size)
            except ImageDecodeError as err:
                rows.append(self._row(j, job, reason="unreadable source", message=str(err)))
                continue
            images.append(pixels)
            ok.append(j)
            grey.append(bool((pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()))
        entry = {"chunk": key, "rows": [], "examples": []}
        if ok:
            x = to_model_input(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2), self.device)
            targets = torch.tensor([self.expression_index[jobs[j].target] for j in ok])
            y, q = self.models.forward(x, torch.full((len(ok),), -1), targets)
            is_grey = torch.tensor(grey, device=y.device)[:, None, None, None]
            y = torch.where(is_grey, y.mean(1, keepdim=True).expand_as(y), y)
            predicted = self.judge.predict(y) if self.judge is not None else [None] * len(ok)
            pixels = to_uint8_images(y)
            for n, j in enumerate(ok):
                job = jobs[j]
                agrees = predicted[n] is None or self.judge.agrees(predicted[n], job.target)
                reason = "" if q[n] >= self.q_min and agrees else ("q" if q[n] < self.q_min else "expression")
                path = output_path(self.records[job.source], job.target, job.use)
                if not reason:
                    write_image_atomic(self.out / path, pixels[n])
                rows.append(self._row(j, job, q=float(q[n]), predicted=predicted[n], reason=reason, out_path=path))
                if j in examples:
                    entry["examples"].append({"target": job.target, "source": _thumb(images[n]),
                                              "output": _thumb(pixels[n]), "q": float(q[n]),
                                              "predicted": predicted[n], "kept": not reason})
        entry["rows"] = sorted(rows, key=lambda r: r["job_index"])  # job order: the quota trim relies on it
        entry["seconds"] = time.perf_counter() - start
        return entry

    def _row(self, position: int, job: Job, q: float = math.nan, predicted: str | None = None, reason: str = "",
             message: str = "", out_path: str = "") -> dict:
        record = self.records[job.source]
        return {"job_index": position, "source": job.source, "source_path": str(record.path), "identity": record.identity,
                "source_expression": record.expression, "lighting": record.lighting, "target": job.target,
                "use": job.use, "round": job.round, "q_score": q, "predicted": predicted, "reason": reason,
                "message": message, "out_path": out_path if not reason else "",
                "seed": derived_seed(self.seed, f"{record.path}|{job.target}", job.use)}


def _example_jobs(jobs: list[Job], per_class: int) -> set[int]:
    """The first ``per_class`` jobs of each class in the first round: the report's examples (kept or not)."""
    chosen, seen = set(), {}
    for j, job in enumerate(jobs):
        if job.round == 0 and seen.get(job.target, 0) < per_class:
            chosen.add(j)
            seen[job.target] = seen.get(job.target, 0) + 1
    return chosen


def run_rounds(records: Sequence[FaceRecord], classes: Sequence[str], needed: dict[str, int], processor: BatchProcessor,
               journal: ChunkJournal, *, budget: float, max_uses: int, max_rounds: int, batch_size: int, seed: int,
               examples_per_class: int = 8, progress: Callable[[dict], None] | None = None) -> Synthesis:
    """Synthesize until every class has ``needed`` kept faces, its budget is spent or its sources run out."""
    start = time.perf_counter()
    done = journal.read()
    states = {c: ClassState(needed[c]) for c in classes}
    attempts_budget = {c: math.floor(budget * needed[c]) for c in classes}
    planner = SourcePlanner(records, classes, seed, max_uses)
    rows: list[dict] = []
    examples: list[dict] = []
    ran = resumed = 0
    rounds = 0
    for r in range(max_rounds):
        remaining = {c: s.needed - s.kept for c, s in states.items()}
        if all(v <= 0 for v in remaining.values()):
            break
        left = {c: attempts_budget[c] - states[c].generated for c in classes}
        jobs = round_jobs(planner, remaining, left, {c: s.acceptance for c, s in states.items()}, r)
        if not jobs:
            break
        rounds += 1
        chosen = _example_jobs(jobs, examples_per_class)
        for b in range(0, len(jobs), batch_size):
            key = r * ROUND_STRIDE + b // batch_size
            batch = jobs[b:b + batch_size]
            entry = done.get(key)
            if entry is None:
                entry = processor.process(key, batch, {j - b for j in chosen if b <= j < b + batch_size})
                for row in entry["rows"]:
                    row["job_index"] += b
                journal.append(entry)
                ran += 1
            else:
                resumed += 1
            for row in entry["rows"]:
                s = states[row["target"]]
                s.generated += 1
                if row["reason"] == "":
                    s.kept += 1
                else:
                    field_name = {"q": "rejected_q", "expression": "rejected_expression"}.get(row["reason"], "unreadable")
                    setattr(s, field_name, getattr(s, field_name) + 1)
            rows += entry["rows"]
            examples += entry["examples"]
            if progress is not None:
                progress({"round": r, "kept": sum(s.kept for s in states.values()),
                          "needed": sum(s.needed for s in states.values()),
                          "generated": sum(s.generated for s in states.values())})
    trimmed = trim_over_quota(rows, needed, processor.out)
    for c, n in trimmed.items():
        states[c].kept -= n
        states[c].over_quota += n
    return Synthesis(rows, states, examples, rounds, time.perf_counter() - start, ran, resumed,
                     [f"{n} {c} face(s) kept beyond the quota dropped" for c, n in trimmed.items() if n])


def trim_over_quota(rows: list[dict], needed: dict[str, int], out: Path) -> dict[str, int]:
    """Un-keep (and delete) kept faces beyond each class's quota, latest jobs first; returns counts."""
    kept_so_far: dict[str, int] = {}
    trimmed = {c: 0 for c in needed}
    for row in rows:
        if row["reason"]:
            continue
        c = row["target"]
        kept_so_far[c] = kept_so_far.get(c, 0) + 1
        if kept_so_far[c] > needed[c]:
            (out / row["out_path"]).unlink(missing_ok=True)
            row["reason"], row["out_path"] = "over quota", ""
            trimmed[c] += 1
    return trimmed
