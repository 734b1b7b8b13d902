"""The one path from images to embeddings with a backbone: training validation (:mod:`recognition.train_verifier`,
:mod:`recognition.train_expression`), ``augment embed`` (:mod:`recognition.embed`) and the evaluations
(:mod:`evaluation.lfw_run`, :mod:`evaluation.ijbb`, :mod:`evaluation.expression`) all embed through it.

* :func:`embed_loader`: the batch loop over any ``DataLoader`` whose batches are ``(indices, images, ...,
  failures)`` (``collate_faces`` and ``collate_samples`` both are);
* :func:`embed_batches`: image files by path, resized to the backbone's input (:class:`recognition.data.FaceSamples`).

Example:
    >>> embeddings, errors = embed_batches(backbone, ["a.png", "b.png"], 112, "cpu")   # doctest: +SKIP
    >>> embeddings.shape                                                                 # doctest: +SKIP
    (2, 512)
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from augmenter.tensors import to_model_input
from recognition.data import FaceSamples, Sample, collate_samples


def _embed(backbone: nn.Module, x: torch.Tensor, flip: bool, normalise: bool, mirror_only: bool) -> torch.Tensor:
    """``(B, D)`` float32 embeddings of the model-input batch ``x`` (B, 3, S, S) (see :func:`embed_loader`)."""
    e = backbone(x.flip(3) if mirror_only else x).float()
    if flip:
        e = nn.functional.normalize(e, dim=1) + nn.functional.normalize(backbone(x.flip(3)).float(), dim=1)
    if normalise or flip:
        e = nn.functional.normalize(e, dim=1)
    return e


def embed_loader(backbone: nn.Module, loader: Iterable, n: int, device, *, flip: bool = False,
                 normalise: bool = True, mirror_only: bool = False, with_mirror: bool = False,
                 progress: Callable[[int, int], None] | None = None
                 ) -> tuple[np.ndarray | None, np.ndarray | None, list]:
    """``(embeddings, mirrored, failures)`` of the ``n`` images that ``loader`` yields, in one pass.

    ``loader`` yields ``(indices (B,) int, images (B, 3, S, S) uint8, ..., failures list)`` batches (the
    failed items dropped from them); ``embeddings`` is ``(n, D)`` float32 with row ``indices[j]`` the
    embedding of image ``j`` of a batch and NaN rows for the images never embedded, or ``None`` when no
    image was. Each embedding is L2-normalised unless ``normalise`` is False; with ``flip`` it is the
    normalised embedding of the image plus that of its mirror image, renormalised; with ``mirror_only``
    the embedding of the mirror image alone. With ``with_mirror``, ``mirrored`` holds the embeddings of
    the mirror images too (as ``mirror_only`` gives them; else ``None``). ``failures`` concatenates the
    batches' failure lists; ``progress(done, n)`` is called after each batch.
    """
    out = mirrored = None
    failures: list = []
    done = 0
    backbone.eval()
    with torch.inference_mode():
        for batch in loader:
            indices, images, failed = batch[0], batch[1], batch[-1]
            failures += failed
            done += len(indices) + len(failed)
            if len(indices):
                x = to_model_input(images, device)
                e = _embed(backbone, x, flip, normalise, mirror_only).cpu().numpy()
                if out is None:
                    out = np.full((n, e.shape[1]), np.nan, dtype=np.float32)
                    mirrored = np.full_like(out, np.nan) if with_mirror else None
                out[indices.numpy()] = e
                if with_mirror:
                    mirrored[indices.numpy()] = _embed(backbone, x, False, normalise, True).cpu().numpy()
            if progress is not None:
                progress(done, n)
    return out, mirrored, failures


def embed_batches(backbone: nn.Module, paths: Sequence[str], size: int, device, batch_size: int = 128,
                  workers: int = 0, flip: bool = False, normalise: bool = True,
                  mirror_only: bool = False) -> tuple[np.ndarray, list[str]]:
    """``(N, D)`` float32 embeddings of the image files ``paths`` (N,) resized to ``size``, L2-normalised
    unless ``normalise`` is False (NaN rows for unreadable files, with their messages); with ``flip`` the
    normalised embedding of the image plus that of its mirror image, renormalised; with ``mirror_only`` the
    embedding of the mirror image alone. ``(N, 0)`` when no file could be read."""
    dataset = FaceSamples([Sample(p, 0) for p in paths], size)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate_samples)
    out, _, errors = embed_loader(backbone, loader, len(paths), device, flip=flip, normalise=normalise,
                                  mirror_only=mirror_only)
    if out is None:
        out = np.full((len(paths), 0), np.nan, dtype=np.float32)
    return out, errors


__all__ = ["embed_loader", "embed_batches"]
