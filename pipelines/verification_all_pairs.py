"""Re-test finished ``augment-verification`` runs on every same-person pair of the held-out people.

The pipeline's near-frontal list is 300 same + 300 different pairs drawn per seed; with 7 held-out people
its sampling noise is of the order of the 1-point margin the issue asks about. This re-tests each seed's
two verifiers (their ``last.pt``, nothing retrained) on one fixed list: every same-person pair among the
held-out people's photos lit within ``max_angle`` of frontal, and as many different-person pairs
(:func:`pipelines.yale_verification.balanced_pairs`, seed 0), then tabulates the paired differences over
seeds (:mod:`pipelines.seed_table`). A check made after the runs, reported beside the pipeline's own figure.

``python -m pipelines.verification_all_pairs ROOT HELD_OUT RUN [RUN ...]`` (``HELD_OUT`` comma-separated
identities, each ``RUN`` an ``augment-verification`` output folder made with ``--held-out HELD_OUT``, so
every seed tests the same people) prints one line per run and writes ``RUN/frontal_all/seeds.json`` /
``seeds.md`` and the pair list ``RUN/pairs_frontal_all.csv``.
"""
from __future__ import annotations

import sys
from pathlib import Path

from augmenter.datasets.pairs import write_pair_csv
from augmenter.datasets.registry import read_dataset
from evaluation.lfw_run import run_lfw
from pipelines.seed_table import seed_table, write_seed_table
from pipelines.yale_verification import balanced_pairs
from recognition.train_verifier import light_angle

ARMS = (("real", "real"), ("real+synthetic", "real_synthetic"))


def all_frontal_pairs(root: Path, held_out: set[str], out: Path, max_angle: float = 35.0) -> Path:
    """Every same-person pair of ``held_out`` photos lit within ``max_angle``, as many different ones: a CSV."""
    records = [r for r in read_dataset("yaleb", root).records
               if r.identity in held_out and light_angle(r) is not None and light_angle(r) <= max_angle]
    per_person: dict[str, int] = {}
    for r in records:
        per_person[r.identity] = per_person.get(r.identity, 0) + 1
    n_same = sum(n * (n - 1) // 2 for n in per_person.values())
    return write_pair_csv(out, balanced_pairs(records, n_same, 0), root)


def retest(run: Path, pairs: Path, root: Path) -> dict:
    """``{arm: {seed: figures}}`` of every finished seed of ``run`` on ``pairs``."""
    values: dict[str, dict[int, dict]] = {arm: {} for arm, _ in ARMS}
    for seed_dir in sorted(d for d in run.glob("seed*") if d.is_dir() and d.name[4:].isdigit()):
        seed = int(seed_dir.name[4:])
        for arm, folder in ARMS:
            result = run_lfw(pairs=pairs, lfw_root=root, checkpoint=seed_dir / folder / "last.pt", workers=1,
                             device="cpu").to_dict()
            values[arm][seed] = {"frontal_all.accuracy_mean": result["accuracy_mean"], "frontal_all.auc": result["auc"]}
    return values


def main(argv: list[str]) -> None:
    root, held_out, runs = Path(argv[0]), set(argv[1].split(",")), [Path(a) for a in argv[2:]]
    for run in runs:
        pairs = all_frontal_pairs(root, held_out, run / "pairs_frontal_all.csv")
        table = seed_table(retest(run, pairs, root), "real", context={"pairs": str(pairs), "run": str(run)})
        write_seed_table(run / "frontal_all", table, "Near-frontal, every same-person pair")
        delta = table.to_dict()["stats"]["real+synthetic"]["frontal_all.accuracy_mean"]["delta"]
        print(f"{run}: near-frontal, all pairs, real+synthetic - real = {delta['mean']:+.4f} "
              f"[{delta['lo']:+.4f}, {delta['hi']:+.4f}] over {delta['n']} seeds")


if __name__ == "__main__":
    main(sys.argv[1:])
