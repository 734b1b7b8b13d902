"""Turning journals into a run's outputs: ``manifest.parquet`` (+ .csv), ``summary.json``, ``report.html``.

A single-process run writes them in ``--out``; a shard writes its own in ``--out/.expand/parts/<part>/``, and
:func:`merge_run` (``augment merge``) joins every shard's journal into the ``--out`` ones. Rows are
ordered by chunk, then plan order, so a merged run's manifest is byte-identical to a single run's.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np

from augmenter.atomic import write_text_atomic
from augmenter.datasets.manifest import new_manifest, write_manifest
from augmenter.errors import RunConflictError
from augmenter.expand.config import ExpandConfig
from augmenter.expand.files import naming, naming_errors
from augmenter.expand.journal import ChunkJournal
from augmenter.expand.plan import chunks_of_shard
from augmenter.expand.report import ReportSource, ReportVariant, render_report
from augmenter.expand.run_dir import PARTS, RunDir
from augmenter.expand.summary import build_summary
from augmenter.jsonsafe import json_safe
from augmenter.quality.tear_check import describe_causes
from augmenter.skips import SkipReport


def _skips(entries: list[dict], reader_skips: SkipReport) -> SkipReport:
    skips = SkipReport()
    skips.merge(reader_skips)
    for entry in entries:
        for reason, message in entry["skips"]:
            skips.add(reason, message)
    return skips


def _report_sources(entries: list[dict], limit: int) -> list[ReportSource]:
    shown = sorted((s for e in entries for s in e["report"]), key=lambda s: s["source"])[:limit]
    return [ReportSource(s["source_path"], s["identity"], s["label"], base64.b64decode(s["thumb"]),
                         [ReportVariant(v["target"], v["q_score"], v["kept"], base64.b64decode(v["thumb"]),
                                        v.get("note", ""))  # a journal written before notes has none
                          for v in s["variants"]]) for s in shown]


def _facts(config: ExpandConfig, summary: dict) -> list[tuple[str, str]]:
    q = summary["q_score"]
    return [
        ("dataset", f"{config.dataset} ({config.root or 'built-in sample'})"),
        ("sources", f"{summary['sources_processed']:,} processed of {summary['sources_planned']:,}"),
        ("variants", f"{summary['variants']:,} ({config.per_image} per source, mode {config.mode})"),
        ("kept", f"{summary['kept']:,} ({100 * summary['kept_rate']:.1f}%)"),
        ("q_score median", f"{q['quantiles']['p50']:.3f}" if q.get("scored") else "–"),
        ("skipped", f"{summary['skips']['total']:,}"),
        ("speed", f"{summary['variants_per_s']:.1f} variants/s ({summary['processing_s']:.0f} s processing)"),
        ("generator", summary["generator"]["path"] + (" (demo-grade)" if summary["generator"]["demo"] else "")),
        ("Q", summary["q"]["path"] + (" (demo-grade)" if summary["q"]["demo"] else "")),
        ("tear check", (summary.get("tear_check") or {}).get("path") or "none (Q alone)"),
        *_moved(summary.get("check_moved")),
    ]


def _moved(moved: dict | None) -> list[tuple[str, str]]:
    """The facts row saying what the tear check did to the run's scores (none without notes)."""
    if not moved or not moved["variants"]:
        return []
    return [("check moved", f"{moved['variants']:,} scores ({moved['rejected']:,} of them rejected): "
                            f"{describe_causes(moved['by_cause'])}")]


def _write_manifest(df, folder: Path) -> tuple[Path, Path]:
    """:func:`write_manifest` (Parquet, then CSV), an ``OSError`` naming the file it failed on: the CSV
    when the Parquet file was already replaced (a new inode), else the Parquet file."""
    parquet, csv = folder / "manifest.parquet", folder / "manifest.csv"

    def inode() -> int | None:
        try:
            return parquet.stat().st_ino
        except OSError:
            return None

    before = inode()
    try:
        return write_manifest(df, folder / "manifest")
    except OSError as err:
        renamed = naming(err, csv if inode() not in (before, None) else parquet)
        if renamed is err:
            raise
        raise renamed from err


def write_outputs(folder: Path, entries: list[dict], config: ExpandConfig, meta: dict, reader_skips: SkipReport,
                  sources_planned: int, wall_s: float) -> tuple[dict[str, Path], dict]:
    """Write the manifest, summary and report of ``entries`` (journal entries of any number of parts)."""
    entries = sorted(entries, key=lambda e: e["chunk"])
    rows = [row for e in entries for row in e["rows"]]
    df = new_manifest(rows) if rows else new_manifest([])
    parquet, csv = _write_manifest(df, folder)
    summary = build_summary(df, _skips(entries, reader_skips), sources_planned=sources_planned,
                            processing_s=sum(e.get("seconds", 0.0) for e in entries), wall_s=wall_s, meta=meta)
    with naming_errors(folder / "summary.json"):
        write_text_atomic(folder / "summary.json", json.dumps(json_safe(summary), indent=2) + "\n")
    page = render_report(_report_sources(entries, config.report_sources), df["q_score"].to_numpy(dtype=np.float64),
                         q_min=None if config.keep_best else config.q_min, keep_best=config.keep_best,
                         title=f"augment expand: {config.dataset} → {config.out}", facts=_facts(config, summary))
    with naming_errors(folder / "report.html"):
        write_text_atomic(folder / "report.html", page)
    return {"manifest": parquet, "manifest (csv)": csv, "summary": folder / "summary.json",
            "report": folder / "report.html"}, summary


def run_meta(config: ExpandConfig, models, device: str) -> dict:
    from augmenter.gan.models import DEMO_LEGAN
    from augmenter.quality.model import DEFAULT_Q, DEMO_Q

    t = models.translator
    return {"settings": config.identity(), "part": config.part, "device": device, "notices": models.notices,
            "generator": {"path": str(t.path), "hash": models.generator_hash, "arch": t.arch,
                          "image_size": t.image_size, "demo": t.path == DEMO_LEGAN},
            "q": {"hash": models.q_hash, "path": str(models.q_path), "demo": models.q_path == DEMO_Q,
                  "built_in_default": models.q_path == DEFAULT_Q},
            "tear_check": {"hash": models.tear_check_hash,
                           "path": str(models.tear_check_path) if models.tear_check_path else None}}


def finalize_part(run_dir: RunDir, config: ExpandConfig, plan, models, reader_skips: SkipReport,
                  wall_s: float) -> tuple[dict[str, Path], dict]:
    entries = list(ChunkJournal(run_dir.journal(config.part)).read().values())
    folder = run_dir.output_folder(config)
    meta = run_meta(config, models, str(next(models.q_net.parameters()).device))
    meta["reader_skips"] = {"counts": dict(reader_skips.counts), "examples": reader_skips.examples}
    return write_outputs(folder, entries, config, meta, reader_skips, plan.n_sources, wall_s)


SHARD_PART = re.compile(r"shard-(\d+)-of-(\d+)")


def shard_sets(parts_folder: Path) -> dict[int, list[Path]]:
    """The shard part folders under ``parts_folder``, by shard count (``shard-03-of-08`` -> 8)."""
    sets: dict[int, list[Path]] = {}
    if parts_folder.is_dir():
        for part in sorted(parts_folder.iterdir()):
            match = SHARD_PART.fullmatch(part.name)
            if match and part.is_dir():
                sets.setdefault(int(match.group(2)), []).append(part)
    return sets


def _chosen_count(parts_folder: Path, sets: dict[int, list[Path]], shards: int | None) -> int:
    """The shard count to merge: ``shards`` when given (it must be there), else the only one present.
    Parts of several counts (a rerun with another ``--shard i/N``) are a ``RunConflictError`` listing them."""
    if not sets:
        raise RunConflictError(parts_folder, "holds no shard to merge (a run without --shard needs no merge)")
    listed = "; ".join(f"{len(parts)} part(s) of {n} (shard-*-of-{n:02d})" for n, parts in sorted(sets.items()))
    if shards is not None and shards not in sets:
        raise RunConflictError(parts_folder, f"has no shard set of {shards}: it holds {listed}")
    if shards is None and len(sets) > 1:
        raise RunConflictError(parts_folder, f"holds shard sets of different counts: {listed}; merge one with "
                                             "--shards N (it must be complete), or delete the other set's folders")
    count = shards if shards is not None else next(iter(sets))
    beyond = [p.name for p in sets[count] if int(SHARD_PART.fullmatch(p.name).group(1)) >= count]
    if beyond:
        raise RunConflictError(parts_folder / beyond[0], f"is no shard of a {count}-shard run (they are numbered "
                                                         f"0 to {count - 1}); remove it before merging")
    return count


def merge_run(out: str | Path, shards: int | None = None) -> tuple[dict[str, Path], dict]:
    """Join every shard of the sharded run in ``out`` into ``out``'s manifest, summary and report.

    ``shards`` chooses the shard count to merge when ``out/.expand/parts`` holds parts of several counts
    (e.g. ``shard-00-of-02`` beside a full ``shard-*-of-03`` set); without it that is refused, listing the
    sets. Refuses (one line naming the part) when a shard of the chosen set is missing or unfinished.
    """
    run_dir = RunDir(out)
    saved = run_dir.saved()
    if saved is None:
        raise RunConflictError(run_dir.run_file, "not found: no expand run to merge here")
    parts_folder = run_dir.meta / PARTS
    shards = _chosen_count(parts_folder, shard_sets(parts_folder), shards)
    config = ExpandConfig.from_dict({**saved["settings"], "out": str(out), "shards": shards})
    entries, metas, reader = [], [], SkipReport()
    for i in range(shards):
        part = run_dir.part_dir(f"shard-{i:02d}-of-{shards:02d}")
        expected = {c.start // config.batch_size for c in chunks_of_shard(saved["n_sources"], config.batch_size, i, shards)}
        found = ChunkJournal(part / "journal.jsonl").read()
        if not expected <= set(found):
            raise RunConflictError(part, f"shard {i}/{shards} has finished {len(set(found) & expected)} of "
                                         f"{len(expected)} chunk(s); run it to the end before merging")
        entries += [found[n] for n in sorted(expected)]
        summary_file = part / "summary.json"
        if summary_file.is_file():
            metas.append(json.loads(summary_file.read_text(encoding="utf-8")))
    meta = metas[0] if metas else None
    keys = ("settings", "device", "notices", "generator", "q")
    merged_meta = {k: meta[k] for k in keys if meta and k in meta}
    merged_meta.update(part="merged", shards=shards)
    if meta and "reader_skips" in meta:
        reader.counts.update(meta["reader_skips"]["counts"])
        reader.examples.update(meta["reader_skips"]["examples"])
        merged_meta["reader_skips"] = meta["reader_skips"]
    wall_s = max((m.get("wall_s", 0.0) for m in metas), default=0.0)  # shards run side by side
    return write_outputs(run_dir.out, entries, config, merged_meta, reader, saved["n_sources"], wall_s=wall_s)
