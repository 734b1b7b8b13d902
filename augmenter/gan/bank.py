"""An in-memory bank of labelled faces for GAN training and evaluation.

GAN training on a CPU samples small random batches millions of times; decoding once and keeping
``uint8`` tensors in memory (64 px: 12 KB a face, 1 GB for 80K faces) makes every step cost only
the networks. The bank also answers "the same person and expression under another light": the
pixel-aligned image the optional paired loss and the ground-truth metrics use.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch.utils.data import DataLoader

from augmenter.attributes import EMOTIONS, LIGHTING, MULTIPIE_EXPRESSIONS
from augmenter.datasets.labelled import LabelledFaces, collate_labelled
from augmenter.datasets.record import UNKNOWN, FaceRecord
from augmenter.skips import SkipReport

MAX_BANK_BYTES = 8 * 2 ** 30


def vocabularies_of(records: Sequence[FaceRecord]) -> tuple[list[str], list[str]]:
    """Lighting and expression names occurring in ``records``, in the toolkit's canonical order."""
    lights = {r.lighting for r in records}
    expressions = {r.expression for r in records}
    lighting = [name for name in LIGHTING if name in lights]
    order = list(MULTIPIE_EXPRESSIONS) + [e for e in EMOTIONS if e not in MULTIPIE_EXPRESSIONS]
    return lighting, [name for name in order if name in expressions]


@dataclass
class FaceBank:
    """Decoded faces and labels. ``images`` ``(N, 3, S, S)`` uint8; labels ``(N,)`` int64, -1 = unlabelled."""

    images: torch.Tensor
    lighting: torch.Tensor
    expression: torch.Tensor
    records: list[FaceRecord]
    lighting_names: list[str]
    expression_names: list[str]
    skips: SkipReport = field(default_factory=SkipReport)

    def __post_init__(self):
        self._pairs = {}
        names = [r.dataset for r in self.records]
        counts = {name: names.count(name) for name in set(names)}
        # per-row draw weights, computed once (draw() runs every training step)
        self._row_weights = (torch.tensor([1.0 / counts[name] for name in names], dtype=torch.float64)
                             if len(counts) > 1 else None)
        for row, r in enumerate(self.records):
            if r.identity != UNKNOWN:
                self._pairs.setdefault((r.dataset, r.identity, r.expression, r.lighting), row)

    def __len__(self) -> int:
        return len(self.records)

    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` random rows; with several datasets, each dataset is drawn equally often.

        Partial-label training mixes a small lighting set (Yale B: ~1.2K faces) with a large expression
        set (FER-2013: ~29K); uniform rows would show the lighting task in 4% of the draws.
        """
        if self._row_weights is None:
            return torch.randint(len(self), (n,), generator=generator)
        return torch.multinomial(self._row_weights, n, replacement=True, generator=generator)

    def paired_rows(self, rows: torch.Tensor, target_lighting: torch.Tensor,
                    target_expression: torch.Tensor) -> torch.Tensor:
        """Row of the same identity under the target attributes (-1 target = keep), or -1 when absent."""
        out = []
        for row, tl, te in zip(rows.tolist(), target_lighting.tolist(), target_expression.tolist()):
            r = self.records[row]
            key = (r.dataset, r.identity, self.expression_names[te] if te >= 0 else r.expression,
                   self.lighting_names[tl] if tl >= 0 else r.lighting)
            out.append(self._pairs.get(key, -1) if r.identity != UNKNOWN else -1)
        return torch.tensor(out, dtype=torch.long)

    def subset(self, rows: Sequence[int]) -> "FaceBank":
        rows = list(rows)
        index = torch.tensor(rows, dtype=torch.long)
        return FaceBank(self.images[index], self.lighting[index], self.expression[index],
                        [self.records[i] for i in rows], self.lighting_names, self.expression_names)


def build_bank(records: Sequence[FaceRecord], size: int, lighting_names: Sequence[str],
               expression_names: Sequence[str], *, workers: int = 2,
               progress: Callable[[int, int], None] | None = None) -> FaceBank:
    """Decode every record at ``size`` px (grey replicated to RGB); unreadable images are counted, dropped."""
    if len(records) * 3 * size * size > MAX_BANK_BYTES:
        raise ValueError(f"{len(records)} faces at {size} px need {len(records) * 3 * size * size / 2**30:.1f} GiB "
                         f"in memory (limit {MAX_BANK_BYTES / 2**30:.0f} GiB): train on a subset or a smaller size")
    dataset = LabelledFaces(records, size, lighting_names, expression_names)
    images = torch.empty(len(records), 3, size, size, dtype=torch.uint8)
    ok = torch.zeros(len(records), dtype=torch.bool)
    skips = SkipReport()
    loader = DataLoader(dataset, batch_size=256, num_workers=workers if len(records) > 512 else 0,
                        collate_fn=collate_labelled)
    done = 0
    for indices, batch, _, _, _, errors in loader:
        images[indices] = batch
        ok[indices] = True
        for message in errors:
            skips.add("unreadable image", message)
        done += len(indices) + len(errors)
        if progress:
            progress(done, len(records))
    keep = torch.nonzero(ok).flatten()
    return FaceBank(images[keep], dataset.lighting[keep], dataset.expression[keep],
                    [records[i] for i in keep.tolist()], list(lighting_names), list(expression_names), skips)
