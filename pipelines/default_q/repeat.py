"""Weighting part of the stage-1 pool: every row made of chosen real photos listed more than once.

Round 14 doubled the pool's FER-2013 photos (1,200 a class) and kept Extended Yale B's 20 training subjects as
they were, so Yale B's share of the real photos fell from about a fifth to an eighth and the Q passed fewer held-out
Yale B photos lit within 35 degrees (75% against round 8's 81%). There are no more Yale B training subjects to add
(the others are held out), so round 16 lists each Yale B photo's rows twice (``DefaultQRecipe.yaleb_repeat``):
84% of those held-out photos pass, FER-2013's stay at 80% (docs/quality.md, "Round 16").

The ratings reader drops an image path listed twice, so each further copy of a row points at a symlink of its
own (``POOL/repeat<k>/<image>``, the same file); its group is the photo's with ``r<k>`` appended, so the
within-photo order term sees each copy as a group of its own.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from augmenter.atomic import write_text_atomic
from pipelines.default_q.pool import photo_group


def repeat_groups(pool_csv: Path, photos: list[Path], copies: int) -> Path:
    """A ratings CSV beside ``pool_csv`` (``ratings_repeat<copies>.csv``) with every row of the groups of
    ``photos`` listed ``copies`` times in all, the copies after the whole pool in pool order; ``pool_csv``
    itself when ``copies`` is 1. Image paths stay relative to the pool folder. Rerunning rewrites the same file.
    """
    if copies < 1:
        raise ValueError(f"copies must be at least 1, got {copies}")
    if copies == 1:
        return pool_csv
    folder = pool_csv.parent
    pool = pd.read_csv(pool_csv, keep_default_na=False)
    chosen = pool[pool["group"].isin({photo_group(p) for p in photos})]
    extra = []
    for k in range(1, copies):
        images = [_linked(folder, image, k) for image in chosen["image"]]
        extra.append(chosen.assign(image=images, group=chosen["group"] + f"r{k}"))
    out = folder / f"ratings_repeat{copies}.csv"
    write_text_atomic(out, pd.concat([pool, *extra], ignore_index=True).to_csv(index=False))
    return out


def _linked(folder: Path, image: str, k: int) -> str:
    """``repeat<k>/<image>`` under ``folder``: a relative symlink to ``folder/<image>`` (made once)."""
    name = f"repeat{k}/{image}"
    link = folder / name
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(folder / image, link.parent))
    return name
