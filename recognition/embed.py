"""Batch face embeddings of files, folders, list files or manifests to ``.npz`` — what ``eval-lfw`` and
``eval-ijbb`` read.

The ``.npz`` holds ``paths`` (N,) str (as given or found, folders walked recursively in sorted order),
``embeddings`` (N, D) float32 L2-normalised (a NaN row where the image could not be read), and, with
``flip``, ``flip_embeddings``: those of the mirrored images (evaluation may add them to the plain ones).

Example:
    >>> result = embed_inputs(["lfw/"], "verifier/best.pt", "lfw_embeddings.npz")   # doctest: +SKIP
    >>> np.load("lfw_embeddings.npz")["embeddings"].shape                            # doctest: +SKIP
    (13233, 512)
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from augmenter.atomic import atomic_path
from augmenter.checkpoint import load_checkpoint
from augmenter.errors import CheckpointError, DatasetFormatError
from augmenter.nets.backbones import backbone_from_checkpoint
from augmenter.device import resolve_device
from augmenter.quality.score import collect_inputs
from augmenter.skips import SkipReport
from recognition.embedding import embed_batches

EMBEDDING_KINDS = ("verifier", "expression")


@dataclass
class EmbedResult:
    out: Path
    count: int
    dim: int
    unreadable: list[str]
    skips: SkipReport = field(default_factory=SkipReport)  # folder entries that were not images to read

    def describe(self) -> str:
        text = f"{self.count} embedding(s) of size {self.dim} in {self.out}"
        if self.unreadable:
            text += f"\n{len(self.unreadable)} unreadable image(s) (NaN rows), e.g. {self.unreadable[0]}"
        if self.skips.total:
            text += f"\n{self.skips.summary()}"
        return text


def read_inputs(inputs: list[str | os.PathLike], skips: SkipReport | None = None) -> list[Path]:
    """Image files, folders, manifests, and ``.txt`` lists of paths (one per line, relative to the list);
    folder entries that are not regular files (broken symlinks...) are counted in ``skips``."""
    skips = SkipReport() if skips is None else skips
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.suffix.lower() == ".txt":
            if not item.is_file():
                raise DatasetFormatError(item, "list file not found")
            lines = [line.strip() for line in item.read_text(encoding="utf-8").splitlines() if line.strip()]
            paths += [Path(line) if Path(line).is_absolute() else item.parent / line for line in lines]
        else:
            paths += collect_inputs([item], skips)
    if not paths:
        raise DatasetFormatError(Path(inputs[0]) if inputs else Path("."), "no images to embed")
    return paths


def embed_inputs(inputs: list[str | os.PathLike], checkpoint: str | os.PathLike, out: str | os.PathLike,
                 flip: bool = False, batch_size: int = 128, workers: int = 2, device: str = "auto") -> EmbedResult:
    """Embed every input image with the backbone of a ``verifier`` (or ``expression``) checkpoint."""
    dev = resolve_device(device)
    ckpt = load_checkpoint(checkpoint)
    if ckpt.kind not in EMBEDDING_KINDS:
        raise CheckpointError(checkpoint, f"is a {ckpt.kind!r} checkpoint; embeddings come from "
                                          f"{' or '.join(EMBEDDING_KINDS)} checkpoints")
    backbone, size = backbone_from_checkpoint(ckpt)
    backbone = backbone.to(dev)
    skips = SkipReport()
    paths = read_inputs(inputs, skips)
    names = [str(p) for p in paths]
    embeddings, errors = embed_batches(backbone, names, size, dev, batch_size, workers)
    arrays = {"paths": np.array(names), "embeddings": embeddings}
    if flip:
        mirrored, _ = embed_batches(backbone, names, size, dev, batch_size, workers, mirror_only=True)
        arrays["flip_embeddings"] = mirrored
    out = Path(out)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return EmbedResult(out, len(names), embeddings.shape[1], errors, skips)
