"""A small expression classifier that teaches the generator's expression branch.

It sees what the generator's fields see: the grey aligned crop at 64 px. It is trained on FER-2013
*train* crops only; the judge that measures the edits afterwards is a different network (the toolkit's
``train-expression``, another architecture and seed), so edits that merely fool this teacher do not
count as expressions.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from augmenter.nets.fields import grey

TEACHER_SIZE = 64


class ExpressionTeacher(nn.Module):
    """``(B, 1, 64, 64)`` grey in [-1, 1] -> ``(B, n_classes)`` logits."""

    def __init__(self, n_classes: int, width: int = 32):
        super().__init__()
        layers, cin = [], 1
        for i in range(4):
            cout = width * 2 ** i
            layers += [nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                       nn.Conv2d(cout, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(cin, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


def to_teacher_input(x: torch.Tensor) -> torch.Tensor:
    """``(B, 3 or 1, S, S)`` in [-1, 1] -> ``(B, 1, 64, 64)`` grey, differentiable."""
    if x.shape[1] == 3:
        x = grey(x)
    return F.interpolate(x, size=(TEACHER_SIZE, TEACHER_SIZE), mode="bilinear", align_corners=False, antialias=True)


def train_teacher(images: np.ndarray, labels: np.ndarray, n_classes: int, epochs: int = 6, batch: int = 64,
                  seed: int = 1, log=print) -> ExpressionTeacher:
    """Fit on ``images`` ``(N, S, S)`` uint8 grey with ``labels`` ``(N,)``; class-balanced draws, flips."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = ExpressionTeacher(n_classes)
    x_all = torch.from_numpy(images)[:, None].float().div(127.5).sub(1)
    x_all = to_teacher_input(x_all)
    weights = 1.0 / np.bincount(labels, minlength=n_classes)[labels]
    weights /= weights.sum()
    opt = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=1e-4)
    steps = epochs * len(images) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    net.train()
    for step in range(steps):
        idx = rng.choice(len(images), batch, p=weights)
        x = x_all[idx]
        flip = torch.from_numpy(rng.random(batch) < 0.5)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        shift = rng.integers(-3, 4, 2)
        x = torch.roll(x, tuple(int(s) for s in shift), (2, 3))
        loss = F.cross_entropy(net(x), torch.from_numpy(labels[idx]), label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 200 == 0:
            log(f"teacher step {step}/{steps} loss {loss.item():.3f}")
    return net.eval()
