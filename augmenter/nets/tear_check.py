"""The tear check: a small CNN that compares a variant with the photo it was made from and says whether the
variant is torn (a seam: one side of the face shifted and re-exposed along a straight line; tiles swapped).

Why beside Q and not inside it: a single-image Q cannot tell a faint seam's step from a real cast shadow's edge
(rounds 18-21 of the default Q, docs/quality.md), but a variant is always made from a known photo, and against
that photo a seam is a straight step of constant offset across the whole crop while a relight is a smooth
gain over the face and an expression a smooth local warp. The network sees the variant and its difference
from the source; its features are pooled over the image (max and mean) and along every row and column (a
seam crosses the crop, a natural edge rarely does).

Example:
    >>> net = TearCheck(TearCheckConfig())
    >>> source = variant = torch.zeros(2, 3, 128, 128)
    >>> net(source, variant).shape                   # logits; sigmoid -> p(torn)
    torch.Size([2])
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class TearCheckConfig:
    """``image_size``: the side both images are resized to; ``width``: channels of the first convolution."""

    image_size: int = 128
    width: int = 16


class TearCheck(nn.Module):
    """``(source, variant)``, each ``(B, 3, S, S)`` in [-1, 1] at ``config.image_size`` -> ``(B,)`` tear logits."""

    def __init__(self, config: TearCheckConfig):
        super().__init__()
        self.config = config
        self.rules = None  # the measured rules judged beside the network (augmenter.quality.source_rules), if any
        w = config.width
        act = lambda: nn.LeakyReLU(0.1, inplace=True)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(6, w, 3, 1, 1), act(), nn.Conv2d(w, 2 * w, 4, 2, 1), act(),
            nn.Conv2d(2 * w, 2 * w, 3, 1, 1), act(), nn.Conv2d(2 * w, 4 * w, 4, 2, 1), act(),
            nn.Conv2d(4 * w, 4 * w, 3, 1, 1), act())
        self.head = nn.Sequential(nn.Linear(16 * w, 64), act(), nn.Linear(64, 1))
        # channels-last convolutions and in-place activations: 0.28 -> 0.16 s for 64 pairs at 128 px on two cores,
        # the same logits to float rounding (benchmarks/judge_cost.py measures the whole judge)
        self.features.to(memory_format=torch.channels_last)

    def forward(self, source: torch.Tensor, variant: torch.Tensor) -> torch.Tensor:
        x = torch.cat([variant, variant - source], 1).contiguous(memory_format=torch.channels_last)
        h = self.features(x)
        rows, cols = h.mean(3)[..., 1:-1], h.mean(2)[..., 1:-1]  # the outermost rows are the crop's edge
        pooled = [h.amax((2, 3)), h.mean((2, 3)), rows.amax(2), cols.amax(2)]
        return self.head(torch.cat(pooled, 1)).squeeze(1)
