"""The held-out real photos of the default Q's recipe, without training it: ``python -m pipelines.default_q.heldout
WORK``.

Aligns the recipe's sources under ``WORK/aligned`` as ``augment-train-default-q`` does (cached; about 2 CPU minutes
for the stand-in data) and writes ``WORK/results.json`` holding only ``heldout_real``: FER-2013 validation crops,
the held-out Yale B subjects' crops and the linked unaligned FER-2013 validation files. It is the input of
:mod:`pipelines.default_q.gaming` and ``augment measure-default-q --results``, so their measurements can be rerun
on a fresh checkout without the 55-minute rebuild of Q. An existing ``results.json`` is never overwritten.
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from augmenter.atomic import write_text_atomic
from pipelines.default_q.run import DefaultQRecipe, align_sources, heldout_real, yaleb_split


def write_heldout(work: Path, recipe: DefaultQRecipe | None = None, log=print) -> Path:
    """Align ``recipe``'s sources (default: :class:`DefaultQRecipe`) under ``work`` and write ``work/results.json``
    with ``heldout_real`` (lists of paths); returns its path. ``FileExistsError`` when ``work/results.json`` exists
    (a full run's results are kept)."""
    recipe = recipe or DefaultQRecipe()
    out = Path(work) / "results.json"
    if out.exists():
        raise FileExistsError(f"{out}: already there (a full run's results are never overwritten)")
    aligned = align_sources(recipe, Path(work), log)
    _, yale_heldout = yaleb_split(aligned["yaleb"], recipe.yaleb_train_subjects)
    held = heldout_real(aligned, yale_heldout, Path(work))
    write_text_atomic(out, json.dumps({"heldout_real": held}, indent=1))
    log(f"{out}: " + ", ".join(f"{k} {len(v)}" for k, v in held.items()))
    return out


if __name__ == "__main__":
    # 600 FER-2013 training photos per class, as build/dq10 (the gaming runs of docs/quality.md) was aligned
    write_heldout(Path(sys.argv[1]), replace(DefaultQRecipe(), fer_per_class=600))
