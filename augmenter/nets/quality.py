"""Q, the perceptual quality network: predicts how natural a single face image looks.

Published layout (LEGAN, CVPR-W 2021) for 128x128x3 input: six 4x4 stride-2 convolutions with 64, 128,
256, 512, 1024 and 2048 filters, each followed by LeakyReLU(0.01), then fc 256 and fc 1. That is the
default here. ``image_size`` must be a power of two >= 16: the number of stages is
``log2(image_size) - 1``, so the last feature map is always 2x2 (a 64 px Q drops one stage), and
``base_width`` scales every layer (stage i has ``base_width * 2**i`` filters) so a small Q trains on
a CPU.

Output: the predicted mean naturalness rating on the raters' 1-10 scale (unbounded during training;
:func:`q_score` clips it). The last layer's bias starts at 5.5, the middle of the scale, so an untrained
Q is not biased towards either side of the 5/10 line. A LeakyReLU also follows fc 256 (the paper
does not say; a nonlinearity there is the usual choice and keeps fc 256 from collapsing into fc 1).

Example:
    >>> net = QNet(QNetConfig(image_size=64, base_width=16))
    >>> net(torch.zeros(2, 3, 64, 64)).shape     # (B,) ratings for (B, 3, 64, 64) input in [-1, 1]
    torch.Size([2])
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

RATING_MIN, RATING_MAX = 1.0, 10.0


@dataclass(frozen=True)
class QNetConfig:
    image_size: int = 128
    base_width: int = 64
    hidden: int = 256
    negative_slope: float = 0.01

    def __post_init__(self):
        if self.image_size < 16 or self.image_size & (self.image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 16, not {self.image_size}")

    @property
    def widths(self) -> tuple[int, ...]:
        stages = int(math.log2(self.image_size)) - 1
        return tuple(self.base_width * 2 ** i for i in range(stages))


class QNet(nn.Module):
    """``forward(x)``: ``(B, 3, S, S)`` float in [-1, 1] -> ``(B,)`` predicted mean rating (1-10 scale)."""

    def __init__(self, config: QNetConfig = QNetConfig()):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels = 3
        for width in config.widths:
            layers += [nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.LeakyReLU(config.negative_slope)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * 2 * 2, config.hidden),
            nn.LeakyReLU(config.negative_slope),
            nn.Linear(config.hidden, 1),
        )
        nn.init.constant_(self.head[-1].bias, (RATING_MIN + RATING_MAX) / 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.config.image_size
        if x.shape[-2:] != (size, size):
            raise ValueError(f"Q expects (B, 3, {size}, {size}) input, got {tuple(x.shape)}; resize first")
        return self.head(self.features(x)).squeeze(1)


class QEnsemble(nn.Module):
    """Several Q networks judging together: ``forward(x)`` is the mean of their predicted ratings.

    ``(B, 3, S, S)`` float in [-1, 1] -> ``(B,)`` mean rating (1-10 scale); every member takes the same
    ``S`` (``config`` is the first member's); one forward pass per member. Measured (docs/quality.md,
    "Round 13"): a mean of rounds raises cross-validated agreement with people a little (0.381 against its
    members' 0.359 and 0.294) and catches generators trained against any single member, but a generator
    trained against the ensemble itself fools it as much as one Q (it finds a hole the members share), so
    the built-in default is a single Q; ensembles are for experiments.

    Example:
        >>> q = QEnsemble([QNet(QNetConfig(64, 8)), QNet(QNetConfig(64, 8))])
        >>> q(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2])
    """

    def __init__(self, members: list[QNet]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one Q")
        sizes = {m.config.image_size for m in members}
        if len(sizes) > 1:
            raise ValueError(f"every member must take the same input size, got {sorted(sizes)}")
        self.members = nn.ModuleList(members)
        self.config = members[0].config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.members]).mean(0)


def q_score(rating: torch.Tensor) -> torch.Tensor:
    """The toolkit's ``q_score``: the predicted rating clipped to 1-10, divided by 10 (so in [0.1, 1])."""
    return rating.clamp(RATING_MIN, RATING_MAX) / 10.0
