"""Does the default Q punish relighting itself? Q on real faces, their relights and its own shading-mask failure.

``python -m pipelines.default_generator.q_relight_probe FER_VALIDATION GAIN_ONLY_GENERATOR`` scores 120 aligned
FER-2013 validation faces (``augment align`` output, class folders), their relights by the shipped field
generator and by a gain-only one (no additive offset: the relight multiplies the photo, which keeps its
texture), and the ``shading_mask`` failure (:mod:`augmenter.quality.failures`) as Q trains on it (tinted) and
made grey again, and prints each set's median q_score and share at 0.6.

Why: on faces from other cameras the gain-only relights look like the same photo under another lamp while
the shipped ones smear texture, yet Q keeps more of the smeared ones (docs/generator.md). If Q had learned
"one side darker = painted mask", a grey shading mask would score as low as a gain-only relight.
"""
from __future__ import annotations

import sys

import numpy as np

from augmenter.api import FaceAugmenter
from augmenter.quality.failures import fail
from pipelines.default_generator.data import class_folder_arrays

LIGHTS = ("az-070_el+00", "az+050_el+00")
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def probe(fer_validation: str, gain_only: str, n: int = 120, seed: int = 3) -> dict[str, np.ndarray]:
    """``{set name: q_scores (n,)}`` for the sources, both generators' relights and shading masks."""
    faces, _ = class_folder_arrays(fer_validation, ("neutral", "happy", "sad", "surprise"), 128)
    pick = np.sort(np.random.default_rng(seed).permutation(len(faces))[:n])
    rgb = np.repeat(faces[pick][..., None], 3, -1)
    shipped, gain = FaceAugmenter.load("fields"), FaceAugmenter.load(gain_only)
    scores = {"source": shipped.score(rgb)}
    for light in LIGHTS:
        scores[f"shipped {light}"] = shipped.score(shipped.relight(rgb, light))
        scores[f"gain-only {light}"] = shipped.score(gain.relight(rgb, light))
    for severity in (0.3, 0.6):
        masked = np.stack([fail(face, "shading_mask", severity, np.random.default_rng(i)) for i, face in enumerate(rgb)])
        scores[f"shading_mask {severity} (tinted, as trained)"] = shipped.score(masked)
        grey = np.clip(masked.astype(np.float32) @ LUMA + 0.5, 0, 255).astype(np.uint8)
        scores[f"shading_mask {severity} made grey"] = shipped.score(np.repeat(grey[..., None], 3, -1))
    return {k: np.asarray(v, np.float64) for k, v in scores.items()}


def main(argv: list[str]) -> None:
    for name, q in probe(argv[0], argv[1]).items():
        print(f"{name:40s} median {np.median(q):.3f}   >= 0.6: {np.mean(q >= 0.6):.0%}")


if __name__ == "__main__":
    main(sys.argv[1:])
