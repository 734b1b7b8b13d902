"""Tiny, visually distinct image sets for the recognition trainers (real PNG files in tmp_path)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from augmenter import __version__
from augmenter.datasets.manifest import new_manifest, write_manifest
from augmenter.datasets.spec import read_specs, split_held_out


def pattern(kind: str, size: int, seed: int) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 image of one of a few easily told apart kinds, with seeded noise."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-20, 21, (size, size, 3))
    yy, xx = np.mgrid[:size, :size]
    if kind == "bright":
        base = np.full((size, size, 3), 210)
    elif kind == "dark":
        base = np.full((size, size, 3), 40)
    elif kind == "vstripes":
        base = np.repeat((((xx // 4) % 2) * 200 + 25)[..., None], 3, axis=2)
    elif kind == "hstripes":
        base = np.repeat((((yy // 4) % 2) * 200 + 25)[..., None], 3, axis=2)
    elif kind in ("red", "green", "blue"):
        base = np.full((size, size, 3), 40)
        base[..., ("red", "green", "blue").index(kind)] = 220
    elif kind == "checker":
        base = np.repeat(((((xx // 4) + (yy // 4)) % 2) * 200 + 25)[..., None], 3, axis=2)
    else:
        raise ValueError(kind)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def write_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, format="PNG")
    return path


EXPRESSION_LOOKS = {"happy": "bright", "sad": "dark", "neutral": "vstripes"}
IDENTITY_LOOKS = {"id_a": "red", "id_b": "green", "id_c": "blue", "id_d": "checker"}


def make_class_folders(root: Path, counts: dict[str, int], size: int = 32) -> Path:
    """``root/<expression>/<k>.png``, each expression with its own look (:data:`EXPRESSION_LOOKS`)."""
    for c, (name, n) in enumerate(counts.items()):
        for k in range(n):
            write_png(root / name / f"{k:03d}.png", pattern(EXPRESSION_LOOKS[name], size, 1000 * c + k))
    return root


def make_identity_folders(root: Path, n_per_identity: int = 6, identities=tuple(IDENTITY_LOOKS), size: int = 32) -> Path:
    """``root/<identity>/<k>.png`` (the ``folder`` / ``casia`` layout), one look per identity."""
    for c, name in enumerate(identities):
        for k in range(n_per_identity):
            write_png(root / name / f"{k:03d}.png", pattern(IDENTITY_LOOKS[name], size, 5000 + 100 * c + k))
    return root


def manifest_row(out_path, *, identity="", expression="", kept=True, q_score=0.8, seed=0) -> dict:
    return dict(out_path=str(out_path), source_path=str(out_path), identity=identity, dataset="test",
                lighting="", expression=expression, q_score=q_score, kept=kept, seed=seed,
                generator_hash="0123456789abcdef", toolkit_version=__version__)


def write_test_manifest(path: Path, rows: list[dict]) -> Path:
    parquet, _ = write_manifest(new_manifest(rows), path)
    return parquet


def seed_holding_out_every_class(spec: str, holdout: float, minimum: int = 2) -> int:
    """The first seed whose hash hold-out (as ``train-expression`` draws it) has ``minimum`` images of
    every class on both sides, so that a test does not depend on tmp_path's name."""
    records, _ = read_specs([spec])
    classes = {r.expression for r in records}
    for seed in range(200):
        train, val = split_held_out(records, holdout, seed)
        if all(sum(r.expression == c for r in part) >= minimum for part in (train, val) for c in classes):
            return seed
    raise AssertionError("no seed gives a usable hold-out")
