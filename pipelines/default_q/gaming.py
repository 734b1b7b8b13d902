"""How far a generator trained against a Q fools it: the "hard to game" table of docs/quality.md.

``python -m pipelines.default_q.gaming RESULTS GENERATOR Q [Q ...]``: 300 held-out real photos (a seeded pick of
``RESULTS``' ``heldout_real`` FER-2013 validation and Yale B lists, as ``augment-train-default-q`` writes them),
each translated once by ``GENERATOR`` to a seeded random light and expression; for every Q checkpoint, the share
of outputs scoring below their own source, their median q_score and their share at 0.6.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from pipelines.default_q.measure import _translated, against_sources, q_scores


def held_out_pick(results: dict, n: int = 300, seed: int = 0) -> list[str]:
    held = results["heldout_real"]
    paths = list(held["fer_val"]) + list(held["yaleb_heldout"])
    return [paths[i] for i in sorted(np.random.default_rng(seed).permutation(len(paths))[:n])]


def measure(results: Path, generator: str, qs: list[str]) -> dict:
    from augmenter.quality.model import load_q
    from augmenter.tensors import load_face

    faces = np.stack([load_face(p, 128) for p in held_out_pick(json.loads(Path(results).read_text()))])
    outputs = _translated(faces, generator)
    report = {"generator": generator, "faces": len(faces)}
    for q in qs:
        net, _ = load_q(q, "cpu")
        report[q] = against_sources(q_scores(net, faces), q_scores(net, outputs))
    return report


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), sys.argv[2], sys.argv[3:]), indent=1))
