"""Run a rebalancing job end to end (see :mod:`pipelines.rebalance`).

Example:
    >>> config = RebalanceConfig(dataset="fer2013", root="data/fer2013", out="runs/rebal",
    ...                          legan="runs/legan/last.pt", q="runs/q/best.pt",
    ...                          expression_model="runs/fer_none/best.pt")        # doctest: +SKIP
    >>> print(run_rebalance(config).describe())                                   # doctest: +SKIP
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from augmenter.checkpoint import save_config_json
from augmenter.datasets.record import UNKNOWN
from augmenter.datasets.splits import is_evaluation_split
from augmenter.errors import CheckpointError
from augmenter.expand.engine import Models
from augmenter.expand.lock import holding
from augmenter.expand.plan import same_expression
from augmenter.expand.run_dir import claim_settings
from augmenter.expand.sources import open_sources
from augmenter.device import resolve_device
from pipelines.rebalance.config import RebalanceConfig, comma_names, default_lights
from pipelines.rebalance.judge import ExpressionJudge
from pipelines.rebalance.outputs import class_table, write_manifest_files, write_report, write_summary
from pipelines.rebalance.plan import class_counts, needed_counts, parse_target
from pipelines.rebalance.synthesize import synthesize
from recognition.train_expression import expression_classes


@dataclass
class RebalanceResult:
    out: Path
    summary: dict

    def describe(self) -> str:
        lines = [f"{'class':<10} {'real':>6} {'needed':>7} {'generated':>9} {'kept':>6} {'shortfall':>9}"]
        for c, t in self.summary["classes"].items():
            lines.append(f"{c:<10} {t['real']:>6} {t['needed']:>7} {t['generated']:>9} {t['kept']:>6} {t['shortfall']:>9}")
        lines.append(f"manifest, summary.json and report.html in {self.out} "
                     f"({self.summary['facts']['synthesis minutes']} min)")
        return "\n".join(lines)


META = ".rebalance"  # the run's bookkeeping: hidden, so dataset readers skip it
LOCK_NAME = "rebalance.lock"
OTHER_SETTINGS = "holds a run with other settings ({keys}); use another --out"


def _claim(out: Path, config: RebalanceConfig) -> None:
    """Refuse to resume a run folder made with other settings (its journal would not match)."""
    claim_settings(out / META / "run.json", config.identity(), message=OTHER_SETTINGS)


def training_records(config: RebalanceConfig, out: Path):
    listing = open_sources(config.dataset, config.root, config.csv, out / ".sample")
    records = [r for r in listing.records if r.expression != UNKNOWN and not is_evaluation_split(r.split)]
    if not records:
        raise ValueError(f"no expression-labelled training images in {config.root}")
    return records, listing.skips


def rebalance_lights(config: RebalanceConfig, translator) -> list[str]:
    """Lighting mode's lights (``[]`` in expression mode), checked against the generator's."""
    if config.edit != "lighting":
        return []
    names = list(translator.lighting)
    if config.lights is None:
        lights = default_lights(names)
    else:
        lights = comma_names(config.lights)
        unknown = [n for n in lights if n not in names]
        if unknown:
            raise CheckpointError(translator.path, f"has no light {', '.join(unknown)}; its lights are {', '.join(names)}")
    if not lights:
        raise CheckpointError(translator.path, f"no light to rebalance with among {', '.join(names)}; pass --lights")
    return lights


def run_rebalance(config: RebalanceConfig, log: Callable[[str], None] = print,
                  progress: Callable[[dict], None] | None = None) -> RebalanceResult:
    """Rebalance ``config.dataset`` into ``config.out``, holding ``OUT/.rebalance/rebalance.lock`` for the whole
    run: a second process on the same ``OUT`` is refused (``RunConflictError``, one line)."""
    out = Path(config.out)
    if config.verify and not config.expression_model:
        raise ValueError("--verify-expression needs --expression-model CKPT (a train-expression checkpoint)")
    (out / META).mkdir(parents=True, exist_ok=True)
    with holding(out / META / LOCK_NAME, log, command="rebalance-affectnet"):
        return _rebalance(config, out, log, progress)


def _rebalance(config: RebalanceConfig, out: Path, log: Callable[[str], None],
               progress: Callable[[dict], None] | None) -> RebalanceResult:
    _claim(out, config)
    save_config_json(out / "config.json", asdict(config))
    records, skips = training_records(config, out)
    classes = expression_classes([r.expression for r in records])
    sources = config.source_classes()
    unknown = [c for c in sources or () if c not in classes]
    if unknown:
        raise ValueError(f"--sources {', '.join(unknown)}: not a class of {config.root}; its classes are "
                         f"{', '.join(classes)}")
    counts = class_counts(records, classes)
    targets = parse_target(config.target, counts)
    needed = needed_counts(counts, targets)
    log("real: " + ", ".join(f"{c} {n}" for c, n in counts.items()) + "; needed: "
        + ", ".join(f"{c} {n}" for c, n in needed.items() if n))

    device = resolve_device(config.device)
    models = Models.load(config.legan, config.q, device, tear_check=config.tear_check)
    for notice in models.notices:
        log(notice)
    lights = rebalance_lights(config, models.translator)
    vocabulary = models.translator.expression
    missing = [c for c, n in needed.items() if n and not any(same_expression(e, c) for e in vocabulary)]
    if missing and not lights:
        raise CheckpointError(models.translator.path, f"cannot make {', '.join(missing)}: its expressions are "
                                                      f"{', '.join(vocabulary)}")
    if lights:
        log(f"lighting rebalancing: each class's own faces under {', '.join(lights)}")
    judge = ExpressionJudge(config.expression_model, device) if config.verify else None
    start = time.perf_counter()
    synthesis = synthesize(records, classes, needed, models, device, out, judge, q_min=config.q_min, seed=config.seed,
                           budget=config.budget, max_uses=config.max_uses, max_rounds=config.max_rounds,
                           batch_size=config.batch_size, examples_per_class=config.report_examples,
                           lights=lights, sources=sources, progress=progress, log=log)
    for note in synthesis.notes:
        log(note)
    write_manifest_files(out, records, synthesis.rows, models.generator_hash)
    seconds = time.perf_counter() - start
    generated = sum(s.generated for s in synthesis.states.values())
    summary = {
        "classes": class_table(counts, targets, synthesis.states),
        "facts": {
            "dataset": f"{config.dataset}:{config.root}", "target": config.target, "q_min": config.q_min,
            "edit": config.edit if not lights else f"lighting ({', '.join(lights)})",
            "sources": ", ".join(sources or ["every other class"]) if not lights else "own class",
            "expression judge": config.expression_model if config.verify else "off",
            "generator": str(models.translator.path), "generator_hash": models.generator_hash,
            "q": str(models.q_path), "q_hash": models.q_hash,
            "tear check": str(models.tear_check_path) if models.tear_check_path else "off",
            "budget": f"{config.budget} x needed attempts",
            "max uses per source": config.max_uses, "rounds": synthesis.rounds,
            "attempts": generated, "synthesis minutes": round(seconds / 60, 2),
            "images per second": round(generated / seconds, 1) if seconds > 0 else None,
            "batches resumed from the journal": synthesis.batches_resumed,
            "reader skips": skips.total,
        },
        "config": asdict(config),
    }
    write_summary(out, summary)
    write_report(out, summary, synthesis.examples)
    return RebalanceResult(out, summary)
