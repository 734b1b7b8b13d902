"""Building blocks shared by the generators: conv units, residual blocks, the hourglass."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def conv_unit(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """Conv -> InstanceNorm (affine) -> ReLU; padding ``(kernel - 1) // 2`` (size kept, or halved by 4x4/2)."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, bias=False),
                         nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """StarGAN's residual block: two 3x3 conv-IN units, the second without ReLU, plus the input."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.InstanceNorm2d(channels, affine=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Hourglass(nn.Module):
    """An encoder-decoder with skip connections (a one-level stacked-hourglass / U-Net).

    ``(B, cin, S, S)`` -> ``(B, cout, S / out_stride, S / out_stride)``: a stem (3x3 at full resolution,
    or 4x4 stride 2 when ``stem_stride=2``, which halves the cost of a hourglass whose output is coarse
    anyway), ``depth`` stride-2 stages (width doubling, capped at 8x), a residual bottleneck, then
    upsampling stages (bilinear x2 + conv) that add the encoder feature of the same resolution,
    stopping at ``out_stride``; a final 1x1 conv gives ``cout`` channels (no activation).
    """

    def __init__(self, cin: int, cout: int, width: int = 32, depth: int = 3, out_stride: int = 1,
                 stem_stride: int = 1):
        super().__init__()
        if stem_stride not in (1, 2) or out_stride & (out_stride - 1) or not stem_stride <= out_stride <= stem_stride * 2 ** depth:
            raise ValueError(f"need stem_stride 1 or 2 and out_stride a power of two in [stem_stride, "
                             f"stem_stride * 2**depth], not {stem_stride}, {out_stride}")
        widths = [min(width * 2 ** i, width * 8) for i in range(depth + 1)]
        self.stem = conv_unit(cin, widths[0], 4 if stem_stride == 2 else 3, stem_stride)
        self.down = nn.ModuleList(conv_unit(widths[i], widths[i + 1], 4, 2) for i in range(depth))
        self.bottleneck = ResidualBlock(widths[-1])
        n_up = depth - ((out_stride // stem_stride).bit_length() - 1)
        self.up = nn.ModuleList(conv_unit(widths[depth - i], widths[depth - i - 1]) for i in range(n_up))
        self.head = nn.Conv2d(widths[depth - n_up], cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        h = self.bottleneck(skips.pop())
        for up in self.up:
            h = up(F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)) + skips.pop()
        return self.head(h)


def tile_labels(labels: torch.Tensor, size: int) -> torch.Tensor:
    """``(B, C)`` attribute vectors -> ``(B, C, size, size)`` constant maps, as StarGAN tiles them."""
    return labels[:, :, None, None].expand(-1, -1, size, size)
