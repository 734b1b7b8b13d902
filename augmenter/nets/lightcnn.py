"""LightCNN-29 v2, the face network whose 256-d feature LEGAN's identity loss compares.

Reference: X. Wu, R. He, Z. Sun, T. Tan, "A Light CNN for Deep Face Representation with Noisy
Labels", IEEE TIFS 2018; PyTorch implementation by AlfredXiangWu (github.com/AlfredXiangWu/LightCNN,
``light_cnn.py``, class ``network_29layers_v2`` built by ``LightCNN_29Layers_v2``). The released
weights are ``LightCNN_29Layers_V2_checkpoint.pth.tar``: a dict whose ``"state_dict"`` keys start
with ``"module."`` (it was saved from ``DataParallel``), trained on 80013 identities.
:func:`augmenter.checkpoint.load_state_dict_file` unwraps and strips it; the module and parameter
names below are the reference's own (``conv1.filter.weight``, ``block3.2.conv2.filter.bias``,
``group4.conv_a.filter.weight``, ``fc.weight``, ``fc2.weight``...), so it loads without renaming.

Details that matter for the released weights (they differ from LightCNN-29 v1, ``network_29layers``):

* input ``(B, 1, 128, 128)``, grey in [0, 1] (the reference reads an 8-bit grey image and applies
  only ``ToTensor``: no mean subtraction);
* every down-sampling is ``max_pool2d(x, 2) + avg_pool2d(x, 2)`` (v1 used a ceil-mode MaxPool2d
  module), four of them: 128 -> 64 -> 32 -> 16 -> 8, hence ``8 * 8 * 128`` inputs to ``fc``;
* ``fc`` is a plain ``nn.Linear(8192, 256)`` with a bias (v1's ``fc`` was ``mfm(8192, 256, type=0)``,
  i.e. ``fc.filter.weight`` of shape (512, 8192): the v2 checkpoint holds ``fc.weight`` (256, 8192));
* ``fc2`` is ``nn.Linear(256, num_classes, bias=False)`` (v1's fc2 had a bias);
* the feature is ``fc``'s output, taken *before* dropout and ``fc2``; dropout (p=0.5) sits
  between them and only acts in training mode;
* a ``resblock`` is two 3x3 mfm convolutions and an identity shortcut, with no normalisation; a
  ``group`` is a 1x1 mfm then a kxk mfm.

Parameter count (see ``tests/test_identity.py``): an ``mfm`` convolution ``in -> out`` with a k x k
kernel holds ``2*out*in*k*k + 2*out`` parameters (it convolves to ``2*out`` maps and keeps the
element-wise max of the two halves). Summed over conv1, the 10 resblocks ([1, 2, 3, 4] at 48, 96,
192 and 128 channels), the four groups and ``fc`` that is 10,475,872; ``fc2`` adds
``256 * num_classes`` (20,483,328 for 80013 classes): 30,959,200 in all for the released model.

Example:
    >>> net = LightCNN29v2(num_classes=10).eval()
    >>> logits, feature = net(torch.rand(2, 1, 128, 128))
    >>> logits.shape, feature.shape
    (torch.Size([2, 10]), torch.Size([2, 256]))
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 128
"""Side of the square grey input the released weights expect."""
FEATURE_DIM = 256
RELEASED_NUM_CLASSES = 80013
"""Identities the released LightCNN-29 v2 was trained on (the shape of its ``fc2.weight``)."""
LAYERS = (1, 2, 3, 4)
"""Resblocks per stage of LightCNN-29 (v1 and v2)."""


class mfm(nn.Module):  # noqa: N801 - the reference's name, kept so parameter names match
    """Max-feature-map: a convolution (``type=1``) or linear layer (``type=0``) to ``2*out_channels``
    outputs, reduced to ``out_channels`` by the element-wise max of its two halves."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int = 1, type: int = 1):  # noqa: A002 - the reference's argument name
        super().__init__()
        self.out_channels = out_channels
        if type == 1:
            self.filter = nn.Conv2d(in_channels, 2 * out_channels, kernel_size=kernel_size, stride=stride,
                                    padding=padding)
        else:
            self.filter = nn.Linear(in_channels, 2 * out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = torch.split(self.filter(x), self.out_channels, dim=1)
        return torch.max(a, b)


class group(nn.Module):  # noqa: N801
    """A 1x1 mfm (``conv_a``, same width) followed by a ``kernel_size`` mfm (``conv``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.conv_a = mfm(in_channels, in_channels, 1, 1, 0)
        self.conv = mfm(in_channels, out_channels, kernel_size, stride, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.conv_a(x))


class resblock(nn.Module):  # noqa: N801
    """Two 3x3 mfm convolutions plus the identity shortcut (``in_channels == out_channels``)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = mfm(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.conv2 = mfm(out_channels, out_channels, kernel_size=3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x)) + x


def _pool(x: torch.Tensor) -> torch.Tensor:
    """v2's down-sampling: the sum of a 2x2 max pool and a 2x2 average pool."""
    return F.max_pool2d(x, 2) + F.avg_pool2d(x, 2)


class LightCNN29v2(nn.Module):
    """LightCNN-29 v2 (``LightCNN_29Layers_v2`` of the reference).

    ``forward(x)``: ``(B, 1, 128, 128)`` grey in [0, 1] -> ``(logits (B, num_classes), feature (B, 256))``;
    ``features(x)`` returns the feature alone and skips ``fc2``.
    """

    def __init__(self, num_classes: int = RELEASED_NUM_CLASSES):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, not {num_classes}")
        self.num_classes = num_classes
        self.conv1 = mfm(1, 48, 5, 1, 2)
        self.block1 = self._make_layer(LAYERS[0], 48)
        self.group1 = group(48, 96, 3, 1, 1)
        self.block2 = self._make_layer(LAYERS[1], 96)
        self.group2 = group(96, 192, 3, 1, 1)
        self.block3 = self._make_layer(LAYERS[2], 192)
        self.group3 = group(192, 128, 3, 1, 1)
        self.block4 = self._make_layer(LAYERS[3], 128)
        self.group4 = group(128, 128, 3, 1, 1)
        self.fc = nn.Linear(8 * 8 * 128, FEATURE_DIM)
        self.fc2 = nn.Linear(FEATURE_DIM, num_classes, bias=False)

    @staticmethod
    def _make_layer(num_blocks: int, channels: int) -> nn.Sequential:
        return nn.Sequential(*(resblock(channels, channels) for _ in range(num_blocks)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 128, 128)`` grey in [0, 1] -> the ``(B, 256)`` ``fc`` feature (not normalised)."""
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"LightCNN29v2 takes (B, 1, {INPUT_SIZE}, {INPUT_SIZE}) grey input, got {tuple(x.shape)}")
        x = _pool(self.conv1(x))
        x = _pool(self.group1(self.block1(x)))
        x = _pool(self.group2(self.block2(x)))
        x = self.group3(self.block3(x))
        x = _pool(self.group4(self.block4(x)))
        return self.fc(x.flatten(1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fc = self.features(x)
        out = self.fc2(F.dropout(fc, training=self.training))
        return out, fc


def lightcnn29v2_param_count(num_classes: int = RELEASED_NUM_CLASSES) -> int:
    """The parameter count derived from the layer list by hand (what the tests check the module against)."""

    def mfm_conv(cin: int, cout: int, k: int) -> int:
        return 2 * cout * cin * k * k + 2 * cout

    def res(c: int) -> int:
        return 2 * mfm_conv(c, c, 3)

    def grp(cin: int, cout: int) -> int:
        return mfm_conv(cin, cin, 1) + mfm_conv(cin, cout, 3)

    total = mfm_conv(1, 48, 5)
    for n, c in zip(LAYERS, (48, 96, 192, 128)):
        total += n * res(c)
    total += grp(48, 96) + grp(96, 192) + grp(192, 128) + grp(128, 128)
    total += 8 * 8 * 128 * FEATURE_DIM + FEATURE_DIM  # fc
    return total + FEATURE_DIM * num_classes  # fc2, no bias
