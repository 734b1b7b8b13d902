"""The lighting baseline of face verification on Extended Yale B: train on near-frontal light, test on harsh
light — the gap that synthetic relit faces are meant to close.

Identities are split by hash (``holdout`` of them never trained on). The verifier trains on the other
identities' images lit within ``max_angle`` degrees of frontal. Test pairs (same / different identity,
balanced, 10 folds) come from the held-out identities only, once among their near-frontal images and
once among their harsh-light images (``> max_angle``). Accuracy is the LFW protocol's: each fold is
scored with the threshold that is best on the other nine.

Usage: ``python -m pipelines.yale_verification --root ../shared/data/yaleb --out build/yale_verifier``
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from augmenter.atomic import write_text_atomic
from augmenter.datasets.pairs import Pair, read_pairs, write_pair_csv
from augmenter.datasets.registry import read_dataset
from augmenter.datasets.spec import split_held_out
from recognition.metrics import kfold_accuracy
from recognition.train_verifier import VerifierConfig, light_angle, train_verifier


@dataclass
class YaleBaseline:
    root: str
    out: str
    max_angle: float = 35.0
    holdout: float = 0.3
    pairs_per_kind: int = 300
    backbone: str = "mobilefacenet"
    image_size: int = 64
    embedding_size: int = 128
    epochs: int = 30
    seed: int = 0


def balanced_pairs(records, n: int, seed: int, folds: int = 10) -> list[Pair]:
    """``n`` same-identity and ``n`` different-identity pairs drawn from ``records``, spread over ``folds``."""
    rng = np.random.default_rng(seed)
    by_id: dict[str, list] = {}
    for r in records:
        by_id.setdefault(r.identity, []).append(r.path)
    ids = sorted(k for k, v in by_id.items() if len(v) >= 2)
    possible_same = sum(len(by_id[k]) * (len(by_id[k]) - 1) // 2 for k in ids)
    possible_diff = (sum(len(by_id[k]) for k in ids) ** 2 - sum(len(by_id[k]) ** 2 for k in ids)) // 2
    if len(ids) < 2 or min(possible_same, possible_diff) < n:
        raise ValueError(f"{n} same and {n} different pairs asked for, but {len(ids)} identities with two or more "
                         f"images allow {possible_same} same and {possible_diff} different pairs")
    same, diff = set(), set()
    while len(same) < n:
        person = ids[rng.integers(len(ids))]
        a, b = rng.choice(len(by_id[person]), 2, replace=False)
        same.add((by_id[person][min(a, b)], by_id[person][max(a, b)]))
    while len(diff) < n:
        p, q = rng.choice(len(ids), 2, replace=False)
        a = by_id[ids[p]][rng.integers(len(by_id[ids[p]]))]
        b = by_id[ids[q]][rng.integers(len(by_id[ids[q]]))]
        diff.add((min(a, b), max(a, b)))
    same_list, diff_list = sorted(same), sorted(diff)
    return [Pair(a, b, True, i * folds // n) for i, (a, b) in enumerate(same_list)] + \
           [Pair(a, b, False, i * folds // n) for i, (a, b) in enumerate(diff_list)]


def run(config: YaleBaseline, log=print) -> dict:
    out, root = Path(config.out), Path(config.root)
    records = [r for r in read_dataset("yaleb", root).records if light_angle(r) is not None]
    train, held = split_held_out(records, config.holdout, config.seed)
    frontal = [r for r in held if light_angle(r) <= config.max_angle]
    harsh = [r for r in held if light_angle(r) > config.max_angle]
    pair_files = {}
    for name, subset in (("frontal", frontal), ("harsh", harsh)):
        pairs = balanced_pairs(subset, config.pairs_per_kind, config.seed)
        pair_files[name] = write_pair_csv(out / f"pairs_{name}.csv", pairs, root)
    log(f"{len({r.identity for r in train})} training identities, {len({r.identity for r in held})} held out; "
        f"test images: {len(frontal)} near-frontal, {len(harsh)} harsh")
    verifier = VerifierConfig(data=[f"yaleb:{root}"], out=str(out / "verifier"), val_pairs=str(pair_files["frontal"]),
                              val_root=str(root), max_light_angle=config.max_angle, backbone=config.backbone,
                              image_size=config.image_size, embedding_size=config.embedding_size, epochs=config.epochs,
                              batch_size=64, lr=0.05, scale=16.0, seed=config.seed, workers=1,
                              holdout=config.holdout)
    result = train_verifier(verifier, log=log)
    from recognition.embed import embed_inputs

    figures = {"config": asdict(config), "train_images_per_s": result.images_per_s, "epochs": result.epochs_done,
               "best_epoch": result.best.get("epoch")}
    for name, path in pair_files.items():
        pairs = read_pairs(path, root)
        paths = sorted({str(p) for pair in pairs for p in (pair.first, pair.second)})
        npz = embed_inputs(paths, out / "verifier" / "best.pt", out / f"embeddings_{name}.npz", workers=1)
        data = np.load(npz.out)
        where = {p: i for i, p in enumerate(data["paths"].tolist())}
        emb = data["embeddings"]
        scores = np.array([float(emb[where[str(p.first)]] @ emb[where[str(p.second)]]) for p in pairs])
        figures[f"{name}_accuracy"] = kfold_accuracy(scores, np.array([p.same for p in pairs]),
                                                     np.array([p.fold for p in pairs]))
    write_text_atomic(out / "yale_verification.json", json.dumps(figures, indent=2) + "\n")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    figures = run(YaleBaseline(root=args.root, out=args.out, epochs=args.epochs))
    print(json.dumps({k: v for k, v in figures.items() if k != "config"}, indent=2))


if __name__ == "__main__":
    main()
