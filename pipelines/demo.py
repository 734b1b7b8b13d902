"""The README's main job on built-in data.

Until ``augment expand`` (issue #6) lands, the demo strings together the verbs that exist: it renders
the built-in sample (identities x the six expressions x the 19 lighting conditions), reads it back as
the dataset ``sample``, writes a contact sheet, then relights and re-expresses a few faces with the
built-in demo LEGAN and scores the results with the built-in demo Q (``translations.png``, each column
labelled with its mean q_score).
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
    translations: Path | None = None
    q_by_target: dict | None = None

    def describe(self) -> str:
        lines = [
            self.render.describe(),
            f"read back as dataset 'sample': {self.n_records} records, {self.n_skipped} skipped; "
            f"per expression: {dict(sorted(self.per_expression.items()))}",
            f"contact sheet (rows: identities; columns: the 19 lighting conditions, then the six "
            f"expressions under frontal flash07): {self.grid_path}",
        ]
        if self.translations is not None:
            scores = ", ".join(f"{k} {v:.2f}" for k, v in self.q_by_target.items())
            lines.append(f"demo LEGAN translations with demo-Q q_scores ({scores}): {self.translations}")
        return "\n".join(lines)


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


DEMO_TARGETS = (("lighting", "ambient"), ("lighting", "flash02"), ("lighting", "flash12"), ("lighting", "flash16"),
                ("expression", "smile"), ("expression", "surprise"), ("expression", "scream"))


def translation_sheet(root: Path, out_png: Path, faces: int = 4) -> dict[str, float]:
    """Translate frontal-flash neutral faces of ``root`` with the demo LEGAN; mean demo-Q q_score per target."""
    import torch

    from augmenter.gan.models import load_translator
    from augmenter.gan_eval.report import translation_table
    from augmenter.nets.quality import q_score
    from augmenter.tensors import to_uint8_images
    from augmenter.quality.model import load_q

    translator = load_translator("demo")
    q_net, _ = load_q(None)
    records = [r for r in read_dataset("sample", root).records if r.lighting == "flash07" and r.expression == "neutral"]
    records = records[:faces]
    x = torch.stack([torch.from_numpy(decode_image(r.path)).permute(2, 0, 1) for r in records]).float() / 127.5 - 1
    x = torch.nn.functional.interpolate(x, size=(translator.image_size,) * 2, mode="area")
    columns, labels, scores = [to_uint8_images(x)], ["input"], {}
    with torch.inference_mode():
        for kind, name in DEMO_TARGETS:
            y = translator.translate(x, **{kind: name})
            scores[name] = float(q_score(q_net(torch.nn.functional.interpolate(
                y, size=(q_net.config.image_size,) * 2, mode="area"))).mean())
            columns.append(to_uint8_images(y))
            labels.append(f"{name} (q {scores[name]:.2f})")
    translation_table([[c[i] for c in columns] for i in range(len(records))], [r.identity for r in records],
                      labels, out_png)
    return scores


def run_demo(out: Path, identities: int = 4, size: int = 64, progress=None, translate: bool = True) -> DemoResult:
    """Render the sample under ``out/sample`` (resuming), read it back, draw it, and translate a few faces."""
    from augmenter.gan.models import DEMO_LEGAN

    summary = render_sample(out / "sample", SampleConfig(identities=identities, size=size), progress=progress)
    listing = read_dataset("sample", out / "sample")
    grid = contact_sheet(out / "sample", out / "sample_grid.png")
    result = DemoResult(summary, len(listing.records), listing.skips.total,
                        Counter(r.expression for r in listing.records), grid)
    if translate and DEMO_LEGAN.is_file():
        result.q_by_target = translation_sheet(out / "sample", out / "translations.png")
        result.translations = out / "translations.png"
    return result
