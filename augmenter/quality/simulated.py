"""A simulated-rater ratings set built from the built-in sample faces, to exercise Q end to end.

No human naturalness ratings exist on this machine, so this module makes a stand-in for the LEGAN
Perceptual Dataset: the toolkit's rendered sample faces, damaged by synthetic artifacts of the
kinds GAN and face-synthesis outputs show, rated by three *simulated* raters whose scores fall
with the artifact's severity. It is **not** a model of human perception: the rater formula below
is made up to give Q a learnable, graded, noisy target, so that training, splits, metrics and
checkpoints can be tested; numbers measured on it say nothing about LEGAN's Q.

Artifacts (:func:`degrade`, severity ``s`` in [0, 1], 0 = untouched), all graded continuously:

* ``blob``: 1-3 smooth, saturated colour blobs (like StyleGAN's droplet artifacts); radius
  ``(0.04 + 0.12 s)`` of the image side, opacity ``0.9 s^0.7``.
* ``checkerboard``: the periodic pattern of a stride-2 (or stride-4) transposed convolution,
  added with amplitude ``70 s`` grey levels.
* ``ghosting``: blend with a shifted copy of the image or of its mirror image; offset up to
  ``0.18 s`` of the side, weight ``0.5 s``.
* ``blur``: gaussian, sigma ``3.5 s`` pixels per 64 px of side.
* ``colour``: hue shift up to ``42 s`` degrees, saturation scaled by ``1 +- 0.7 s``, channel gains
  ``1 + 0.3 s u`` (``u`` a random unit vector): unnatural skin tint.
* ``warp``: smooth random displacement field (a 4 x 4 grid upsampled bicubically), amplitude up to
  ``0.1 s`` of the side, applied with ``cv2.remap``.
* ``noise``: gaussian (sigma ``35 s``) plus salt-and-pepper (``5 s^2`` % of the pixels).
* ``mix``: two or three of the above, each at severity ``s``.

Simulated raters (:func:`simulate_ratings`): rater ``r`` of three rates::

    rating_r = clip(10 - 8.5 * perceived(s, artifact) + bias_r + noise_r, 1, 10)
    perceived(s, artifact) = 0.12 + 0.88 * w_a * s ** g_a
    bias = (-0.4, 0.0, +0.3),   noise_r ~ N(0, 0.6) independent per rater and image

with ``(w_a, g_a)`` from :data:`PERCEPTION`: blob (1.0, 0.6), warp (1.0, 0.7), mix (1.0, 0.5),
ghosting (0.9, 0.8), checkerboard (0.85, 0.8), colour (0.8, 0.9), noise (0.75, 1.0),
blur (0.7, 1.6): raters notice small blobs and warps at once and mild blur hardly at all; every
curve rises with ``s``. The 0.12 floor makes a clean rendered face (``s = 0``) rate about 9
(``10 - 1.02 + bias``), not a perfect 10. The label of an image is the mean and the population
std (``ddof=0``) of its three ratings, each rating rounded to 0.01 first.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pandas as pd

from augmenter.atomic import write_text_atomic
from augmenter.datasets.record import EVAL_SPLITS, UNKNOWN
from augmenter.errors import DatasetFormatError
from augmenter.io import decode_image, write_image_atomic
from augmenter.quality.ratings import RatingsListing, assign_splits, ratings_csv_text, read_ratings

__all__ = [
    "ARTIFACTS", "CLEAN", "CLEAN_SHARE", "PERCEPTION", "PERCEIVED_FLOOR", "RATER_BIASES", "RATER_NOISE",
    "apply_damage", "build_simulated_set", "degrade", "perceived", "simulate_ratings",
]

ARTIFACTS: tuple[str, ...] = ("blob", "checkerboard", "ghosting", "blur", "colour", "warp", "noise", "mix")
"""Artifact names :func:`degrade` takes."""
CLEAN = "clean"
"""Source name of the undamaged variants (severity 0) in a simulated set."""
CLEAN_SHARE = 0.15
"""Share of the variants of :func:`build_simulated_set` left clean."""

PERCEPTION: dict[str, tuple[float, float]] = {
    "blob": (1.0, 0.6), "warp": (1.0, 0.7), "mix": (1.0, 0.5), "ghosting": (0.9, 0.8),
    "checkerboard": (0.85, 0.8), "colour": (0.8, 0.9), "noise": (0.75, 1.0), "blur": (0.7, 1.6),
}
"""Artifact -> ``(w, g)``: how much of the scale it can take off, and the power of its curve."""
PERCEIVED_FLOOR = 0.12
RATER_BIASES: tuple[float, ...] = (-0.4, 0.0, 0.3)
RATER_NOISE = 0.6
_SETTINGS_NAME = "simulated.json"
_FORMAT = 1
_SINGLE = tuple(a for a in ARTIFACTS if a != "mix")


# --------------------------------------------------------------------------- artifacts


def degrade(image: np.ndarray, artifact: str, severity: float, rng: np.random.Generator) -> np.ndarray:
    """A damaged copy of ``image``: ``artifact`` at ``severity`` (see the module docstring).

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        artifact: one of :data:`ARTIFACTS`.
        severity: 0..1; 0 returns an unchanged copy, 1 clearly damages a face.
        rng: the randomness (blob places, shift direction...); the draws do not depend on
            ``severity``, so one seed at growing severities gives the same artifact, stronger.

    Returns:
        A new ``(H, W, 3)`` uint8 array.
    """
    return apply_damage(image, artifact, severity, rng, _FUNCTIONS, "artifact")


def apply_damage(image: np.ndarray, name: str, severity: float, rng: np.random.Generator,
                 functions: dict[str, Callable], kind: str) -> np.ndarray:
    """Check the arguments of a damage function (``ValueError`` naming what is wrong), then apply
    ``functions[name]`` at ``severity``; severity 0 returns an unchanged copy."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be an (H, W, 3) uint8 array, not {getattr(image, 'shape', type(image))}")
    if name not in functions:
        raise ValueError(f"unknown {kind} {name!r}; expected one of {', '.join(functions)}")
    s = float(severity)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"severity must be in [0, 1], not {severity}")
    if s == 0.0:
        return image.copy()
    return functions[name](image, s, rng)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _blob(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    count = int(rng.integers(1, 4))
    centres = rng.uniform(0.15, 0.85, (count, 2)) * (h, w)
    radii = (0.04 + 0.12 * s) * min(h, w) * rng.uniform(0.75, 1.25, (count, 2))
    colours = rng.uniform(0.0, 1.0, (count, 3))
    lo, hi = colours.min(1, keepdims=True), colours.max(1, keepdims=True)
    colours = (colours - lo) / np.maximum(hi - lo, 1e-6) * 255.0  # fully saturated
    alpha = 0.9 * s ** 0.7
    y = np.arange(h, dtype=np.float32)[None, :, None]
    x = np.arange(w, dtype=np.float32)[None, None, :]
    d2 = ((y - centres[:, 0, None, None]) / radii[:, 0, None, None]) ** 2 \
        + ((x - centres[:, 1, None, None]) / radii[:, 1, None, None]) ** 2
    masks = np.exp(-d2 * d2).astype(np.float32) * alpha  # (count, h, w): flat top, soft edge
    out = image.astype(np.float32)
    for m, c in zip(masks, colours.astype(np.float32)):
        out += m[..., None] * (c - out)
    return _to_uint8(out)


def _checkerboard(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    stride = 2 if rng.random() < 0.6 else 4
    a, b = rng.normal(size=stride), rng.normal(size=stride)
    a = (a - a.mean()) / max(float(np.abs(a - a.mean()).max()), 1e-6)  # both directions show
    b = (b - b.mean()) / max(float(np.abs(b - b.mean()).max()), 1e-6)
    tile = 0.5 * (a[:, None] + b[None, :]) + np.outer(a, b)  # uneven overlap of a strided deconvolution
    tile = tile / max(np.abs(tile).max(), 1e-6)
    gains = rng.uniform(0.6, 1.0, 3)
    pattern = np.tile(tile, (h // stride + 1, w // stride + 1))[:h, :w].astype(np.float32)
    return _to_uint8(image + (70.0 * s) * pattern[..., None] * gains.astype(np.float32))


def _ghosting(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    mirror = rng.random() < 0.5
    angle = rng.uniform(0, 2 * np.pi)
    offset = 0.18 * s * min(h, w) * rng.uniform(0.6, 1.0)
    source = np.ascontiguousarray(image[:, ::-1]) if mirror else image
    shift = np.float32([[1, 0, offset * np.cos(angle)], [0, 1, offset * np.sin(angle)]])
    ghost = cv2.warpAffine(source, shift, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    weight = 0.5 * s
    return _to_uint8((1.0 - weight) * image.astype(np.float32) + weight * ghost.astype(np.float32))


def _blur(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    sigma = 3.5 * s * min(image.shape[:2]) / 64.0
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)


def _colour(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    hue_sign, sat_sign = rng.choice((-1.0, 1.0), 2)
    hue = hue_sign * 30.0 * s * rng.uniform(0.7, 1.0)  # in 1/256 turns: up to ~42 degrees
    saturation = 1.0 + sat_sign * 0.7 * s * rng.uniform(0.7, 1.0)
    direction = rng.normal(size=3)
    gains = (1.0 + 0.3 * s * direction / max(np.linalg.norm(direction), 1e-6)).astype(np.float32)
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = np.mod(hsv[..., 0] + hue, 256.0)
    hsv[..., 1] *= saturation
    hsv = _to_uint8(hsv)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB_FULL).astype(np.float32)
    return _to_uint8(rgb * gains)


def _warp(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    coarse = rng.normal(size=(2, 4, 4)).astype(np.float32)
    coarse /= max(float(np.abs(coarse).max()), 1e-6)
    amplitude = 0.1 * s * min(h, w)
    dx = cv2.resize(coarse[0], (w, h), interpolation=cv2.INTER_CUBIC) * amplitude
    dy = cv2.resize(coarse[1], (w, h), interpolation=cv2.INTER_CUBIC) * amplitude
    map_x = dx + np.arange(w, dtype=np.float32)[None, :]
    map_y = dy + np.arange(h, dtype=np.float32)[:, None]
    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _noise(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    noisy = image + rng.standard_normal((h, w, 3), dtype=np.float32) * (35.0 * s)
    u = rng.random((h, w), dtype=np.float32)
    share = 0.05 * s * s  # salt-and-pepper grows late: a few dots are very visible
    salt = u < 0.5 * share
    pepper = (u >= 0.5 * share) & (u < share)
    out = _to_uint8(noisy)
    out[salt] = 255
    out[pepper] = 0
    return out


def _mix(image: np.ndarray, s: float, rng: np.random.Generator) -> np.ndarray:
    count = int(rng.integers(2, 4))
    names = rng.choice(len(_SINGLE), count, replace=False)
    out = image
    for k in names:
        out = _FUNCTIONS[_SINGLE[int(k)]](out, s, rng)
    return out


_FUNCTIONS: dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "blob": _blob, "checkerboard": _checkerboard, "ghosting": _ghosting, "blur": _blur,
    "colour": _colour, "warp": _warp, "noise": _noise, "mix": _mix,
}


# --------------------------------------------------------------------------- raters


def perceived(severity, artifact) -> np.ndarray:
    """How damaged an image looks to the simulated raters, 0.12 (clean) .. 1.

    ``PERCEIVED_FLOOR + (1 - PERCEIVED_FLOOR) * w_a * severity ** g_a`` with ``(w_a, g_a)`` from
    :data:`PERCEPTION`; ``artifact`` ``"clean"`` (or severity 0) gives the floor. Broadcasts
    over arrays of severities and artifact names.
    """
    s = np.asarray(severity, float)
    names = np.asarray(artifact, dtype=object)
    s, names = np.broadcast_arrays(s, names)
    if np.any((s < 0) | (s > 1)) or not np.all(np.isfinite(s)):
        raise ValueError("severity must be in [0, 1]")
    weight = np.empty(s.shape, float)
    power = np.empty(s.shape, float)
    for idx, name in np.ndenumerate(names):
        if name == CLEAN:
            weight[idx], power[idx] = 0.0, 1.0
        elif name in PERCEPTION:
            weight[idx], power[idx] = PERCEPTION[name]
        else:
            raise ValueError(f"unknown artifact {name!r}; expected one of {', '.join(ARTIFACTS)} or {CLEAN!r}")
    return PERCEIVED_FLOOR + (1.0 - PERCEIVED_FLOOR) * weight * s ** power


def simulate_ratings(severity, artifact, rng: np.random.Generator) -> np.ndarray:
    """Three simulated ratings per image: ``(..., 3)`` floats in [1, 10] (formula in the module docstring).

    ``severity`` and ``artifact`` broadcast together; the noise is drawn as one
    ``rng.normal(0, RATER_NOISE, shape + (3,))`` call.
    """
    p = perceived(severity, artifact)
    noise = rng.normal(0.0, RATER_NOISE, p.shape + (len(RATER_BIASES),))
    ratings = 10.0 - 8.5 * p[..., None] + np.asarray(RATER_BIASES) + noise
    return np.clip(ratings, 1.0, 10.0)


# --------------------------------------------------------------------------- the set


def build_simulated_set(
    out: str | os.PathLike,
    *,
    sample_root: str | os.PathLike | None = None,
    identities: int = 8,
    size: int = 64,
    per_face: int = 2,
    seed: int = 0,
    sources: list[str] | None = None,
    max_sources: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RatingsListing:
    """Build (or finish) a simulated-rater ratings set in ``out`` and read it back.

    What it writes::

        out/sample/...                                  the rendered sample (when sample_root is None)
        out/images/<artifact>/<identity>_<stem>_<k>.png one variant (k = 0 .. per_face-1) per sample image
        out/ratings.csv                                 image, mean, std, source, split, severity,
                                                        rater1, rater2, rater3, identity
        out/simulated.json                              seed and per_face, checked on a rerun

    Each variant is clean (``source`` ``"clean"``, severity 0, images/clean/) with probability
    :data:`CLEAN_SHARE`, else a random artifact of :data:`ARTIFACTS` at severity ~ U(0, 1); its
    artifact, severity, ratings and pixels come from Generators seeded from (seed, the sample
    image's path relative to the sample folder, k), so reruns give the same set. Images already
    written are not made again (a rerun of a finished build writes nothing: ratings.csv is only
    rewritten when its text changes). Splits: :func:`~augmenter.quality.ratings.assign_splits`
    with ``group_col="identity"`` (no identity in two splits) and this ``seed``.

    Args:
        out: the set's folder (created).
        sample_root: an already rendered sample (``read_dataset("sample", ...)`` layout); None
            renders ``identities`` identities at ``size`` px, every expression and lighting
            (114 images each), into ``out/sample`` (resumed by ``render_sample`` itself).
        identities, size: the sample to render when ``sample_root`` is None.
        per_face: variants per sample image.
        sources: dataset specs (``["fer2013:DIR", "yaleb:DIR"]``) whose images replace the sample:
            a Q for a real domain (still simulated raters). Images without an identity form their
            own split group.
        max_sources: use at most this many source images (a seeded subset, spread over the specs).
        seed: the randomness of the artifacts, ratings and splits.
        progress: ``progress(done, total)`` in variants, once before and after each sample image.

    Returns:
        ``read_ratings(out)``: the table with ``source`` = artifact and the extra columns as text.

    Raises:
        DatasetFormatError: ``out`` holds a set built with another seed or per_face, or the
            sample cannot be read.
    """
    if int(per_face) < 1:
        raise ValueError(f"per_face must be at least 1, not {per_face}")
    out = _open_set_folder(out, seed, per_face, sources, max_sources)
    records, sample_root = _input_records(out, sample_root, identities, size, sources, max_sources, seed)

    total = len(records) * per_face
    done = 0
    if progress is not None:
        progress(done, total)
    rows = []
    stems = Counter(r.path.stem for r in records if r.identity == UNKNOWN)
    for record in records:
        rows += _variant_rows(record, out, sample_root, per_face, seed, bool(sources), stems)
        done += per_face
        if progress is not None:
            progress(done, total)

    table = pd.DataFrame(rows, columns=[
        "path", "mean", "std", "source", "split", "severity", "rater1", "rater2", "rater3", "identity",
    ])
    table = assign_splits(table, seed=seed, group_col="identity")
    csv_path = out / "ratings.csv"
    text = ratings_csv_text(table, out)
    if not csv_path.is_file() or csv_path.read_text(encoding="utf-8") != text:
        write_text_atomic(csv_path, text)
    return read_ratings(out)


def _open_set_folder(out: str | os.PathLike, seed: int, per_face: int, sources: list[str] | None,
                     max_sources: int | None) -> Path:
    """The set's absolute folder, created, its settings recorded in ``simulated.json`` (or checked
    against those of an earlier build there)."""
    out = Path(os.path.abspath(os.path.expanduser(os.fspath(out))))
    if out.exists() and not out.is_dir():
        raise DatasetFormatError(out, "is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    settings = {"format": _FORMAT, "seed": int(seed), "per_face": int(per_face), "clean_share": CLEAN_SHARE}
    if sources:
        settings.update(sources=list(sources), max_sources=max_sources)
    _check_settings(out / _SETTINGS_NAME, settings)
    return out


def _input_records(out: Path, sample_root: str | os.PathLike | None, identities: int, size: int,
                   sources: list[str] | None, max_sources: int | None, seed: int) -> tuple[list, Path]:
    """The records to damage and the folder their keys are relative to: the ``sources`` subset (under
    ``/``), else the sample at ``sample_root`` (rendered into ``out/sample`` when None), sorted by path."""
    from augmenter.datasets.registry import read_dataset

    if sources:
        return _source_records(sources, max_sources, seed), Path("/")
    if sample_root is None:
        from augmenter.sample.tree import SampleConfig, render_sample

        sample_root = out / "sample"
        render_sample(sample_root, SampleConfig(identities=identities, size=size))
    sample_root = Path(os.path.abspath(os.fspath(sample_root)))
    return sorted(read_dataset("sample", sample_root).records, key=lambda r: str(r.path)), sample_root


def _variant_rows(record, out: Path, sample_root: Path, per_face: int, seed: int, from_sources: bool,
                  stems: Counter) -> list[dict]:
    """The ``per_face`` rows of one source image (its variants' images written when missing); ``stems``
    counts the file names of the images without an identity, to tell same-named files apart."""
    key = "/".join(record.path.parts[-3:]) if from_sources \
        else Path(os.path.relpath(record.path, sample_root)).as_posix()
    group = record.identity if record.identity != UNKNOWN else record.path.stem
    if record.identity == UNKNOWN and stems[record.path.stem] > 1:  # same file name in two folders
        group += "_" + hashlib.sha256(key.encode()).hexdigest()[:8]
    pixels = None
    rows = []
    for k in range(per_face):
        artifact, severity, ratings = _plan(seed, key, k)
        path = out / "images" / artifact / f"{record.dataset}_{group}_{record.path.stem}_{k}.png" if from_sources \
            else out / "images" / artifact / f"{record.identity}_{record.path.stem}_{k}.png"
        if not path.is_file():
            if pixels is None:
                pixels = decode_image(record.path)
            rng = _rng(seed, "pixels", key, k)
            variant = pixels if artifact == CLEAN else degrade(pixels, artifact, severity, rng)
            write_image_atomic(path, variant)
        rows.append({
            "path": str(path), "mean": round(float(ratings.mean()), 4),
            "std": round(float(ratings.std(ddof=0)), 4), "source": artifact, "split": "unknown",
            "severity": round(severity, 4), "rater1": float(ratings[0]), "rater2": float(ratings[1]),
            "rater3": float(ratings[2]), "identity": f"{record.dataset}/{group}" if from_sources else record.identity,
        })
    return rows


def _source_records(specs: list[str], limit: int | None, seed: int) -> list:
    """Training-split images of ``specs`` (never a validation/test split), a seeded subset of ``limit``."""
    from augmenter.datasets.spec import read_specs

    records = [r for r in read_specs(list(specs))[0] if r.split not in EVAL_SPLITS]
    records.sort(key=lambda r: (r.dataset, str(r.path)))
    if limit is not None and len(records) > limit:
        keep = np.random.default_rng(seed).permutation(len(records))[:limit]
        records = [records[i] for i in sorted(keep)]
    if not records:
        raise DatasetFormatError(Path(str(specs[0]).partition(":")[2]), "no training images to build a ratings set from")
    return records


def _plan(seed: int, key: str, k: int) -> tuple[str, float, np.ndarray]:
    """Artifact, severity and the three ratings (rounded to 0.01) of variant ``k`` of sample image ``key``."""
    rng = _rng(seed, "plan", key, k)
    clean = rng.random() < CLEAN_SHARE
    artifact = ARTIFACTS[int(rng.integers(len(ARTIFACTS)))]
    severity = float(rng.uniform(0.0, 1.0))
    if clean:
        artifact, severity = CLEAN, 0.0
    ratings = np.round(simulate_ratings(severity, artifact, rng), 2)
    return artifact, severity, ratings


def _rng(seed: int, *parts: object) -> np.random.Generator:
    key = "\x1f".join([str(int(seed)), *map(str, parts)]).encode("utf-8")
    return np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:16], "little"))


def _check_settings(path: Path, settings: dict) -> None:
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetFormatError(path, f"unreadable ({exc}); build the set into a new folder") from None
        if old != settings:
            changed = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
            raise DatasetFormatError(
                path, f"holds a simulated set built with other settings ({', '.join(changed)}); use another folder"
            )
        return
    write_text_atomic(path, json.dumps(settings, indent=2) + "\n")
