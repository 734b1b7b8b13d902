"""``augment expand --dry-run``: what a run would produce, and an estimate of its time and disk."""
from __future__ import annotations

import io
import time
from collections import Counter
from dataclasses import dataclass

import torch
from PIL import Image

from augmenter.errors import ImageDecodeError
from augmenter.expand.layout import variant_path
from augmenter.tensors import fit_face, to_model_input, to_uint8_images
from augmenter.io import decode_image


@dataclass
class DryRunEstimate:
    sources: int
    variants: int
    per_target: dict[str, int]
    seconds: float
    bytes_if_all_kept: int
    notices: list[str]

    def describe(self) -> str:
        top = ", ".join(f"{k} {v}" for k, v in sorted(self.per_target.items(), key=lambda kv: -kv[1])[:6])
        return "\n".join([
                          f"dry run: {self.sources} source image(s) -> {self.variants} variant(s) ({len(self.per_target)} "
                          f"target(s); most planned: {top})",
                          f"estimated time {self.seconds / 60:.1f} min (measured on one batch here), "
                          f"disk at most {self.bytes_if_all_kept / 1e6:.1f} MB (if every variant is kept)",
                          "nothing was written"])


def estimate(config, plan, models, device: torch.device, start: float) -> DryRunEstimate:
    """Plan counts, plus one timed batch (the first readable source repeated, at the run's batch size) and
    the encoded size of one of its outputs."""
    per_target = Counter(v.target.tag for _, sources in plan.chunks for s in sources for v in plan.variants[s])
    n = plan.n_variants
    size = models.translator.image_size
    batch = max(1, min(n, config.batch_size * config.per_image))
    x = torch.zeros(batch, 3, size, size, device=device)
    for record in plan.listing.records[:50]:
        try:
            face = torch.from_numpy(fit_face(decode_image(record.path), size)).permute(2, 0, 1)[None]
        except ImageDecodeError:
            continue
        x = to_model_input(face, device).expand(batch, -1, -1, -1).contiguous()
        break
    keep = torch.full((batch,), -1)
    models.forward(x, keep, keep)  # warm-up
    tick = time.perf_counter()
    y, _, _ = models.forward(x, keep, keep)
    per_image = (time.perf_counter() - tick) / batch
    sample = to_uint8_images(y[:1])[0]
    first = next(((s, v) for _, sources in plan.chunks for s in sources for v in plan.variants[s]), None)
    first_path = first and variant_path(plan.listing.dataset, plan.listing.records[first[0]], plan.keys[first[0]],
                                        first[1].target, plan.classes)
    suffix = "JPEG" if first_path and first_path.endswith(".jpg") else "PNG"
    buffer = io.BytesIO()
    Image.fromarray(sample).save(buffer, format=suffix, **({"quality": 95} if suffix == "JPEG" else {}))
    return DryRunEstimate(plan.n_sources, n, dict(per_target), per_image * n, len(buffer.getvalue()) * n,
                          list(models.notices))
