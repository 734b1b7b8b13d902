"""Embedding backbones for verification and expression recognition.

Every backbone maps ``(B, 3, S, S)`` float images in [-1, 1] to ``(B, embedding_size)`` features (not
normalised: heads normalise where their loss needs it). ``S`` is the configured ``image_size``.

=====================  =========  ===========================================================
name                   params     what
=====================  =========  ===========================================================
``mobilefacenet``      ~1.2M      MobileFaceNet (Chen et al. 2018), trains on a CPU; any S
                                  divisible by 16 (112 as published)
``iresnet18`` / ``50`` 24M / 43M  ArcFace's IResNet (insightface ``arcface_torch``), S 112
``inception_resnet_v1`` 23M       facenet-pytorch's InceptionResnetV1, optionally from a local
                                  vggface2 / casia-webface weight file (S 160 as trained)
``small_resnet``       ~0.7M      a 4-stage ResNet for small expression crops (48-64 px), w 16
=====================  =========  ===========================================================

Example:
    >>> net = build_backbone("mobilefacenet", embedding_size=128, image_size=64)
    >>> net(torch.zeros(2, 3, 64, 64)).shape
    torch.Size([2, 128])
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

BACKBONES = ("mobilefacenet", "iresnet18", "iresnet50", "inception_resnet_v1", "small_resnet")


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.PReLU(cout))
    return nn.Sequential(*layers)


class _DepthWiseResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        hidden = cin * expansion
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(_conv_bn(cin, hidden, 1), _conv_bn(hidden, hidden, 3, stride, groups=hidden),
                                  _conv_bn(hidden, cout, 1, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class MobileFaceNet(nn.Module):
    """MobileFaceNet: bottlenecks (t, c, n, s) = (2,64,5,2) (4,128,1,2) (2,128,6,1) (4,128,1,2)
    (2,128,2,1), a 1x1 conv to 512, a global depth-wise conv over the final S/16 map, linear + BN."""

    def __init__(self, embedding_size: int = 512, image_size: int = 112):
        super().__init__()
        if image_size % 16:
            raise ValueError(f"mobilefacenet needs an image size divisible by 16, got {image_size}")
        layers = [_conv_bn(3, 64, 3, 2), _conv_bn(64, 64, 3, groups=64)]
        cin = 64
        for t, c, n, s in ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)):
            for i in range(n):
                layers.append(_DepthWiseResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(_conv_bn(cin, 512, 1))
        self.features = nn.Sequential(*layers)
        side = image_size // 16
        self.gdc = nn.Sequential(nn.Conv2d(512, 512, side, groups=512, bias=False), nn.BatchNorm2d(512), nn.Flatten(),
                                 nn.Linear(512, embedding_size, bias=False), nn.BatchNorm1d(embedding_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gdc(self.features(x))


class _IBasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout),
                                  nn.PReLU(cout), nn.Conv2d(cout, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class IResNet(nn.Module):
    """ArcFace's IResNet: 3x3 stem, four stages of improved basic blocks (64..512), BN-dropout-FC-BN."""

    LAYERS = {18: (2, 2, 2, 2), 50: (3, 4, 14, 3)}

    def __init__(self, depth: int = 50, embedding_size: int = 512, image_size: int = 112):
        super().__init__()
        if image_size % 16:
            raise ValueError(f"iresnet needs an image size divisible by 16, got {image_size}")
        layers = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64)]
        cin = 64
        for cout, n in zip((64, 128, 256, 512), self.LAYERS[depth]):
            for i in range(n):
                layers.append(_IBasicBlock(cin, cout, 2 if i == 0 else 1))
                cin = cout
        layers.append(nn.BatchNorm2d(512))
        self.features = nn.Sequential(*layers)
        side = image_size // 16
        self.head = nn.Sequential(nn.Dropout(0.0), nn.Flatten(), nn.Linear(512 * side * side, embedding_size),
                                  nn.BatchNorm1d(embedding_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class SmallResNet(nn.Module):
    """A stride-2 3x3 stem, four stages (w, 2w, 4w, 8w) of two residual blocks each (stages 2-4 halve the
    resolution), global average pooling, linear + BN. At 48 px and w = 16: 0.7M parameters, 51
    MFLOP per image, so it trains on FER-2013 on a CPU in minutes."""

    def __init__(self, embedding_size: int = 256, width: int = 16):
        super().__init__()
        def block(cin, cout, stride):
            return _IBasicBlock(cin, cout, stride)
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.PReLU(width))
        stages, cin = [], width
        for i, cout in enumerate((width, 2 * width, 4 * width, 8 * width)):
            stages += [block(cin, cout, 1 if i == 0 else 2), block(cout, cout, 1)]
            cin = cout
        self.stages = nn.Sequential(*stages, nn.BatchNorm2d(cin), nn.PReLU(cin))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, embedding_size),
                                  nn.BatchNorm1d(embedding_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


class InceptionResnetV1Backbone(nn.Module):
    """facenet-pytorch's InceptionResnetV1 returning its 512-d pre-normalisation embedding (a new final
    linear + BN when ``embedding_size`` is not 512); optional local weights, never downloaded."""

    def __init__(self, embedding_size: int = 512, weights: str | Path | None = None):
        super().__init__()
        from facenet_pytorch import InceptionResnetV1

        net = InceptionResnetV1(pretrained=None, classify=False)
        if weights is not None:
            from augmenter.checkpoint import load_state_dict_file, load_weights

            state = {k: v for k, v in load_state_dict_file(weights).items() if not k.startswith("logits.")}
            load_weights(net, state, source=weights)
        if embedding_size != 512:
            net.last_linear = nn.Linear(1792, embedding_size, bias=False)
            net.last_bn = nn.BatchNorm1d(embedding_size, eps=0.001)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.net
        for name in ("conv2d_1a", "conv2d_2a", "conv2d_2b", "maxpool_3a", "conv2d_3b", "conv2d_4a", "conv2d_4b",
                     "repeat_1", "mixed_6a", "repeat_2", "mixed_7a", "repeat_3", "block8", "avgpool_1a", "dropout"):
            x = getattr(n, name)(x)
        return n.last_bn(n.last_linear(x.flatten(1)))


def build_backbone(name: str, embedding_size: int = 512, image_size: int = 112, weights: str | Path | None = None,
                   width: int = 16) -> nn.Module:
    """The backbone ``name`` (see the module table); ``weights`` only for ``inception_resnet_v1``."""
    if weights is not None and name != "inception_resnet_v1":
        raise ValueError(f"--weights (a local facenet-pytorch file) applies to inception_resnet_v1, not {name}")
    if name == "mobilefacenet":
        return MobileFaceNet(embedding_size, image_size)
    if name in ("iresnet18", "iresnet50"):
        return IResNet(int(name[len("iresnet"):]), embedding_size, image_size)
    if name == "inception_resnet_v1":
        return InceptionResnetV1Backbone(embedding_size, weights)
    if name == "small_resnet":
        return SmallResNet(embedding_size, width)
    raise ValueError(f"unknown backbone {name!r}; expected one of {', '.join(BACKBONES)}")


def backbone_config(name: str, embedding_size: int, image_size: int, width: int = 16) -> dict:
    """What a checkpoint stores to rebuild a backbone (weights come from the checkpoint itself)."""
    return {"name": name, "embedding_size": embedding_size, "image_size": image_size, "width": width}


def backbone_from_checkpoint(ckpt) -> tuple[nn.Module, int]:
    """``(backbone in eval mode, image size)`` from a ``verifier`` / ``expression`` checkpoint of the
    toolkit (``config["backbone"]`` and ``model["backbone"]``); one-line :class:`CheckpointError` else."""
    from augmenter.checkpoint import load_weights
    from augmenter.errors import CheckpointError

    try:
        cfg = dict(ckpt.config["backbone"])
        net = build_backbone(cfg["name"], int(cfg["embedding_size"]), int(cfg["image_size"]), width=int(cfg.get("width", 16)))
        state = ckpt.model["backbone"]
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(ckpt.path, f"config does not describe a backbone ({err})") from None
    load_weights(net, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, source=ckpt.path)
    return net.eval(), int(cfg["image_size"])
