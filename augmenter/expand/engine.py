"""The expansion engine: synthesize variants with LEGAN, judge each with Q, keep the best, record all.

Per chunk of ``batch_size`` source images (see :mod:`augmenter.expand.plan`):

1. a DataLoader worker decodes and resizes the chunk (``uint8``, so the transfer is a quarter of float);
2. the generator translates every planned variant of the chunk in one batch
   (``batch_size x per_image`` images; bfloat16 autocast on CUDA), Q scores them (float32);
3. the keep rule decides (``q_score >= q_min``, or the ``keep_best`` best of each source);
4. a thread pool encodes and writes the kept images (atomic writes) while the model goes on with the
   next chunk; once a chunk's images are on disk its manifest rows are appended to the run's journal.

Killing the process at any moment loses at most the chunks in flight; a rerun of the same command
reads the journal, checks (one ``stat`` each) that the images it lists still exist, redoes the chunks
that lost one, skips the other finished chunks and ends with exactly the outputs of an uninterrupted run.
One process at a time works on an output folder (or on one shard of it): see :mod:`augmenter.expand.lock`.
"""
from __future__ import annotations

import base64
import contextlib
import io
import math
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

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
from augmenter.expand.sources import SAMPLE_FOLDER, ChunkImages, open_sources, training_sources
from augmenter.gan.models import EXPRESSION_ALIASES, Translator, built_in_notice, load_translator, one_hot
from augmenter.gan.vocabulary import require_in_vocabulary
from augmenter.tensors import resize_square, to_model_input, to_uint8_images
from augmenter.io import write_image_atomic
from augmenter.nets.quality import RATING_MAX, RATING_MIN
from augmenter.quality.model import load_q, q_notice
from augmenter.device import resolve_device

IN_FLIGHT = 8  # chunks whose images may still be queued for writing


@dataclass
class Models:
    """The generator and Q of a run, with what the manifest and summary say about them."""

    translator: Translator
    q_net: torch.nn.Module
    q_path: Path
    generator_hash: str
    q_hash: str
    notices: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, legan: str | None, q: str | None, device: torch.device, image_size: int | None = None) -> "Models":
        if image_size is not None and image_size < 32:
            raise ValueError(f"--size must be at least 32 px, not {image_size}")
        translator = load_translator(legan, device)
        if image_size is not None and image_size != translator.image_size:
            if translator.arch != "fields":
                raise CheckpointError(translator.path, f"is a {translator.arch} generator of {translator.image_size} px; "
                                                       f"--size {image_size} needs a fields generator")
            translator.image_size = image_size
        q_net, q_path = load_q(q, device)
        notices = ([built_in_notice(translator.path)] if built_in_notice(translator.path) else []) + \
                  ([q_notice(q_path)] if q_notice(q_path) else [])
        return cls(translator, q_net, q_path, file_sha256(translator.path), file_sha256(q_path), notices)

    @torch.inference_mode()
    def forward(self, x: torch.Tensor, lighting: torch.Tensor, expression: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (B, 3, S, S) in [-1, 1], target indices (B,) with -1 = keep -> (outputs (B, 3, S, S) float32
        in [-1, 1], q_score (B,) float64 in [0.1, 1]: Q's rating clipped to 1..10, / 10, rounded to 6 digits).
        The generator runs under bfloat16 autocast on CUDA."""
        device = x.device
        t = self.translator
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext())
        with autocast:
            y = t.generator(x, one_hot(lighting.to(device), len(t.lighting)), one_hot(expression.to(device), len(t.expression)))
        y = y.float().clamp(-1, 1)
        # Q in float32 even on GPU: bfloat16 would round a rating of 7.5 to steps of 0.03
        rating = self.q_net(resize_square(y, self.q_net.config.image_size))
        q = (rating.float().clamp(RATING_MIN, RATING_MAX) / 10).double().cpu().numpy().round(6)
        return y, q


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


def planned_paths(plan: "Plan", source: int, variant: Variant) -> tuple[str, str]:
    """The kept and the rejected path a variant may be written to."""
    path = variant_path(plan.listing.dataset, plan.listing.records[source], plan.keys[source], variant.target,
                        plan.classes)
    return path, rejected_path(path)


def write_variant(path: Path, pixels: np.ndarray) -> None:
    """Write one variant (atomically); an operating-system error names the image."""
    with naming_errors(path):
        write_image_atomic(path, pixels, 95)


def chunks_missing_files(out: Path, done: dict[int, dict], save_rejected: bool) -> dict[int, list[str]]:
    """The finished chunks (journal entries) of which a written image is gone, with the missing paths:
    a kept variant, or with ``save_rejected`` a rejected one. One ``stat`` per image."""
    missing = {}
    for number, entry in sorted(done.items()):
        gone = [row["out_path"] for row in entry["rows"]
                if (row["kept"] or save_rejected) and not os.path.isfile(out / row["out_path"])]
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


def _png_b64(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


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


class ChunkProcessor:
    """Turns one decoded chunk into written images and its journal entry."""

    def __init__(self, config: ExpandConfig, plan: Plan, models: Models, device: torch.device, pool: ThreadPoolExecutor):
        self.config, self.plan, self.models, self.device, self.pool = config, plan, models, device, pool
        self.out = Path(config.out)
        t = models.translator
        self.light_index = {n: i for i, n in enumerate(t.lighting)}
        self.expr_index = {n: i for i, n in enumerate(t.expression)}

    def process(self, number: int, good: list[int], images: torch.Tensor, failures: list) -> tuple[list[Future], dict]:
        plan, config = self.plan, self.config
        records = plan.listing.records
        variants = [v for s in good for v in plan.variants[s]]
        entry = {"chunk": number, "rows": [], "skips": [[reason, message] for _, reason, message in failures],
                 "report": []}
        if not variants:
            return [], entry
        position = {s: i for i, s in enumerate(good)}
        x = to_model_input(images, self.device)[[position[v.source] for v in variants]]
        lighting = torch.tensor([self.light_index[v.target.lighting] if v.target.lighting else -1 for v in variants])
        expression = torch.tensor([self.expr_index[v.target.expression] if v.target.expression else -1 for v in variants])
        y, q = self.models.forward(x, lighting, expression)
        pixels = to_uint8_images(y)
        kept = keep_decisions(q, [v.source for v in variants], config.q_min, config.keep_best)
        futures = []
        dataset = plan.listing.dataset
        for i, v in enumerate(variants):
            record = records[v.source]
            path = planned_paths(plan, v.source, v)[0 if kept[i] else 1]
            if kept[i] or config.save_rejected:
                futures.append(self.pool.submit(write_variant, self.out / path, pixels[i]))
            light, expr = variant_labels(dataset, record, v.target, plan.classes)
            entry["rows"].append({
                "out_path": path, "source_path": plan.keys[v.source], "identity": record.identity,
                "dataset": dataset, "lighting": light, "expression": expr, "q_score": float(q[i]),
                "kept": bool(kept[i]), "seed": v.seed, "generator_hash": self.models.generator_hash,
                "toolkit_version": __version__, "variant_index": v.index, "target": v.target.tag,
                "source_lighting": record.lighting, "source_expression": record.expression,
                "source_split": record_split(record),
            })
        for s in good:
            if s in plan.report:
                rows = [i for i, v in enumerate(variants) if v.source == s]
                source_image = images[position[s]].permute(1, 2, 0).numpy()
                entry["report"].append({
                    "source": s, "source_path": plan.keys[s], "identity": records[s].identity,
                    "label": f"lighting {records[s].lighting}, expression {records[s].expression}",
                    "thumb": _png_b64(source_image),
                    "variants": [{"target": variants[i].target.tag, "q_score": float(q[i]), "kept": bool(kept[i]),
                                  "thumb": _png_b64(pixels[i])} for i in rows]})
        return futures, entry


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
               log: Callable[[str], None] = print) -> ExpandResult:
    """Run (or resume) ``config``'s expansion; returns the summary and the paths written.

    ``resume`` continues the run found in ``config.out`` with its own saved settings even when
    ``config`` differs (otherwise a different run there is refused). See the module docstring.

    Sources are the dataset's training split (and datasets without splits) unless
    ``config.include_eval_splits`` (:func:`~augmenter.expand.sources.training_sources`); each manifest row
    records its source's split in ``source_split``.

    Refused before anything is written (one-line errors naming the file): an ``out`` that is a file
    (``NotADirectoryError``), that overlaps the dataset (:func:`~augmenter.expand.run_dir.check_out_and_root`),
    that holds another run, or that another live process is expanding (:mod:`augmenter.expand.lock`);
    targets the checkpoint or the dataset's classes lack (:func:`class_targets`); sources whose variants
    would overwrite each other. Operating-system errors while writing (disk full...) are OSErrors
    naming the file; finished chunks stay journaled, so rerunning the command resumes.
    """
    start = time.perf_counter()
    out = Path(config.out)
    run_dir = RunDir(out)
    check_out_is_folder(out)
    if resume:
        config = run_dir.saved_config(config)
    check_out_and_root(out, config.root, SAMPLE_FOLDER)
    device = resolve_device(config.device)
    models = Models.load(config.legan, config.q, device, config.image_size)
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
        if config.limit is not None:
            listing.records = listing.records[:config.limit]
        expression, labels = class_targets(config, classes, expression, t.expression, t.path, notice)
        plan = make_plan(config, listing, lighting, expression, labels)
        if config.dry_run:
            from augmenter.expand.dry_run import estimate

            return estimate(config, plan, models, device, start)
        if not builtin:
            stack.enter_context(_locked(run_dir, config, log))
        return _expand(config, run_dir, plan, models, device, start, progress, log)


@contextlib.contextmanager
def _locked(run_dir: RunDir, config: ExpandConfig, log: Callable[[str], None]):
    lock = run_dir.lock(config)
    with naming_errors(lock.parent):
        lock.parent.mkdir(parents=True, exist_ok=True)
    with holding(lock, log):
        yield


def _expand(config: ExpandConfig, run_dir: RunDir, plan: Plan, models: Models, device: torch.device, start: float,
            progress: Callable[[int, int], None] | None, log: Callable[[str], None]) -> ExpandResult:
    """The run itself, once checked and locked: claim ``out``, process the chunks the journal lacks, finalize."""
    from augmenter.expand.finalize import finalize_part

    out, listing, t = run_dir.out, plan.listing, models.translator
    run_dir.claim(config, models.generator_hash, models.q_hash, n_sources=len(listing.records))
    journal = ChunkJournal(run_dir.journal(config.part))
    done = journal.read()
    lost = chunks_missing_files(out, done, config.save_rejected)
    if lost:
        gone = [p for paths in lost.values() for p in paths]
        log(f"{len(gone)} image(s) that the journal of {out} lists are missing (first: {gone[0]}): "
            f"redoing {len(lost)} chunk(s)")
        journal.drop(set(lost))
        done = {n: e for n, e in done.items() if n not in lost}
    todo = [(n, c) for n, c in plan.chunks if n not in done]
    if done:
        log(f"resuming {out}: {len(plan.chunks) - len(todo)} of {len(plan.chunks)} chunk(s) already done")
    # what a killed run had in flight: the next chunks' images and this part's final outputs
    remove_stale_temp_files(out, [p for _, c in todo[:IN_FLIGHT + 8] for s in c for v in plan.variants[s]
                                  for p in planned_paths(plan, s, v)])
    remove_stale_temp_files(run_dir.output_folder(config), list(FINAL_OUTPUTS))
    planned = {n: sum(len(plan.variants[s]) for s in c) for n, c in plan.chunks}
    total = sum(planned.values())
    finished = sum(planned[n] for n in done)
    loader = DataLoader(ChunkImages(listing.records, todo, t.image_size, config.min_size), batch_size=None,
                        num_workers=config.workers, prefetch_factor=4 if config.workers else None,
                        pin_memory=device.type == "cuda")
    pending: deque[tuple[list[Future], dict]] = deque()

    def flush(block: bool) -> None:
        nonlocal finished
        while pending and (block or all(f.done() for f in pending[0][0])):
            futures, entry = pending.popleft()
            for f in futures:
                f.result()  # re-raises a failed write
            journal.append(entry)
            finished += planned[entry["chunk"]]
            if progress:
                progress(finished, total)

    tick = time.perf_counter()
    with ThreadPoolExecutor(max(1, config.writers)) as pool:
        processor = ChunkProcessor(config, plan, models, device, pool)
        try:
            for number, good, images, failures in loader:
                futures, entry = processor.process(number, good, images, failures)
                now = time.perf_counter()
                entry["seconds"] = round(now - tick, 4)
                tick = now
                pending.append((futures, entry))
                flush(block=len(pending) > IN_FLIGHT)
            flush(block=True)
        except KeyboardInterrupt:
            flush(block=True)  # what is already written is recorded, so a rerun does not redo it
            raise
    outputs, summary = finalize_part(run_dir, config, plan, models, listing.skips, wall_s=time.perf_counter() - start)
    return ExpandResult(out, summary, outputs, models.notices)
