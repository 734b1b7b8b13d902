"""Using a trained attribute classifier: loading, batched prediction, and the metrics evaluation shares.

Example:
    >>> net, vocab = load_attribute_classifier("runs/attr/best.pt")              # doctest: +SKIP
    >>> out = predict_attributes(net, images_uint8)                              # doctest: +SKIP
    >>> out["lighting_names"][:2], out["embedding"].shape                        # doctest: +SKIP
    (['flash07', 'ambient'], torch.Size([2, 128]))
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from augmenter.checkpoint import load_checkpoint, load_weights
from augmenter.errors import CheckpointError
from augmenter.metrics import roc_auc
from augmenter.nets.attribute import AttributeNet, AttributeNetConfig
from augmenter.device import resolve_device
from augmenter.tensors import to_model_input

KIND = "attr"
MAX_PAIRS = 20_000
"""Verification metrics use every pair of embeddings up to this many pairs, a seeded sample beyond."""


def attr_checkpoint_config(net: AttributeNetConfig, train: dict | None = None) -> dict:
    """The ``config`` of an attribute checkpoint: ``{"net": ..., "train": ...}``."""
    return {"net": asdict(net), "train": train or {}}


def load_attribute_classifier(path: str | Path, device: str | torch.device = "cpu") -> tuple[AttributeNet, dict]:
    """An :class:`AttributeNet` in eval mode and its vocabularies from a ``kind="attr"`` checkpoint.

    Returns ``(net, {"lighting": [...], "expression": [...], "identity": [...]})``; the vocabularies are
    also attached as ``net.vocabularies`` so :func:`predict_attributes` can name its predictions.
    Raises :class:`CheckpointError` (one line naming the file) for a missing file, another kind, or a
    config or vocabulary that does not fit the network.
    """
    path = Path(path)
    ckpt = load_checkpoint(path, kind=KIND)
    try:
        config = AttributeNetConfig(**ckpt.config["net"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(path, f"config does not describe an attribute network ({err})") from None
    vocab = {name: list((ckpt.vocabularies or {}).get(name, [])) for name in ("lighting", "expression", "identity")}
    for name, size in (("lighting", config.n_lighting), ("expression", config.n_expression),
                       ("identity", config.n_identity)):
        if len(vocab[name]) != size:
            raise CheckpointError(path, f"{name} vocabulary has {len(vocab[name])} names for {size} classes")
    net = AttributeNet(config)
    load_weights(net, {k: v.float() if v.is_floating_point() else v for k, v in ckpt.model.items()}, source=path)
    net.vocabularies = vocab
    return net.to(resolve_device(device) if isinstance(device, str) else device).eval(), vocab


def _as_batch(images) -> torch.Tensor:
    """uint8 or float images, NCHW or NHWC, RGB or grey -> float ``(N, 3, H, W)``, [-1, 1] for uint8 input."""
    x = torch.as_tensor(images) if not isinstance(images, torch.Tensor) else images
    if x.dim() == 3:  # (N, H, W) grey
        x = x[:, None]
    if x.dim() != 4:
        raise ValueError(f"expected images (N, 3, H, W), (N, H, W, 3) or (N, H, W), got {tuple(x.shape)}")
    if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.permute(0, 3, 1, 2)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[1] != 3:
        raise ValueError(f"expected 1 or 3 channels, got images of shape {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return to_model_input(x, x.device)
    return x.float()


@torch.inference_mode()
def predict_attributes(
    net: AttributeNet,
    images,
    *,
    vocabularies: dict | None = None,
    batch_size: int = 128,
) -> dict:
    """Lighting and expression predictions and identity embeddings for a batch of images.

    Args:
        net: a classifier (its mode is restored afterwards; prediction runs in eval mode).
        images: ``uint8`` (0..255) or float (already in [-1, 1]) images, a torch tensor or numpy array,
            ``(N, 3, H, W)``, ``(N, H, W, 3)``, or grey ``(N, 1, H, W)`` / ``(N, H, W)`` (replicated to
            RGB). Images of another side are resized (bilinear, antialiased) to ``net.config.image_size``.
        vocabularies: names for the indices; default ``net.vocabularies`` (set by
            :func:`load_attribute_classifier`), when present.
        batch_size: images per forward pass.

    Returns a dict of CPU tensors (and name lists): ``embedding`` ``(N, E)`` L2-normalised;
    for each head the net has, ``lighting`` / ``expression`` ``(N,)`` predicted indices and
    ``lighting_prob`` / ``expression_prob`` ``(N, classes)`` softmax probabilities, plus
    ``lighting_names`` / ``expression_names`` when the vocabularies are known.
    """
    x_all = _as_batch(images)
    vocabularies = vocabularies if vocabularies is not None else getattr(net, "vocabularies", None)
    device = next(net.parameters()).device
    size = net.config.image_size
    was_training = net.training
    net.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    try:
        for start in range(0, len(x_all), batch_size):
            x = x_all[start:start + batch_size].to(device)
            if x.shape[-2:] != (size, size):
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
            out = net(x)
            parts.setdefault("embedding", []).append(F.normalize(out["embedding"].float(), dim=1).cpu())
            for head in ("lighting", "expression"):
                if head in out:
                    parts.setdefault(f"{head}_prob", []).append(out[head].float().softmax(1).cpu())
    finally:
        net.train(was_training)
    result: dict = {}
    n_embedding = net.config.embedding
    result["embedding"] = torch.cat(parts["embedding"]) if parts else torch.empty(0, n_embedding)
    for head, n in (("lighting", net.config.n_lighting), ("expression", net.config.n_expression)):
        if not n:
            continue
        prob = torch.cat(parts[f"{head}_prob"]) if parts else torch.empty(0, n)
        result[f"{head}_prob"] = prob
        result[head] = prob.argmax(1)
        names = (vocabularies or {}).get(head)
        if names:
            result[f"{head}_names"] = [names[i] for i in result[head].tolist()]
    return result


# --------------------------------------------------------------------------------------------- #
# metrics shared by training (held-out validation) and GAN evaluation


def verification_metrics(embeddings, identities: Sequence[str], max_pairs: int = MAX_PAIRS, seed: int = 0) -> dict:
    """How well embedding cosine tells identities apart, over pairs of images.

    Uses every pair when there are at most ``max_pairs``, else ``max_pairs`` random distinct pairs
    (seeded). Returns ``cos_same`` / ``cos_diff`` (mean cosine of same- and different-identity pairs,
    ``None`` when there is no such pair), ``auc`` (ROC AUC of cosine for "same identity", ``None``
    without both kinds), and the pair counts ``pairs_same`` / ``pairs_diff``.
    """
    e = F.normalize(torch.as_tensor(embeddings, dtype=torch.float32), dim=1).numpy()
    ids = np.asarray(list(identities))
    n = len(e)
    if len(ids) != n:
        raise ValueError(f"{n} embeddings for {len(ids)} identities")
    if n * (n - 1) // 2 <= max_pairs:
        i, j = np.triu_indices(n, 1)
    else:
        rng = np.random.default_rng(seed)
        i = rng.integers(0, n, max_pairs)
        j = rng.integers(0, n - 1, max_pairs)
        j = j + (j >= i)  # distinct from i
    cos = np.einsum("pd,pd->p", e[i], e[j]) if len(i) else np.empty(0)
    same = ids[i] == ids[j] if len(i) else np.empty(0, bool)
    return {
        "cos_same": float(cos[same].mean()) if same.any() else None,
        "cos_diff": float(cos[~same].mean()) if (~same).any() else None,
        "auc": roc_auc(cos, same),
        "pairs_same": int(same.sum()),
        "pairs_diff": int((~same).sum()),
    }
