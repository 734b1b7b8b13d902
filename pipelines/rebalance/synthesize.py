"""Rounds of synthesis until every class has its quota, on the toolkit's quota engine
(:mod:`augmenter.expand.quota`): LEGAN translates sources to the class's expression (lighting kept) — or, with
``lights``, relights the class's own faces (expression kept) —, Q scores each output, the expression judge
checks it (for a relit face: that it still shows its class), kept faces are written.

With ``lights`` a class's quota is split evenly over the lights (the first lights take the remainder), one
engine target ``Target(lighting=L, expression=c)`` each; the engine keeps the expression a source already
shows (:class:`~augmenter.expand.synthesis.ChunkProcessor`), and a relit face is
``OUT/synthetic/<class>/<source stem>_L-<light>.png``.

What is rebalancing's own here: the sources (:class:`~pipelines.rebalance.plan.SourcePlanner`: other classes'
training images, identities spread, each used at most ``max_uses`` times), the file names
(``OUT/synthetic/<class>/<source stem>_to-<class>_u<use>.png``), the journal rows (one per attempt, in job
order, with the judge's prediction and the reason of a rejection) and the report's examples (the first
attempts of each class). The rounds (``1.1 x shortfall / acceptance so far`` attempts per class, within
``budget x needed``), generation, Q, the judge, grey outputs for grey sources (FER-2013 and Yale B are grey;
LEGAN's three channels drift slightly), atomic writes, the journal (``OUT/.rebalance/journal.jsonl``) and
resuming are the engine's. Faces that pass every check after their class already has its quota (a round can
overshoot) are not kept: reason ``"over quota"``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from augmenter.datasets.record import FaceRecord
from augmenter.expand.journal import ChunkJournal
from augmenter.expand.layout import rejected_path
from augmenter.expand.plan import Target, Variant, derived_seed
from augmenter.expand.quota import ROUND_STRIDE, QuotaState, run_quotas
from augmenter.expand.synthesis import OVER_QUOTA, Batch, Judge, KeepRule, Outcome, png_b64
from pipelines.rebalance.plan import SourcePlanner

EXPRESSION_JUDGE = "expression"  # the judge's name: the reason of the faces it rejects
UNREADABLE = "unreadable source"
JOURNAL = Path(".rebalance") / "journal.jsonl"


@dataclass
class Synthesis:
    """What the rounds produced: ``rows`` one per attempt in job order, ``states`` per class."""

    rows: list[dict]
    states: dict[str, QuotaState]
    examples: list[dict]
    rounds: int
    seconds: float
    batches_run: int
    batches_resumed: int
    notes: list[str] = field(default_factory=list)


def output_path(record: FaceRecord, target: Target, use: int) -> str:
    c = target.expression
    if target.lighting:  # each light at most once per source
        return f"synthetic/{c}/{record.path.stem}_L-{target.lighting}.png"
    return f"synthetic/{c}/{record.path.stem}_to-{c}_u{use}.png"


def split_quota(n: int, lights: Sequence[str]) -> dict[str, int]:
    """``n`` faces over ``lights`` as evenly as possible, the first lights taking the remainder.

    Example:
        >>> split_quota(7, ["a", "b", "c"])
        {'a': 3, 'b': 2, 'c': 2}
    """
    base, extra = divmod(int(n), len(lights))
    return {light: base + (k < extra) for k, light in enumerate(lights)}


def merged_state(states: Sequence[QuotaState]) -> QuotaState:
    """One class's counts from the states of its lights."""
    total = QuotaState(sum(s.quota for s in states), sum(s.budget for s in states),
                       sum(s.generated for s in states), sum(s.kept for s in states))
    for s in states:
        for reason, n in s.rejected.items():
            total.rejected[reason] = total.rejected.get(reason, 0) + n
    return total


class RebalanceLayout:
    """Where rebalancing writes a face, its journal row, and which attempts the report shows
    (the :class:`~augmenter.expand.synthesis.Layout` of ``rebalance-affectnet``)."""

    def __init__(self, records: Sequence[FaceRecord]):
        self.records = records
        self.examples: set[Variant] = set()  # filled by SourceSupply as round 0 is planned

    def paths(self, variant: Variant) -> tuple[str, str]:
        path = output_path(self.records[variant.source], variant.target, variant.index)
        return path, rejected_path(path)

    def row(self, outcome: Outcome) -> dict:
        v, record = outcome.variant, self.records[outcome.variant.source]
        judged = outcome.verdicts.get(EXPRESSION_JUDGE)
        return {"job_index": outcome.position, "source": v.source, "source_path": str(record.path),
                "identity": record.identity, "source_expression": record.expression,
                "lighting": v.target.lighting or record.lighting,
                "target": v.target.expression, "use": v.index, "round": outcome.chunk // ROUND_STRIDE,
                "q_score": outcome.q, "predicted": judged.label if judged else None,
                "reason": UNREADABLE if outcome.failed else outcome.reason, "message": outcome.message,
                "out_path": outcome.path if outcome.kept else "", "seed": v.seed, "kept": outcome.kept}

    def annotate(self, entry: dict, batch: Batch) -> None:
        entry["examples"] = []
        for o in batch.outcomes:
            if o.variant in self.examples and not o.failed:
                judged = o.verdicts.get(EXPRESSION_JUDGE)
                source = batch.images[batch.sources.index(o.variant.source)].permute(1, 2, 0).numpy()
                entry["examples"].append({"target": o.variant.target.expression, "source": png_b64(source),
                                          "output": png_b64(batch.pixels[o.output]), "q": o.q,
                                          "predicted": judged.label if judged else None, "kept": o.kept})


class SourceSupply:
    """The engine's ``supply``: a class's next sources from the :class:`SourcePlanner`, as variants; the
    first ``examples_per_class`` of each class in round 0 become the report's examples (kept or not)."""

    def __init__(self, records: Sequence[FaceRecord], classes: Sequence[str], seed: int, max_uses: int,
                 layout: RebalanceLayout, examples_per_class: int = 8, lights: Sequence[str] = (),
                 sources: Sequence[str] | None = None):
        self.records, self.seed, self.layout, self.examples_per_class = records, seed, layout, examples_per_class
        self.planner = SourcePlanner(records, classes, seed, max_uses, lights, sources)
        self.shown: dict[str, int] = {}  # examples taken per class (a class's lights share its examples)

    def __call__(self, target: Target, n: int, round_number: int) -> list[Variant]:
        name = target.expression
        key = (name, target.lighting) if target.lighting else name
        what = f"{name}|{target.lighting}" if target.lighting else name
        variants = [Variant(job.source, job.use, target,
                            derived_seed(self.seed, f"{self.records[job.source].path}|{what}", job.use))
                    for job in self.planner.take(key, n, round_number)]
        if round_number == 0:
            room = max(0, self.examples_per_class - self.shown.get(name, 0))
            self.layout.examples.update(variants[:room])
            self.shown[name] = self.shown.get(name, 0) + min(room, len(variants))
        return variants


def synthesize(records: Sequence[FaceRecord], classes: Sequence[str], needed: dict[str, int], models,
               device: torch.device, out: Path, judge: Judge | None, *, q_min: float, seed: int, budget: float,
               max_uses: int, max_rounds: int, batch_size: int, examples_per_class: int = 8,
               lights: Sequence[str] = (), sources: Sequence[str] | None = None,
               progress: Callable[[dict], None] | None = None, log: Callable[[str], None] = print) -> Synthesis:
    """Synthesize until every class has ``needed`` kept faces, its budget is spent or its sources run out
    (``lights``: relight each class's own faces to these lights instead of translating other classes';
    ``sources``: translate only the images of these classes, e.g. ``["neutral"]``)."""
    layout = RebalanceLayout(records)
    uses = len(lights) if lights else max_uses  # relighting: each light once per face, max_uses does not apply
    supply = SourceSupply(records, classes, seed, uses, layout, examples_per_class, lights, sources)
    rule = KeepRule(q_min, judges={EXPRESSION_JUDGE: judge} if judge is not None else {}, match_grey=True)
    if lights:
        quotas = {Target(lighting=light, expression=c): n for c in classes
                  for light, n in split_quota(needed[c], lights).items()}
    else:
        quotas = {Target(expression=c): needed[c] for c in classes}

    def report(round_number: int, states: dict[Target, QuotaState]) -> None:
        if progress is not None:
            progress({"round": round_number, "kept": sum(s.kept for s in states.values()),
                      "needed": sum(s.quota for s in states.values()),
                      "generated": sum(s.generated for s in states.values())})

    run = run_quotas(layout, models, device, out, ChunkJournal(out / JOURNAL), rule, quotas, supply, budget=budget,
                     max_rounds=max_rounds, batch_size=batch_size, progress=report, log=log)
    states = {c: merged_state([s for t, s in run.states.items() if t.expression == c]) for c in classes}
    over = {c: s.rejected.get(OVER_QUOTA, 0) for c, s in states.items()}
    return Synthesis(run.rows, states, [e for entry in run.entries for e in entry["examples"]], run.rounds,
                     run.seconds, run.chunks_run, run.chunks_resumed,
                     [f"{n} {c} face(s) that passed after the quota was reached not kept" for c, n in over.items() if n])
