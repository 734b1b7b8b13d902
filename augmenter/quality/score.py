"""Scoring images with Q: batched, decoding in DataLoader workers, unreadable files reported.

``q_score`` is Q's predicted mean rating (1-10 scale, clipped) divided by 10: ``q_score >= 0.6`` means
"predicted at 6/10 or better", above the 5/10 line where a face fools a rater.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from augmenter.datasets.manifest import read_manifest
from augmenter.errors import DatasetFormatError
from augmenter.io import IMAGE_EXTENSIONS
from augmenter.nets.quality import RATING_MAX, RATING_MIN, QNet
from augmenter.quality.images import FaceImages, collate_faces, to_model_input

MANIFEST_SUFFIXES = (".parquet", ".csv")


def collect_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Image files named directly, images under folders (recursive, sorted), and manifests' ``out_path``s.

    A manifest (``.parquet``, or ``.csv`` with an ``out_path`` column) contributes its rows' images,
    resolved against the manifest's folder. A missing input raises ``DatasetFormatError`` naming it.
    """
    paths: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                           and not any(part.startswith(".") for part in p.relative_to(item).parts))
            paths.extend(found)
        elif item.suffix.lower() in MANIFEST_SUFFIXES:
            table = read_manifest(item)
            paths.extend(item.parent / p if not Path(p).is_absolute() else Path(p) for p in table["out_path"])
        elif item.exists() or item.suffix.lower() in IMAGE_EXTENSIONS:
            paths.append(item)  # a missing image file is reported by the scorer, not raised
        else:
            raise DatasetFormatError(item, "no such file or folder")
    return paths


@torch.inference_mode()
def predict_ratings(
    net: QNet,
    paths: Sequence[str | Path],
    *,
    batch_size: int = 64,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Q's predicted rating for every path: ``(N,)`` float32, NaN where the image could not be read.

    Images are resized to Q's input size. Returns the ratings (unclipped) and one
    ``"<path>: <reason>"`` message per unreadable file.
    """
    device = next(net.parameters()).device
    ratings = np.full(len(paths), np.nan, np.float32)
    failed: list[str] = []
    loader = DataLoader(
        FaceImages(paths, net.config.image_size), batch_size=batch_size, shuffle=False,
        num_workers=workers if len(paths) > batch_size else 0, collate_fn=collate_faces,
        pin_memory=device.type == "cuda", prefetch_factor=4 if workers and len(paths) > batch_size else None,
    )
    done = 0
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    for indices, images, failures in loader:
        failed.extend(message for _, message in failures)
        if len(indices):
            with autocast:
                out = net(to_model_input(images, device))
            ratings[indices.numpy()] = out.float().cpu().numpy()
        done += len(indices) + len(failures)
        if progress:
            progress(done, len(paths))
    return ratings, failed


def scores_table(paths: Sequence[str | Path], ratings: np.ndarray) -> pd.DataFrame:
    """``path, q_score, rating`` rows (rating clipped to 1-10; q_score = rating / 10), unreadable rows dropped."""
    ok = ~np.isnan(ratings)
    rating = np.clip(ratings[ok], RATING_MIN, RATING_MAX)
    return pd.DataFrame({"path": [str(p) for p, k in zip(paths, ok) if k],
                         "q_score": np.round(rating / 10.0, 6), "rating": np.round(rating, 5)})
