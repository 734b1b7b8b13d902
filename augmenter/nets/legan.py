"""LEGAN's generator: disentangled lighting and expression transformation masks, composed from the input.

Arithmetic (x is ``(B, 3, S, S)`` in [-1, 1]; ``c_l``, ``c_e`` are the target attribute vectors, one-hot
over the lighting and expression vocabularies, all zero for "keep this attribute"):

1. Lighting mask ``m_l = H_l([x, tile(c_l)])`` and expression mask ``m_e = H_e([x, tile(c_e)])``: two
   hourglasses (stride-2 stems), each seeing only its own sub-space's target, each returning
   ``mask_channels`` maps at feature resolution ``S / 4`` (the "transformation masks" of the paper).
2. Both masks are upsampled to ``S`` (bilinear) and, with the image, fed to the output hourglass
   ``H_o([x, up(m_l), up(m_e)])``, which returns 10 maps at full resolution: ``g`` (3, log-gain),
   ``o`` (3, offset), ``a`` (1, blend logit), ``r`` (3, new content).
3. Composition in [0, 1] space, ``u = (x + 1) / 2``:
   ``relit = u * exp(2 tanh(g / 2)) + 0.5 tanh(o)`` (a multiplicative shading field, gain within
   [e^-2, e^2], plus a bounded offset, the natural form of a lighting change), then
   ``out = sigmoid(a) * (tanh(r) + 1) / 2 + (1 - sigmoid(a)) * relit`` (new content where the
   expression needs it: an open mouth, teeth, shadows filled in), clamped to [0, 1] and mapped back
   to [-1, 1].
4. ``H_o``'s last layer starts at zero with the blend bias at -6, so an untrained generator returns
   the input up to 0.25%: identity, hair and texture are kept from the first step and only the change
   is learned (a plain StarGAN decoder learns far too slowly on a CPU and loses identity).

Example:
    >>> g = LeganGenerator(LeganConfig(n_lighting=19, n_expression=6, width=16))
    >>> x = torch.rand(2, 3, 64, 64) * 2 - 1
    >>> y = g(x, torch.zeros(2, 19), torch.zeros(2, 6))
    >>> y.shape, float((y - x).abs().max()) < 0.02
    (torch.Size([2, 3, 64, 64]), True)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from augmenter.nets.blocks import Hourglass, tile_labels

_BLEND_BIAS = -6.0


@dataclass(frozen=True)
class LeganConfig:
    n_lighting: int = 19
    n_expression: int = 6
    width: int = 24
    depth: int = 3
    mask_channels: int = 16


class LeganGenerator(nn.Module):
    """``forward(x, c_l, c_e)``: ``(B, 3, S, S)`` in [-1, 1] and targets ``(B, n_l)``, ``(B, n_e)`` -> same shape."""

    def __init__(self, config: LeganConfig = LeganConfig()):
        super().__init__()
        self.config = config
        c = config
        self.lighting = Hourglass(3 + c.n_lighting, c.mask_channels, c.width, c.depth, out_stride=4, stem_stride=2)
        self.expression = Hourglass(3 + c.n_expression, c.mask_channels, c.width, c.depth, out_stride=4, stem_stride=2)
        self.output = Hourglass(3 + 2 * c.mask_channels, 10, c.width, c.depth, out_stride=1)
        last = self.output.head
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        with torch.no_grad():
            last.bias[6] = _BLEND_BIAS

    def masks(self, x: torch.Tensor, c_l: torch.Tensor, c_e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two transformation masks, ``(B, mask_channels, S/4, S/4)`` each."""
        size = x.shape[-1]
        return (self.lighting(torch.cat([x, tile_labels(c_l, size)], 1)),
                self.expression(torch.cat([x, tile_labels(c_e, size)], 1)))

    def forward(self, x: torch.Tensor, c_l: torch.Tensor, c_e: torch.Tensor) -> torch.Tensor:
        m_l, m_e = self.masks(x, c_l, c_e)
        size = x.shape[-2:]
        up = [F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in (m_l, m_e)]
        g, o, a, r = torch.split(self.output(torch.cat([x, *up], 1)), [3, 3, 1, 3], dim=1)
        u = (x + 1) / 2
        relit = u * torch.exp(2 * torch.tanh(g / 2)) + 0.5 * torch.tanh(o)
        alpha = torch.sigmoid(a)
        out = alpha * (torch.tanh(r) + 1) / 2 + (1 - alpha) * relit
        return out.clamp(0, 1) * 2 - 1
