"""Does Q tell a relight from a real photo under the same light? Held-out Yale B, real against relit.

``python -m pipelines.default_generator.q_real_vs_relit WORK [Q ...]``: for every held-out Yale B subject in
``WORK/inputs.npz`` (the default generator's work folder) and every named light of the built-in generator,
the real photo under that light and the subject's frontal photo relit to it by the built-in generator; prints,
for each Q checkpoint (default: the built-in default Q), the median q_score and the share at 0.6 of both.

A judge that passes real photos under every light and fewer of the relights separates what the generator
adds from the light itself; one that passes both equally cannot tell them apart (or the relights are as good
as the photos, which the SSIM figures of docs/generator.md say they are not yet).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from augmenter.api import FaceAugmenter
from augmenter.attributes import FIELD_LIGHT_DIRECTIONS, direction_name
from pipelines.default_generator.run import held_out_subjects


def real_and_relit_pairs(inputs: dict) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(frontal sources, real photos under the target light, target light names)`` for the held-out subjects,
    grey ``(N, S, S)`` uint8, one row per (subject, named light other than frontal) that the data holds."""
    subject, az, el, images = inputs["light_subject"], inputs["light_az"], inputs["light_el"], inputs["light_images"]
    sources, reals, names = [], [], []
    for a, e in FIELD_LIGHT_DIRECTIONS:
        if (a, e) == (0, 0):
            continue
        for s in held_out_subjects(subject):
            frontal = np.flatnonzero((subject == s) & (az == 0) & (el == 0))
            target = np.flatnonzero((subject == s) & (az == a) & (el == e))
            if len(frontal) and len(target):
                sources.append(images[frontal[0]])
                reals.append(images[target[0]])
                names.append(direction_name(a, e))
    return np.stack(sources), np.stack(reals), names


def compare(work: Path, q: str | None) -> dict:
    faces = FaceAugmenter.load("fields", q)
    sources, reals, names = real_and_relit_pairs(dict(np.load(work / "inputs.npz")))
    rgb = lambda x: np.repeat(x[..., None], 3, -1)  # noqa: E731
    relit = np.empty_like(rgb(sources))
    for name in sorted(set(names)):
        rows = [i for i, n in enumerate(names) if n == name]
        relit[rows] = faces.relight(rgb(sources[rows]), name)
    out = {"q": q or "default", "pairs": len(names)}
    for kind, scores in (("real", faces.score(rgb(reals))), ("relit", faces.score(relit))):
        out[kind] = {"median": float(np.median(scores)), "share_at_least_0.6": float((scores >= 0.6).mean())}
    return out


if __name__ == "__main__":
    work = Path(sys.argv[1])
    for q in sys.argv[2:] or [None]:
        print(json.dumps(compare(work, q)), flush=True)
