"""The expansion engine: synthesize variants with LEGAN, judge each with Q, keep the best, record all.

Per chunk of ``batch_size`` source images (see :mod:`augmenter.expand.plan`):

1. a DataLoader worker decodes and resizes the chunk (``uint8``, so the transfer is a quarter of float);
2. the generator translates every planned variant of the chunk in one batch
   (``batch_size x per_image`` images; bfloat16 autocast on CUDA), Q scores them (float32);
3. the keep rule decides (``q_score >= q_min``, or the ``keep_best`` best of each source; then every extra
   judge given to :func:`run_expand`);
4. a thread pool encodes and writes the kept images (atomic writes) while the model goes on with the
   next chunk; once a chunk's images are on disk its manifest rows are appended to the run's journal.

Killing the process at any moment loses at most the chunks in flight; a rerun of the same command
reads the journal, checks (one ``stat`` each) that the images it lists still exist, redoes the chunks
that lost one, skips the other finished chunks and ends with exactly the outputs of an uninterrupted run.
One process at a time works on an output folder (or on one shard of it): see :mod:`augmenter.expand.lock`.

This module plans and finalizes expand runs; the per-chunk machinery (steps 1-4, the journal and resuming)
is :mod:`augmenter.expand.synthesis`, which quota runs (:mod:`augmenter.expand.quota`) share.
"""
from __future__ import annotations

import contextlib
import math
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from augmenter import __version__
from augmenter.datasets.listing import DatasetListing
from augmenter.datasets.manifest import file_sha256
from augmenter.datasets.splits import record_split
from augmenter.errors import CheckpointError
from augmenter.expand.config import ExpandConfig
from augmenter.expand.files import naming_errors
from augmenter.expand.journal import ChunkJournal
from augmenter.expand.layout import (CLASS_DATASETS, check_distinct_names, class_labels, dataset_classes,
                                     drop_duplicate_sources, rejected_path, source_key, variant_labels, variant_path)
from augmenter.expand.lock import holding
from augmenter.expand.plan import Variant, chunks_of_shard, plan_source
from augmenter.expand.run_dir import FINAL_OUTPUTS, RunDir, check_out_and_root, check_out_is_folder
from augmenter.expand.sources import SAMPLE_FOLDER, open_sources, training_sources
from augmenter.expand.synthesis import (Batch, Chunk, ChunkProcessor, ChunkRunner, Judge, KeepRule, Outcome,
                                        keep_decisions, png_b64, remove_stale_temp_files, resumable_entries)
from augmenter.gan.models import EXPRESSION_ALIASES, Translator, built_in_notice, load_translator, one_hot
from augmenter.gan.vocabulary import require_in_vocabulary
from augmenter.quality.model import load_q, q_notice, q_scores_of
from augmenter.quality.tear_check import (DEFAULT_TEAR_CHECK, TEAR_NOTICE, describe_causes, judged_and_why,
                                          load_tear_check, source_margin)
from augmenter.device import resolve_device

__all__ = ["ExpandResult", "Models", "Plan", "keep_decisions", "make_plan", "run_expand"]


@dataclass
class Models:
    """The generator, Q and tear check of a run, with what the manifest and summary say about them.

    ``tear_check`` (``None``: none) compares each variant with its source; a torn variant's q_score loses up to
    :data:`~augmenter.quality.tear_check.TEAR_PENALTY`, and with the check's rules a softened one, a grey face
    given colour, light brought out of the source's black or new light without its texture up to that again each,
    and no variant scores more than the rules' margin above its source (see :mod:`augmenter.quality.tear_check`)."""

    translator: Translator
    q_net: torch.nn.Module
    q_path: Path
    generator_hash: str
    q_hash: str
    notices: list[str] = field(default_factory=list)
    tear_check: torch.nn.Module | None = None
    tear_check_path: Path | None = None
    tear_check_hash: str | None = None

    @classmethod
    def load(cls, legan: str | None, q: str | None, device: torch.device, image_size: int | None = None,
             relight_style: str | None = None, tear_check: str | None = None) -> "Models":
        """``tear_check``: a checkpoint, ``None`` for the built-in one, ``"none"`` for no check."""
        if image_size is not None and image_size < 32:
            raise ValueError(f"--size must be at least 32 px, not {image_size}")
        translator = load_translator(legan, device, relight_style=relight_style)
        if image_size is not None and image_size != translator.image_size:
            if translator.arch != "fields":
                raise CheckpointError(translator.path, f"is a {translator.arch} generator of {translator.image_size} px; "
                                                       f"--size {image_size} needs a fields generator")
            translator.image_size = image_size
        q_net, q_path = load_q(q, device)
        check, check_path = load_tear_check(tear_check, device)
        notices = [n for n in (built_in_notice(translator.path), q_notice(q_path),
                               TEAR_NOTICE if check_path == DEFAULT_TEAR_CHECK else None) if n]
        return cls(translator, q_net, q_path, file_sha256(translator.path), file_sha256(q_path), notices,
                   check, check_path, file_sha256(check_path) if check_path else None)

    @torch.inference_mode()
    def forward(self, x: torch.Tensor, lighting: torch.Tensor, expression: torch.Tensor,
                take: torch.Tensor | None = None) -> tuple[torch.Tensor, np.ndarray, list[str]]:
        """``x`` (N, 3, S, S) in [-1, 1], target indices (B,) with -1 = keep -> (outputs (B, 3, S, S) float32
        in [-1, 1], q_score (B,) float64 in [0.1, 1]: Q's rating clipped to 1..10, / 10, less the tear check's
        penalty when there is one, rounded to 6 digits, and per variant what the check did to Q's score, in words
        (:func:`~augmenter.quality.tear_check.judged_and_why`; ``""`` when nothing)). ``take`` (B,): the row of
        ``x`` each variant is made from (``None``: one variant per row, B = N), so a source shared by several
        variants is scored once. The generator runs under bfloat16 autocast on CUDA."""
        device = x.device
        t = self.translator
        # the generator's input is the photo as it saw it: the source a bounded check holds each variant to
        source_q = q_scores_of(self.q_net, x) if source_margin(self.tear_check) is not None else None
        if take is not None:
            x = x[take.to(device)]
            source_q = source_q[take.cpu().numpy()] if source_q is not None else None
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext())
        with autocast:
            y = t.generator(x, one_hot(lighting.to(device), len(t.lighting)), one_hot(expression.to(device), len(t.expression)))
        y = y.float().clamp(-1, 1)
        q, why = judged_and_why(q_scores_of(self.q_net, y), self.tear_check, x, y, source_q=source_q)
        return y, q.round(6), why


def target_vocabulary(requested: str, vocabulary: list[str], kind: str, checkpoint: Path) -> list[str]:
    """``"all"`` or comma-separated names -> the names, each checked against the checkpoint's vocabulary."""
    if requested == "all":
        return list(vocabulary)
    names = [n.strip() for n in requested.split(",") if n.strip()]
    if kind == "expression":
        names = [n if n in vocabulary else EXPRESSION_ALIASES.get(n, n) for n in names]
    require_in_vocabulary(checkpoint, kind, names, vocabulary)
    return names


def parse_expression_map(text: str | None) -> dict[str, str]:
    """``"scream=surprise, squint=disgust"`` -> ``{"scream": "surprise", "squint": "disgust"}``
    (``None`` or ``""`` -> ``{}``); ``ValueError`` on anything else."""
    mapping = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, sep, label = (part.strip() for part in item.partition("="))
        if not (sep and name and label):
            raise ValueError(f"--expression-map {text!r}: {item.strip()!r} is not NAME=CLASS "
                             "(e.g. scream=surprise,squint=disgust)")
        mapping[name] = label
    return mapping


def class_targets(config: ExpandConfig, classes: tuple[str, ...] | None, names: list[str], vocabulary: list[str],
                  checkpoint: Path, log: Callable[[str], None]) -> tuple[list[str], dict[str, str] | None]:
    """The expression targets a dataset of classes can hold, and the class each is written as.

    For a dataset without expression classes (``classes`` is ``None``): ``names`` unchanged and ``None``.
    Otherwise a name is kept when it maps to a class (:func:`augmenter.expand.layout.class_labels`, with
    ``--expression-map``); with ``--expression all`` the others are left out with a notice, an explicit
    ``--expression`` naming one of them is a ``ValueError`` listing the classes. A map naming an
    expression the checkpoint lacks is a ``CheckpointError``, one naming no class a ``ValueError``.
    """
    explicit = parse_expression_map(config.expression_map)
    if classes is None:
        if explicit:
            raise ValueError(f"--expression-map: --dataset {config.dataset} has no expression classes to map onto "
                             f"(only {', '.join(CLASS_DATASETS)} have)")
        return names, None
    require_in_vocabulary(checkpoint, "expression", list(explicit), vocabulary, hint=": check --expression-map")
    not_classes = [c for c in explicit.values() if c not in classes]
    if not_classes:
        raise ValueError(f"--expression-map: {config.dataset} has no class {', '.join(map(repr, not_classes))}; "
                         f"its classes: {', '.join(classes)}")
    labels = class_labels(names, classes, explicit)
    left_out = [n for n in names if n not in labels]
    if config.mode == "lighting" or not left_out:
        return names, labels
    listing = f"its classes: {', '.join(classes)}"
    if config.expression != "all":
        raise ValueError(f"--expression {', '.join(map(repr, left_out))}: {config.dataset} has no class for "
                         f"{'it' if len(left_out) == 1 else 'them'} ({listing}); choose others, or give each "
                         "a class with --expression-map NAME=CLASS")
    if len(left_out) == len(names):
        raise ValueError(f"none of the generator's expressions ({', '.join(names)}) is a class of {config.dataset} "
                         f"({listing}); give them classes with --expression-map NAME=CLASS, or use --mode lighting")
    log(f"expression targets {', '.join(left_out)} left out: {config.dataset} has no class for them ({listing}); "
        "--expression-map NAME=CLASS gives one a class")
    return [n for n in names if n in labels], labels


def nothing_to_make(config: ExpandConfig, n_sources: int, lighting: list[str], expression: list[str]) -> str:
    """The one-line refusal of a run whose plan has no variant although it has sources: every source's targets
    were its own (a source's own lighting and expression are never targets), or were left out for want of a
    class, so the run would write an empty set."""
    lights = f"{len(lighting)} lighting target(s)"
    expressions = f"expression targets left: {', '.join(expression) or 'none'}"
    kind, listed, hint = {
        "lighting": ("lighting", lights, ""),
        "expression": ("expression", expressions, "; try another --mode, or --expression-map NAME=CLASS"),
        "both": ("lighting and expression", f"{lights}; {expressions}",
                 "; --mode both gives every variant a new light and a new expression: try --mode lighting, or give "
                 "expressions a class with --expression-map NAME=CLASS"),
    }[config.mode]
    return f"nothing to make: none of the {n_sources} source(s) has a {kind} target it does not already have " \
           f"({listed}){hint}"


def planned_paths(plan: "Plan", source: int, variant: Variant) -> tuple[str, str]:
    """The kept and the rejected path a variant may be written to."""
    path = variant_path(plan.listing.dataset, plan.listing.records[source], plan.keys[source], variant.target,
                        plan.classes)
    return path, rejected_path(path)


@dataclass
class Plan:
    """A run's sources and planned variants, and the chunks this process owns."""

    listing: DatasetListing
    keys: list[str]
    variants: list[list[Variant]]
    chunks: list[tuple[int, range]]     # (global chunk number, source indices)
    report: frozenset[int]              # sources shown on report.html, spread evenly over the listing
    classes: dict[str, str] | None = None  # expression target -> the dataset class it is written as

    @property
    def n_variants(self) -> int:
        return sum(len(self.variants[s]) for _, sources in self.chunks for s in sources)

    @property
    def n_sources(self) -> int:
        return sum(len(sources) for _, sources in self.chunks)


def make_plan(config: ExpandConfig, listing, lighting: list[str], expression: list[str],
              classes: dict[str, str] | None = None) -> Plan:
    """The run's plan over ``listing``. A source listed twice is expanded once (the repeat is dropped from
    ``listing.records`` and counted in ``listing.skips``); two sources whose variants would overwrite each
    other are a ``DatasetFormatError``. ``classes`` as in :func:`class_targets`."""
    keys = [source_key(r, listing.root) for r in listing.records]
    listing.records, keys = drop_duplicate_sources(listing.records, keys, listing.skips)
    records = listing.records
    check_distinct_names(keys, [r.path for r in records])
    variants = [plan_source(r, k, i, config.per_image, config.mode, lighting, expression, config.seed, classes)
                for i, (r, k) in enumerate(zip(records, keys))]
    owned = chunks_of_shard(len(records), config.batch_size, config.shard, config.shards)
    chunks = [(c.start // config.batch_size, c) for c in owned]
    n_shown = min(config.report_sources, len(records))
    shown = frozenset(np.linspace(0, len(records) - 1, n_shown).round().astype(int).tolist()) if n_shown else frozenset()
    return Plan(listing, keys, variants, chunks, shown, classes)


class ExpandLayout:
    """Where an expand run writes its variants, the manifest row each gets and its report thumbnails
    (the :class:`~augmenter.expand.synthesis.Layout` of ``augment expand``). With extra judges, each row
    also has a ``judge_<name>`` score column."""

    def __init__(self, plan: Plan, generator_hash: str, judges: Mapping[str, Judge] | None = None):
        self.plan, self.generator_hash, self.judges = plan, generator_hash, list(judges or ())
        self.records = plan.listing.records

    def paths(self, variant: Variant) -> tuple[str, str]:
        return planned_paths(self.plan, variant.source, variant)

    def row(self, outcome: Outcome) -> dict | None:
        if outcome.failed:  # counted in the entry's skips
            return None
        plan, v = self.plan, outcome.variant
        record, dataset = plan.listing.records[v.source], plan.listing.dataset
        light, expr = variant_labels(dataset, record, v.target, plan.classes)
        row = {
            "out_path": planned_paths(plan, v.source, v)[0 if outcome.kept else 1], "source_path": plan.keys[v.source],
            "identity": record.identity, "dataset": dataset, "lighting": light, "expression": expr,
            "q_score": outcome.q, "kept": outcome.kept, "seed": v.seed, "generator_hash": self.generator_hash,
            "toolkit_version": __version__, "variant_index": v.index, "target": v.target.tag,
            "source_lighting": record.lighting, "source_expression": record.expression,
            "source_split": record_split(record), "q_note": outcome.note,
        }
        row.update({f"judge_{name}": outcome.verdicts[name].score for name in self.judges})
        return row

    def annotate(self, entry: dict, batch: Batch) -> None:
        plan, records = self.plan, self.plan.listing.records
        decoded = [o for o in batch.outcomes if not o.failed]
        entry["report"] = []
        if not decoded:
            return
        for n, s in enumerate(batch.sources):
            if s in plan.report:
                entry["report"].append({
                    "source": s, "source_path": plan.keys[s], "identity": records[s].identity,
                    "label": f"lighting {records[s].lighting}, expression {records[s].expression}",
                    "thumb": png_b64(batch.images[n].permute(1, 2, 0).numpy()),
                    "variants": [{"target": o.variant.target.tag, "q_score": o.q, "kept": o.kept, "note": o.note,
                                  "thumb": png_b64(batch.pixels[o.output])} for o in decoded if o.variant.source == s]})


@dataclass
class ExpandResult:
    out: Path
    summary: dict
    outputs: dict[str, Path]
    notices: list[str]

    def describe(self) -> str:
        s = self.summary
        lines = [f"{s['variants']} variant(s) of {s['sources_processed']} source image(s): {s['kept']} kept "
                     f"({100 * s['kept_rate']:.1f}%), {s['variants'] - s['kept']} rejected; "
                     f"{s['variants_per_s']:.1f} variants/s"]
        moved = s.get("check_moved") or {}
        if moved.get("variants"):
            lines.append(f"the tear check moved {moved['variants']} score(s), {moved['rejected']} of those variants "
                         f"rejected: {describe_causes(moved['by_cause'])} (q_note in the manifest)")
        if s["skips"]["total"]:
            lines.append(f"skipped {s['skips']['total']}: " + ", ".join(f"{k} {v}" for k, v in s["skips"]["counts"].items()))
        lines += [f"{name}: {path}" for name, path in self.outputs.items()]
        return "\n".join(lines)

    def nothing_kept(self) -> str | None:
        """One line for a run that kept no variant (a valid result that is rarely the one wanted): why,
        from the summary (Q's distribution, the skips), and what to try; ``None`` when something was kept."""
        s = self.summary
        if s["kept"]:
            return None
        settings = s.get("settings", {})
        if not s["variants"]:
            counts = ", ".join(f"{k} {v}" for k, v in s["skips"]["counts"].items()) or "none"
            return (f"NOTHING KEPT: no variant was made; {s['sources_planned']} source image(s) planned, "
                    f"{s['skips']['total']} skipped ({counts}; examples in summary.json). Faces smaller than "
                    f"--min-size ({settings.get('min_size')} px) and unreadable images are skipped.")
        q = s["q_score"]
        if not q.get("scored"):
            return (f"NOTHING KEPT: none of the {s['variants']} variant(s) got a finite q_score from Q; "
                    "check the --q checkpoint.")
        quantiles = q["quantiles"]
        suggestion = math.floor(quantiles["p50"] * 100) / 100
        return (f"NOTHING KEPT: 0 of {s['variants']} variant(s) reached --q-min {settings.get('q_min'):g}; "
                f"their q_score: min {q['min']:.3f}, p25 {quantiles['p25']:.3f}, median {quantiles['p50']:.3f}, "
                f"p75 {quantiles['p75']:.3f}, max {q['max']:.3f}. Try --q-min {suggestion:.2f} (keeps about half) "
                "or --keep-best 1 (the best variant of each source), in another --out or with the same one "
                "after deleting it.")


def run_expand(config: ExpandConfig, resume: bool = False, progress: Callable[[int, int], None] | None = None,
               log: Callable[[str], None] = print, judges: Mapping[str, Judge] | None = None) -> ExpandResult:
    """Run (or resume) ``config``'s expansion; returns the summary and the paths written.

    ``judges``: extra judges besides Q (name -> :data:`~augmenter.expand.synthesis.Judge`); a variant is kept
    only when Q's rule and every judge accept it, and each manifest row gets a ``judge_<name>`` score. Their
    names are part of the run's identity (a rerun with other judges is refused); what they decide is not
    checked, so resume a run with the same judges.

    ``resume`` continues the run found in ``config.out`` with its own saved settings even when
    ``config`` differs (otherwise a different run there is refused). See the module docstring.

    Sources are the dataset's training split (and datasets without splits) unless
    ``config.include_eval_splits`` (:func:`~augmenter.expand.sources.training_sources`); each manifest row
    records its source's split in ``source_split``.

    Refused before anything is written (one-line errors naming the file): an ``out`` that is a file
    (``NotADirectoryError``), that overlaps the dataset (:func:`~augmenter.expand.run_dir.check_out_and_root`),
    that holds another run, or that another live process is expanding (:mod:`augmenter.expand.lock`);
    targets the checkpoint or the dataset's classes lack (:func:`class_targets`); sources of which none has a
    target it does not already have (:func:`nothing_to_make`); sources whose variants would overwrite each other.
    Operating-system errors while writing (disk full...) are OSErrors naming the file; finished chunks stay
    journaled, so rerunning the command resumes.
    """
    start = time.perf_counter()
    out = Path(config.out)
    run_dir = RunDir(out)
    check_out_is_folder(out)
    if resume:
        config = run_dir.saved_config(config)
    check_out_and_root(out, config.root, SAMPLE_FOLDER)
    device = resolve_device(config.device)
    models = Models.load(config.legan, config.q, device, config.image_size, config.relight_style, config.tear_check)
    for message in models.notices:
        log(message)

    def notice(message: str) -> None:  # logged now and recorded in summary.json
        log(message)
        models.notices.append(message)

    t = models.translator
    lighting = target_vocabulary(config.lighting, t.lighting, "lighting", t.path)
    expression = target_vocabulary(config.expression, t.expression, "expression", t.path)
    with contextlib.ExitStack() as stack:
        sample_folder = out / SAMPLE_FOLDER
        builtin = config.dataset == "sample" and config.root is None
        if config.dry_run and not sample_folder.is_dir():  # a dry run writes nothing, not even the sample
            sample_folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        if builtin and not config.dry_run:  # rendering the sample is this run's first write
            stack.enter_context(_locked(run_dir, config, log))
        listing = open_sources(config.dataset, config.root, config.csv, sample_folder)
        classes = dataset_classes(config.dataset, listing.records)  # of the whole listing, before --limit
        listing.records, split_notice = training_sources(listing.records, config.include_eval_splits, config.dataset)
        if split_notice:
            notice(split_notice)
        if config.legan is None and config.dataset != "sample" and config.root \
                and (message := unaligned_notice(Path(config.root))):
            notice(message)
        if config.limit is not None:
            listing.records = listing.records[:config.limit]
        expression, labels = class_targets(config, classes, expression, t.expression, t.path, notice)
        plan = make_plan(config, listing, lighting, expression, labels)
        if plan.n_sources and not plan.n_variants:
            raise ValueError(nothing_to_make(config, plan.n_sources, lighting, expression))
        if config.dry_run:
            from augmenter.expand.dry_run import estimate

            return estimate(config, plan, models, device, start)
        if not builtin:
            stack.enter_context(_locked(run_dir, config, log))
        return _expand(config, run_dir, plan, models, device, start, progress, log, judges)


def unaligned_notice(root: Path) -> str | None:
    """A warning when ``root`` was not written by ``augment align`` (no ``align.json``), else ``None``; given
    when the built-in field generator expands a dataset other than the rendered sample.

    The built-in generators learned ArcFace-framed crops: on Extended Yale B's own tight crops the field
    generator paints black strokes beside the nose and mouth under every light, while the same photos
    aligned relight naturally (docs/generator.md). Crops aligned by another tool to that framing are fine,
    so this warns rather than refuses."""
    from augmenter.align_tree import SETTINGS_NAME

    if root.is_dir() and not (root / SETTINGS_NAME).is_file():
        return (f"{root} was not written by `augment align`: the built-in generators expect ArcFace-framed "
                f"crops and paint dark strokes on faces framed otherwise; run `augment align {root} ALIGNED` "
                f"first unless these crops are already aligned that way")
    return None


@contextlib.contextmanager
def _locked(run_dir: RunDir, config: ExpandConfig, log: Callable[[str], None]):
    lock = run_dir.lock(config)
    with naming_errors(lock.parent):
        lock.parent.mkdir(parents=True, exist_ok=True)
    with holding(lock, log):
        yield


def _expand(config: ExpandConfig, run_dir: RunDir, plan: Plan, models: Models, device: torch.device, start: float,
            progress: Callable[[int, int], None] | None, log: Callable[[str], None],
            judges: Mapping[str, Judge] | None = None) -> ExpandResult:
    """The run itself, once checked and locked: claim ``out``, process the chunks the journal lacks, finalize."""
    from augmenter.expand.finalize import finalize_part

    out, listing, t = run_dir.out, plan.listing, models.translator
    run_dir.claim(config, models.generator_hash, models.q_hash, n_sources=len(listing.records),
                  judges=list(judges or ()), tear_check_hash=models.tear_check_hash)
    journal = ChunkJournal(run_dir.journal(config.part))
    done = resumable_entries(journal, out, config.save_rejected, log)
    chunks = [Chunk(n, list(c), [v for s in c for v in plan.variants[s]]) for n, c in plan.chunks]
    todo = [c for c in chunks if c.number not in done]
    if done:
        log(f"resuming {out}: {len(chunks) - len(todo)} of {len(chunks)} chunk(s) already done")
    remove_stale_temp_files(run_dir.output_folder(config), list(FINAL_OUTPUTS))  # a killed run's final outputs
    planned = {c.number: len(c.variants) for c in chunks}
    total = sum(planned.values())
    finished = sum(planned[c.number] for c in chunks if c.number in done)

    def written(entry: dict) -> None:
        nonlocal finished
        finished += planned[entry["chunk"]]
        if progress:
            progress(finished, total)

    rule = KeepRule(config.q_min, config.keep_best, dict(judges or {}))
    with ThreadPoolExecutor(max(1, config.writers)) as pool:
        processor = ChunkProcessor(ExpandLayout(plan, models.generator_hash, judges), models, device, pool, out, rule,
                                   config.save_rejected)
        ChunkRunner(processor, journal, listing.records, t.image_size, config.min_size, config.workers,
                    device).run(chunks, done, on_written=written)
    outputs, summary = finalize_part(run_dir, config, plan, models, listing.skips, wall_s=time.perf_counter() - start)
    return ExpandResult(out, summary, outputs, models.notices)
