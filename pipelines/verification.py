"""The verification-augmentation experiment: does adding LEGAN relit faces make a verifier robust to light?

Steps (one command, ``augment-verification``; every step resumes):

1. **Split**: identities are split by hash (``holdout`` of them never trained on); the verifier trains on
   the others' images lit within ``max_angle`` degrees of frontal. On Extended Yale B the test pairs
   (300 same + 300 different, 10 folds, held-out identities only) are drawn twice: among near-frontal
   images and among harsh-light ones (``> max_angle``). Further LFW-format pair lists (``pairs``) and an
   IJB-B meta folder are evaluated too when given.
2. **Expand**: ``augment expand --mode lighting`` over the dataset with the given LEGAN and Q, targets the
   harsh lights of the generator's vocabulary; only variants of the *training* images (training identity,
   near-frontal source) go into the synthetic manifest the verifier reads — the harsh-light real images
   are never seen, directly or through a variant.
3. **Train** two verifiers with the same seed, backbone and budget: ``real`` and ``real + synthetic``
   (``synthetic_ratio`` of the draws synthetic; ``epoch_size`` = the real set's size, so both take the
   same number of steps).
4. **Evaluate** both on every pair list with the LFW protocol (:mod:`evaluation.lfw`: 10 folds, threshold
   from the other nine) and print one comparison table (``comparison.md`` / ``.json``).

Example:
    ``augment-verification --root ../shared/data/yaleb --legan runs/legan/last.pt --q runs/q/best.pt
    --out runs/yale_aug``
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from augmenter.attributes import FLASH_DIRECTIONS, angle_between
from augmenter.atomic import write_text_atomic
from augmenter.datasets.manifest import read_manifest, write_manifest
from augmenter.datasets.pairs import write_pair_csv
from augmenter.datasets.registry import read_dataset
from augmenter.datasets.spec import split_held_out
from augmenter.expand.config import ExpandConfig
from augmenter.expand.engine import run_expand
from augmenter.expand.layout import source_key
from augmenter.gan.models import load_translator
from evaluation.lfw_run import run_lfw
from evaluation.outputs import write_result
from evaluation.report import compare_results, to_markdown
from pipelines.yale_verification import balanced_pairs
from recognition.train_verifier import VerifierConfig, light_angle, train_verifier


@dataclass
class VerificationExperiment:
    root: str                               # Extended Yale B (cropped) folder
    out: str
    legan: str | None = None
    q: str | None = None
    q_min: float = 0.6
    per_image: int = 4
    synthetic_ratio: float = 0.5
    max_angle: float = 35.0
    holdout: float = 0.3
    pairs_per_kind: int = 300
    pairs: list[str] = field(default_factory=list)   # extra LFW-format / CSV pair lists (paths under root)
    backbone: str = "mobilefacenet"
    image_size: int = 64
    embedding_size: int = 128
    epochs: int = 30
    seed: int = 0
    device: str = "auto"


def harsh_targets(legan: str | None, max_angle: float) -> list[str]:
    """The generator's lights more than ``max_angle`` degrees from frontal."""
    vocabulary = load_translator(legan, "cpu").lighting
    return [n for n in vocabulary if n in FLASH_DIRECTIONS and angle_between(FLASH_DIRECTIONS[n], (0, 0)) > max_angle]


def training_variants(expand_out: Path, allowed_sources: set[str]) -> Path:
    """The expansion manifest cut to kept variants of ``allowed_sources`` (source keys), beside it."""
    df = read_manifest(expand_out / "manifest.parquet")
    keep = df["kept"] & df["source_path"].isin(allowed_sources)
    parquet, _ = write_manifest(df[keep].reset_index(drop=True), expand_out / "manifest_train_sources")
    return parquet


def run_experiment(config: VerificationExperiment, log: Callable[[str], None] = print) -> dict:
    out, root = Path(config.out), Path(config.root)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "config.json", json.dumps(asdict(config), indent=2) + "\n")
    records = [r for r in read_dataset("yaleb", root).records if light_angle(r) is not None]
    train, held = split_held_out(records, config.holdout, config.seed)
    train_frontal = [r for r in train if light_angle(r) <= config.max_angle]
    pair_lists = {}
    for name, subset in (("frontal", [r for r in held if light_angle(r) <= config.max_angle]),
                         ("harsh", [r for r in held if light_angle(r) > config.max_angle])):
        pair_lists[name] = write_pair_csv(out / f"pairs_{name}.csv", balanced_pairs(subset, config.pairs_per_kind,
                                                                                    config.seed), root)
    for extra in config.pairs:
        pair_lists[Path(extra).stem] = Path(extra)
    log(f"{len({r.identity for r in train})} training identities ({len(train_frontal)} near-frontal images), "
        f"{len({r.identity for r in held})} held out")

    start = time.perf_counter()
    targets = harsh_targets(config.legan, config.max_angle)
    expand = run_expand(ExpandConfig(dataset="yaleb", root=str(root), out=str(out / "expand"), per_image=config.per_image,
                                     mode="lighting", lighting=",".join(targets), q_min=config.q_min,
                                     legan=config.legan, q=config.q, seed=config.seed, device=config.device),
                        resume=False, log=log)
    expand_minutes = (time.perf_counter() - start) / 60
    synthetic = training_variants(out / "expand", {source_key(r, root) for r in train_frontal})
    n_synthetic = len(read_manifest(synthetic))
    log(f"expand: {expand.summary.get('kept', '?')} kept of the whole set; {n_synthetic} variants of training images "
        f"({expand_minutes:.1f} min)")

    runs, minutes = {}, {}
    for name, extra in (("real", {}), ("real+synthetic", {"synthetic": [str(synthetic)],
                                                          "synthetic_ratio": config.synthetic_ratio})):
        verifier = VerifierConfig(data=[f"yaleb:{root}"], out=str(out / name.replace("+", "_")),
                                  val_pairs=str(pair_lists["frontal"]), val_root=str(root),
                                  max_light_angle=config.max_angle, backbone=config.backbone,
                                  image_size=config.image_size, embedding_size=config.embedding_size,
                                  epochs=config.epochs, epoch_size=len(train_frontal), batch_size=64, lr=0.05,
                                  scale=16.0, seed=config.seed, workers=1, holdout=config.holdout,
                                  device=config.device, **extra)
        tick = time.perf_counter()
        train_verifier(verifier, log=log)
        minutes[name] = (time.perf_counter() - tick) / 60
        checkpoint = Path(verifier.out) / "best.pt"
        checkpoint = checkpoint if checkpoint.is_file() else Path(verifier.out) / "last.pt"
        runs[name] = {}
        for pair_name, path in pair_lists.items():
            result = run_lfw(pairs=path, lfw_root=root, checkpoint=checkpoint, device=config.device, workers=1).to_dict()
            runs[name][pair_name] = {k: result[k] for k in ("accuracy_mean", "accuracy_std", "auc", "eer",
                                                             "val_at_far_1e-3")}
        runs[name]["train_minutes"] = round(minutes[name], 2)
    table = compare_results([runs["real"], runs["real+synthetic"]], labels=["real", "real+synthetic"])
    markdown = ("# Verification: real vs real + LEGAN relit faces\n\n"
                f"Trained on {len(train_frontal)} near-frontal images (<= {config.max_angle:g} degrees) of "
                f"{len({r.identity for r in train})} identities; {n_synthetic} synthetic variants "
                f"(targets {', '.join(targets)}, q >= {config.q_min}); pairs from held-out identities.\n\n"
                + to_markdown(table) + "\n")
    comparison = {"runs": runs, "n_real": len(train_frontal), "n_synthetic": n_synthetic, "targets": targets,
                  "expand_minutes": round(expand_minutes, 2), "config": asdict(config)}
    write_result(out, "comparison", comparison, markdown)
    log(markdown)
    return comparison
