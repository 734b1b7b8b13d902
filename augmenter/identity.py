"""Identity embedders: frozen face networks whose embeddings LEGAN's identity loss compares.

Every embedder takes the GAN's images, ``(B, 3, H, W)`` in [-1, 1] at any size, and returns
``(B, D)`` L2-normalised embeddings. It is frozen (no parameter requires grad, always in eval
mode, even inside a parent module switched to ``train()``) but differentiable with respect to its
input, so the identity loss backpropagates through it into the generator.

Pretrained weights are never downloaded: :func:`load_identity_net` reads a local file that the user
names, and says so when it is absent.

Example:
    >>> net = load_identity_net("weights/LightCNN_29Layers_V2_checkpoint.pth.tar")  # doctest: +SKIP
    >>> net.name, net.dim                                                          # doctest: +SKIP
    ('LightCNN-29 v2 (weights/LightCNN_29Layers_V2_checkpoint.pth.tar)', 256)
    >>> e_in, e_out = net(x_real), net(fake)                                       # doctest: +SKIP
    >>> loss_id = (1 - (e_in * e_out).sum(1)).mean()                               # doctest: +SKIP
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from augmenter.checkpoint import FOREIGN_CHECKPOINT, Checkpoint, load_checkpoint, load_state_dict_file, load_weights
from augmenter.errors import CheckpointError
from augmenter.tensors import resize_square
from augmenter.nets.lightcnn import FEATURE_DIM, INPUT_SIZE, RELEASED_NUM_CLASSES, LightCNN29v2

NOT_FOUND = "identity network weights not found; pretrained weights are never downloaded — pass a local file"
LUMA_601 = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma weights (what PIL's ``convert("L")`` and OpenCV's ``BGR2GRAY`` use)."""


class IdentityEmbedder(nn.Module):
    """Base class: ``forward(x)``: ``(B, 3, H, W)`` in [-1, 1] -> ``(B, dim)`` unit-norm embeddings.

    Subclasses set ``name`` (what it is, for run logs and reports) and ``dim``, implement
    :meth:`embed` (the raw, possibly unnormalised embedding of a checked input) and call
    :meth:`freeze` at the end of ``__init__``.
    """

    name: str = "identity embedder"
    dim: int = 0

    def embed(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"{type(self).__name__} takes (B, 3, H, W) images in [-1, 1], got {tuple(x.shape)}")
        return F.normalize(self.embed(x), p=2, dim=1)

    def freeze(self) -> IdentityEmbedder:
        """No parameter requires grad; eval mode. Gradients still flow to the input."""
        self.requires_grad_(False)
        return self.train(False)

    def train(self, mode: bool = True) -> IdentityEmbedder:
        """Always eval mode: a frozen network keeps its dropout off and its batch-norm statistics fixed
        even when a trainer calls ``train()`` on a module that holds it."""
        return super().train(False)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, dim={self.dim}"


class LightCNNEmbedder(IdentityEmbedder):
    """LightCNN-29 v2's normalised 256-d ``fc`` feature of the grey (BT.601 luma) 128x128 image.

    ``weights_path``: the released ``LightCNN_29Layers_V2_checkpoint.pth.tar`` or any file
    :func:`~augmenter.checkpoint.load_state_dict_file` reads with the same parameters (the number of
    classes of ``fc2`` is taken from the file). A file that does not fit raises the
    :class:`CheckpointError` of :func:`~augmenter.checkpoint.load_weights`, naming the parameters.
    """

    def __init__(self, weights_path: str | os.PathLike):
        super().__init__()
        path = Path(weights_path)
        if not path.exists():
            raise CheckpointError(path, NOT_FOUND)
        state = load_state_dict_file(path)
        if "fc.weight" not in state and ("fc.filter.weight" in state or "fc1.filter.weight" in state):
            raise CheckpointError(
                path, "holds LightCNN-9 or LightCNN-29 v1 weights (an mfm fc layer); the identity loss uses "
                "LightCNN-29 v2 (LightCNN_29Layers_V2_checkpoint.pth.tar)"
            )
        fc2 = state.get("fc2.weight")
        num_classes = fc2.shape[0] if isinstance(fc2, torch.Tensor) and fc2.dim() == 2 else RELEASED_NUM_CLASSES
        self.net = LightCNN29v2(num_classes=num_classes)
        load_weights(self.net, state, source=path)
        self.name = f"LightCNN-29 v2 ({path})"
        self.dim = FEATURE_DIM
        self.register_buffer("luma", torch.tensor(LUMA_601).view(1, 3, 1, 1), persistent=False)
        self.freeze()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        grey = ((x + 1) * 0.5 * self.luma.to(x.dtype)).sum(1, keepdim=True)  # [-1, 1] RGB -> [0, 1] grey
        return self.net.features(resize_square(grey, INPUT_SIZE))


class AttributeEmbedder(IdentityEmbedder):
    """The embedding of a toolkit ``"attr"`` checkpoint's :class:`~augmenter.nets.attribute.AttributeNet`
    (``net.embed`` of the image resized to the net's ``image_size``)."""

    def __init__(self, ckpt: Checkpoint):
        super().__init__()
        from augmenter.nets.attribute import AttributeNet, AttributeNetConfig  # lands in parallel; import lazily

        net_config = ckpt.config.get("net") if isinstance(ckpt.config, dict) else None
        if not isinstance(net_config, dict):
            raise CheckpointError(ckpt.path, "attr checkpoint has no config['net'] to build its AttributeNet from")
        try:
            config = AttributeNetConfig(**net_config)
        except (TypeError, ValueError) as e:
            raise CheckpointError(ckpt.path, f"attr checkpoint's config['net'] does not build an AttributeNet: {e}") from None
        self.net = AttributeNet(config)
        load_weights(self.net, ckpt.model, source=ckpt.path)
        self.image_size = int(config.image_size)
        self.name = f"attribute net ({ckpt.path})"
        with torch.no_grad():
            self.dim = int(self.net.eval().embed(torch.zeros(1, 3, self.image_size, self.image_size)).shape[1])
        self.freeze()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.embed(resize_square(x, self.image_size))


class VerifierEmbedder(IdentityEmbedder):
    """The backbone of a toolkit ``"verifier"`` checkpoint (``train-verifier``), on the image resized to
    the backbone's input size."""

    def __init__(self, ckpt: Checkpoint):
        super().__init__()
        from augmenter.nets.backbones import backbone_from_checkpoint

        self.net, self.image_size = backbone_from_checkpoint(ckpt)
        self.name = f"verifier {ckpt.config['backbone']['name']} ({ckpt.path})"
        self.dim = int(ckpt.config["backbone"]["embedding_size"])
        self.freeze()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(resize_square(x, self.image_size))


IDENTITY_BUILDERS: dict[str, Callable[[Checkpoint], IdentityEmbedder]] = {"attr": AttributeEmbedder,
                                                                          "verifier": VerifierEmbedder}
"""Toolkit checkpoint kind -> embedder builder."""
_PENDING: dict[str, str] = {}


def load_identity_net(path: str | os.PathLike | None) -> IdentityEmbedder | None:
    """The identity network named by ``path``, frozen, on the CPU (move it with ``.to(device)``).

    * ``None`` -> ``None`` (the caller logs once that the identity loss is off);
    * a toolkit checkpoint of a kind in :data:`IDENTITY_BUILDERS` (``"attr"``, ``"verifier"``) -> that
      kind's embedder;
    * any other weight file -> a LightCNN-29 v2 state_dict (e.g. the released
      ``LightCNN_29Layers_V2_checkpoint.pth.tar``).

    Raises:
        CheckpointError: the file is missing (weights are never downloaded), unreadable, a toolkit
            checkpoint of another kind, or does not fit the network (naming the parameters).
    """
    if path is None:
        return None
    path = Path(path)
    if not path.exists():
        raise CheckpointError(path, NOT_FOUND)
    try:
        ckpt = load_checkpoint(path)
    except CheckpointError as e:
        if e.reason != FOREIGN_CHECKPOINT:
            raise
        return LightCNNEmbedder(path)
    builder = IDENTITY_BUILDERS.get(ckpt.kind)
    if builder is not None:
        return builder(ckpt)
    if ckpt.kind in _PENDING:
        raise CheckpointError(path, _PENDING[ckpt.kind])
    usable = ", ".join(repr(k) for k in sorted({*IDENTITY_BUILDERS, *_PENDING}))
    raise CheckpointError(
        path, f"is a {ckpt.kind!r} checkpoint, not an identity network (use {usable}, or a LightCNN-29 v2 weight file)"
    )
