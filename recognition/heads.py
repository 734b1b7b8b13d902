"""Classification heads over embeddings: ArcFace, CosFace and plain softmax.

The margin arithmetic is a pure function (:func:`margin_logits`) so it can be tested on hand-made
numbers; :class:`ClassifierHead` holds the class weights.

- ``arcface``: ``s * cos(theta + m)`` for the true class (m = 0.5, s = 64, Deng et al. 2019), with the
  usual fallback ``cos(theta) - m * sin(m)`` where ``theta + m`` would pass pi (keeps the logit monotonic);
- ``cosface``: ``s * (cos(theta) - m)`` for the true class (m = 0.35, s = 64, Wang et al. 2018);
- ``softmax``: a linear layer with bias on the raw embedding (no normalisation, no margin).

Scale 64 follows both papers for ~10K-identity training sets; it is configurable, and tiny sets (a
few dozen classes, as in tests and Yale B) train better with s ~ 16-30.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

HEADS = ("arcface", "cosface", "softmax")
DEFAULT_MARGIN = {"arcface": 0.5, "cosface": 0.35, "softmax": 0.0}


def margin_logits(cosine: torch.Tensor, labels: torch.Tensor | None, kind: str, scale: float, margin: float) -> torch.Tensor:
    """``cosine`` (B, C) in [-1, 1], ``labels`` (B,) class indices (``None`` at inference: no margin) ->
    logits (B, C) for cross-entropy."""
    if labels is None or kind == "softmax":
        return scale * cosine
    target = cosine.gather(1, labels[:, None]).clamp(-1 + 1e-7, 1 - 1e-7)
    if kind == "arcface":
        sine = (1 - target ** 2).sqrt()
        shifted = target * math.cos(margin) - sine * math.sin(margin)
        # past theta = pi - m, cos(theta + m) would rise again: use the CosFace-like fallback instead
        shifted = torch.where(target > math.cos(math.pi - margin), shifted, target - margin * math.sin(margin))
    elif kind == "cosface":
        shifted = target - margin
    else:
        raise ValueError(f"unknown head {kind!r}; expected one of {', '.join(HEADS)}")
    return scale * cosine.scatter(1, labels[:, None], shifted)


class ClassifierHead(nn.Module):
    """``forward(embedding (B, D), labels (B,) or None) -> logits (B, n_classes)``."""

    def __init__(self, kind: str, embedding_size: int, n_classes: int, scale: float = 64.0, margin: float | None = None):
        super().__init__()
        if kind not in HEADS:
            raise ValueError(f"unknown head {kind!r}; expected one of {', '.join(HEADS)}")
        self.kind, self.scale = kind, scale
        self.margin = DEFAULT_MARGIN[kind] if margin is None else margin
        if kind == "softmax":
            self.linear = nn.Linear(embedding_size, n_classes)
        else:
            self.weight = nn.Parameter(torch.randn(n_classes, embedding_size) * 0.01)

    def forward(self, embedding: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.kind == "softmax":
            return self.linear(embedding)
        cosine = F.linear(F.normalize(embedding.float(), dim=1), F.normalize(self.weight.float(), dim=1))
        return margin_logits(cosine, labels, self.kind, self.scale, self.margin)
