"""Scoring images with Q: batched, decoding in DataLoader workers, unreadable files reported.

``q_score`` is Q's predicted mean rating (1-10 scale, clipped) divided by 10: ``q_score >= 0.6`` means
"predicted at 6/10 or better", above the 5/10 line where a face fools a rater.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from augmenter.datasets._tree import DIR, FILE, path_kind, skip_counts, walk_files
from augmenter.datasets.manifest import read_manifest
from augmenter.errors import DatasetFormatError
from augmenter.io import IMAGE_EXTENSIONS
from augmenter.nets.quality import RATING_MAX, RATING_MIN, QEnsemble, QNet
from augmenter.quality.images import FaceImages, collate_faces
from augmenter.tensors import to_model_input
from augmenter.skips import SkipReport

MANIFEST_SUFFIXES = (".parquet", ".csv")
UNREADABLE_IMAGE = "unreadable image"  # the skip reason of a file the decoder refused


@dataclass(frozen=True)
class Source:
    """An input image, and the folder it was found under: an input folder or a manifest's folder
    (``None`` for an image named directly)."""

    path: Path
    base: Path | None = None


def collect_sources(inputs: Iterable[str | Path], skips: SkipReport, *, exclude: Path | None = None) -> list[Source]:
    """Image files named directly, images under folders (recursive, sorted), and manifests' ``out_path``s.

    A manifest (``.parquet``, or ``.csv`` with an ``out_path`` column) contributes its rows' images,
    resolved against the manifest's folder. Inside folders, hidden entries are ignored and entries
    that are not regular files or folders (broken symlinks, symlink loops, FIFOs...) and unreadable
    folders are counted in ``skips`` (see :func:`augmenter.datasets._tree.walk_files`). A file named
    directly, or any path with an image suffix, is passed on even when it cannot be read: the decoder
    reports it (and never opens a FIFO). Any other input that is not a folder or a regular file raises
    ``DatasetFormatError`` naming it. ``exclude`` (a command's output folder) is not walked, so a rerun
    into a folder inside an input never takes its own outputs for inputs.
    """
    sources: list[Source] = []
    for item in map(Path, inputs):
        kind = path_kind(item)
        suffix = item.suffix.lower()
        if kind == DIR:
            sources += [Source(p, item) for p in walk_files(item, skips, exclude=exclude)
                        if p.suffix.lower() in IMAGE_EXTENSIONS]
        elif suffix in MANIFEST_SUFFIXES and kind == FILE:
            table = read_manifest(item)
            sources += [Source(item.parent / p if not Path(p).is_absolute() else Path(p), item.parent)
                        for p in table["out_path"]]
        elif kind == FILE or suffix in IMAGE_EXTENSIONS:
            sources.append(Source(item))
        else:
            raise DatasetFormatError(item, kind)
    return sources


def collect_inputs(inputs: Iterable[str | Path], skips: SkipReport) -> list[Path]:
    """The paths of :func:`collect_sources`."""
    return [source.path for source in collect_sources(inputs, skips)]


@torch.inference_mode()
def predict_ratings(
    net: QNet | QEnsemble,
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


def describe_scores(table: pd.DataFrame, n_inputs: int, skips: SkipReport, out: Path) -> str:
    """One line: how many of the ``n_inputs`` were scored into ``out``, why the others were skipped, the scores."""
    skipped = f"; {skip_counts(skips)}" if skips.total else ""
    if not len(table):
        return f"no image could be scored ({n_inputs} input(s){skipped}); wrote an empty {out}"
    return (f"scored {len(table)} of {n_inputs} image(s) into {out}{skipped}; mean q_score "
            f"{table['q_score'].mean():.3f}, {np.mean(table['q_score'] >= 0.6):.1%} at 0.6 or above")


def scores_table(paths: Sequence[str | Path], ratings: np.ndarray) -> pd.DataFrame:
    """``path, q_score, rating`` rows (rating clipped to 1-10; q_score = rating / 10), unreadable rows dropped."""
    ok = ~np.isnan(ratings)
    rating = np.clip(ratings[ok], RATING_MIN, RATING_MAX)
    return pd.DataFrame({"path": [str(p) for p, k in zip(paths, ok) if k],
                         "q_score": np.round(rating / 10.0, 6), "rating": np.round(rating, 5)})
