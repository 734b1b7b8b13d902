"""How far a generator trained against a Q fools it: the "hard to game" table of docs/quality.md.

``python -m pipelines.default_q.gaming RESULTS GENERATOR Q [Q ...]``: 300 held-out real photos (a seeded pick of
``RESULTS``' ``heldout_real`` FER-2013 validation and Yale B lists, as ``augment-train-default-q`` writes them, or
``python -m pipelines.default_q.heldout WORK`` alone in two minutes),
each translated once by ``GENERATOR`` to a seeded random light and expression; for every Q checkpoint, the share
of outputs scoring below their own source, their median q_score and their share at 0.6. With
``--tear-check=CKPT`` (``default``: the built-in one) each Q is also reported with the tear check's penalty
(``Q+tear_check``).
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


def measure(results: Path, generator: str, qs: list[str], tear_check: str | None = "none") -> dict:
    from augmenter.gan.models import load_translator
    from augmenter.quality.model import load_q
    from augmenter.quality.tear_check import count_causes, judged_and_why, load_tear_check
    from augmenter.tensors import faces_to_input, fit_face, load_face

    faces = np.stack([load_face(p, 128) for p in held_out_pick(json.loads(Path(results).read_text()))])
    outputs = _translated(faces, generator)
    # the check compares each output with its source as the generator saw it (a 64 px generator's input), so a
    # smaller generator is not charged for its size
    size = load_translator(generator, "cpu").image_size
    seen = np.stack([fit_face(fit_face(f, size), faces.shape[1]) for f in faces])
    check, _ = load_tear_check(tear_check)
    report = {"generator": generator, "faces": len(faces)}
    for q in qs:
        net, _ = load_q(q, "cpu")
        clean, scores = q_scores(net, faces), q_scores(net, outputs)
        report[q] = against_sources(clean, scores)
        if check is not None:
            judged, why = judged_and_why(scores, check, faces_to_input(seen), faces_to_input(outputs),
                                         source_q=q_scores(net, seen))
            # how many outputs each cause moved, as augment expand's summary counts them
            report[f"{q}+tear_check"] = {**against_sources(clean, judged), "check_moved": count_causes(why)}
    return report


if __name__ == "__main__":
    flags = [a for a in sys.argv[1:] if a.startswith("--tear-check=")]
    args = [a for a in sys.argv[1:] if a not in flags]
    check = flags[-1].split("=", 1)[1] if flags else "none"
    print(json.dumps(measure(Path(args[0]), args[1], args[2:], None if check == "default" else check), indent=1))
