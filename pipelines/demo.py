"""The README's main job on built-in data.

Until ``augment expand`` (issue #6) lands, the most useful verb that exists is ``augment sample``: the
demo renders the built-in sample (identities x the six expressions x the 19 lighting conditions),
reads it back as the dataset ``sample`` the rest of the toolkit consumes, and writes a contact sheet
to look at.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from augmenter.attributes import LIGHTING, MULTIPIE_EXPRESSIONS
from augmenter.datasets import read_dataset
from augmenter.io import decode_image, write_image_atomic
from augmenter.sample.tree import SampleConfig, SampleSummary, render_sample


@dataclass
class DemoResult:
    render: SampleSummary
    n_records: int
    n_skipped: int
    per_expression: Counter
    grid_path: Path

    def describe(self) -> str:
        return "\n".join([
            self.render.describe(),
            f"read back as dataset 'sample': {self.n_records} records, {self.n_skipped} skipped; "
            f"per expression: {dict(sorted(self.per_expression.items()))}",
            f"contact sheet (rows: identities; columns: the 19 lighting conditions, then the six "
            f"expressions under frontal flash07): {self.grid_path}",
        ])


def contact_sheet(root: Path, out_png: Path, identities: int | None = None) -> Path:
    """A PNG grid of a rendered sample: one row per identity, 19 lights (neutral) then 6 expressions."""
    listing = read_dataset("sample", root)
    by_key = {(r.identity, r.expression, r.lighting): r.path for r in listing.records}
    names = sorted({r.identity for r in listing.records})[:identities]
    cells = [("neutral", light) for light in LIGHTING] + [(e, "flash07") for e in MULTIPIE_EXPRESSIONS]
    rows = []
    for name in names:
        images = [decode_image(by_key[(name, e, light)]) if (name, e, light) in by_key else None for e, light in cells]
        size = next(img.shape[0] for img in images if img is not None)
        blank = np.full((size, size, 3), 255, np.uint8)
        rows.append(np.concatenate([blank if img is None else img for img in images], axis=1))
    write_image_atomic(out_png, np.concatenate(rows, axis=0))
    return out_png


def run_demo(out: Path, identities: int = 4, size: int = 64, progress=None) -> DemoResult:
    """Render the sample under ``out/sample`` (resuming), read it back and write ``out/sample_grid.png``."""
    summary = render_sample(out / "sample", SampleConfig(identities=identities, size=size), progress=progress)
    listing = read_dataset("sample", out / "sample")
    grid = contact_sheet(out / "sample", out / "sample_grid.png")
    return DemoResult(summary, len(listing.records), listing.skips.total,
                      Counter(r.expression for r in listing.records), grid)
