"""The StarGAN baseline generator and the discriminator shared by StarGAN and LEGAN.

StarGAN (Choi et al., CVPR 2018): image and tiled target labels -> 7x7 conv, two stride-2 convs,
residual blocks, two upsampling convs, 7x7 conv, tanh. Here the target is the lighting and expression
vectors concatenated (all-zero for "keep", StarGAN's mask-vector convention for partial labels).
Upsampling uses nearest x2 + 3x3 conv instead of transposed convs (same role, no checkerboard).

The discriminator is StarGAN's PatchGAN: 4x4 stride-2 convs with LeakyReLU(0.01) down to a 2x2 map
(``log2(S) - 1`` stages, width doubling up to 16x), then a 3x3 conv giving the realness map and a
conv over the whole map giving the class logits, split into a lighting head and an expression head.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from augmenter.nets.blocks import ResidualBlock, conv_unit, tile_labels


@dataclass(frozen=True)
class StarGanConfig:
    n_lighting: int = 19
    n_expression: int = 6
    width: int = 32
    res_blocks: int = 4


class StarGanGenerator(nn.Module):
    """``forward(x, c_l, c_e)``: like :class:`~augmenter.nets.legan.LeganGenerator`, a plain decoder output."""

    def __init__(self, config: StarGanConfig = StarGanConfig()):
        super().__init__()
        self.config = config
        w = config.width
        self.encoder = nn.Sequential(conv_unit(3 + config.n_lighting + config.n_expression, w, 7),
                                     conv_unit(w, 2 * w, 4, 2), conv_unit(2 * w, 4 * w, 4, 2),
                                     *[ResidualBlock(4 * w) for _ in range(config.res_blocks)])
        self.up1 = conv_unit(4 * w, 2 * w)
        self.up2 = conv_unit(2 * w, w)
        self.out = nn.Conv2d(w, 3, 7, 1, 3)

    def forward(self, x: torch.Tensor, c_l: torch.Tensor, c_e: torch.Tensor) -> torch.Tensor:
        h = self.encoder(torch.cat([x, tile_labels(torch.cat([c_l, c_e], 1), x.shape[-1])], 1))
        h = self.up1(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = self.up2(F.interpolate(h, scale_factor=2, mode="nearest"))
        return torch.tanh(self.out(h))


@dataclass(frozen=True)
class DiscriminatorConfig:
    image_size: int = 64
    n_lighting: int = 19
    n_expression: int = 6
    width: int = 32


class Discriminator(nn.Module):
    """``forward(x)`` -> ``(realness (B, 1, 2, 2), lighting logits (B, n_l), expression logits (B, n_e))``."""

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        self.config = config
        stages = int(math.log2(config.image_size)) - 1
        layers, cin = [], 3
        for i in range(stages):
            cout = config.width * min(2 ** i, 16)
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.01)]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.realness = nn.Conv2d(cin, 1, 3, 1, 1, bias=False)
        self.classes = nn.Conv2d(cin, config.n_lighting + config.n_expression, 2, bias=False)

    def forward(self, x: torch.Tensor):
        h = self.body(x)
        logits = self.classes(h).flatten(1)
        return self.realness(h), logits[:, : self.config.n_lighting], logits[:, self.config.n_lighting:]
