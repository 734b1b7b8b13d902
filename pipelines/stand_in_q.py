"""A Q for the real stand-in data (FER-2013, Extended Yale B): the simulated-rater recipe of the demo Q
applied to real training images instead of rendered ones.

The demo Q rates real FER-2013 and Yale B faces 0.24-0.34 (it has only seen renders), so it cannot
judge LEGAN outputs of those sets. This Q learns the same graded artifacts (blobs, checkerboard,
ghosting, blur, tint, warp, noise) on the stand-ins' own images: still simulated raters, not human
ratings — it filters broken outputs, it does not measure human naturalness.

Usage: ``augment train-stand-in-q --data fer2013:../shared/data/fer2013 --data
yaleb:../shared/data/yaleb --out build/stand_in_q``
"""
from __future__ import annotations

from pathlib import Path

from augmenter.quality.simulated import build_simulated_set
from augmenter.quality.train import QTrainConfig, train_q


def train_stand_in_q(data: list[str], out: Path, max_sources: int = 3000, epochs: int = 20, seed: int = 0):
    listing = build_simulated_set(out / "simulated", sources=data, max_sources=max_sources, per_face=2, seed=seed)
    print(f"ratings set: {len(listing.table)} images from {max_sources} sources")
    config = QTrainConfig(data=str(out / "simulated"), out=str(out / "q_run"), image_size=64, base_width=16,
                          epochs=epochs, seed=seed)
    return train_q(config)
