"""Stage 1 of the default Q: a pool of aligned real faces and their failures, with simulated ratings.

What goes in, and the label each kind gets (mean, std on Q's 1-10 scale; the margin loss uses std):

* ``real``: aligned real photos (FER-2013 train, Extended Yale B training subjects), clean:
  ``REAL_RATING`` (7.0, std 1.0). Grey photos are real photos: no colour is asked of them.
* a failure of :mod:`augmenter.quality.failures` (painted shading mask, tint, teeth bar, painted irises,
  tile shuffle, seam) or an artifact of :func:`augmenter.quality.simulated.degrade` (blob, checkerboard,
  ghosting, blur, colour, warp, noise) applied to a real face at severity ``s ~ U(0.1, 1)``:
  ``7.0 - 5.8 * w * s ** g`` with the mode's ``(w, g)`` from :data:`PERCEPTION` (std 1.2), so a
  severe failure rates about 1.5 and a faint one stays near the photo. Blur's curve is the recipe's
  ``blur_curve`` (default (0.8, 1.0)): with the curve of rounds 1-7, (0.7, 1.6), a blur of severity 0.3
  (sigma 2.1 px at 128 px: a plainly smeared face, docs/q_round5_vs_round6.png) was labelled 6.41, above the
  0.6 line, and Q learned to pass it (round 6 put 25% of those faces above their own photo).
* ``generator``: the source translated by a generator checkpoint (default the built-in demo LEGAN, which
  paints shading masks and tints on real faces), resized up to the crop size: 2.5 (std 1.0).
* ``render``: faces of the built-in 3D renderer: 3.5 (std 1.2): clean but plainly computer graphics; each
  also damaged once (``render_<mode>``, ``3.5 - 2.5 w s^g``), so failures are learned on colour faces too.
* ``toned``: a share of the grey real photos given a photographic skin tone (:func:`toned`, 7.0) and one
  failure of that toned copy. The only colour real faces here are the human study's, which stage 1 must
  not see (they measure agreement with people), and without colour faces Q learned failures on grey
  faces only: a teeth bar on a colour photo went unnoticed.
* ``unaligned``: real photos as datasets ship them, not aligned (FER-2013's own 48 px crops, tighter and
  off-centre), 7.0, each with one failure (``unaligned_<mode>``); and ``reframed``: a share of the aligned
  photos cropped tighter and shifted (zoom 1.05-1.4), 7.0, each with one failure too. Without them Q
  learned the ArcFace framing as part of "real": unaligned FER-2013 validation crops scored a median 0.48
  against 0.68 aligned. Each comes with a failure of its own so that framing alone says nothing; for half
  of them (``framed_geometry_share``) a warp or a seam, since a Q taught that a larger or shifted face is
  still a photo passed smooth warps (round 4: 62% of severe warps caught; round 5 with this: 78%).
* ``hard``: outputs of generators trained against earlier Qs (``hard_generator``, one path or a list, one
  per round): 2.0 (std 1.0), each on its own share of the faces, so a generator cannot win Q by what an
  earlier Q missed.

Why simulated labels first: 150 human-rated faces cannot teach a CNN what a broken face is; thousands of
real photos and their graded failures can, and the human ratings then fit the scale (stage 2).

Every draw (mode, severity, pixels) is seeded by (seed, the source path), so a rebuild gives the same pool.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from augmenter.io import decode_image, write_image_atomic
from augmenter.quality.failures import FAILURE_MODES, fail
from augmenter.quality.ratings import assign_splits, ratings_csv_text
from augmenter.quality.simulated import degrade
from augmenter.atomic import write_text_atomic

REAL_RATING = (7.0, 1.0)
FAINT_SEVERITY = (0.1, 0.5)  # the severity range of PoolConfig.faint_geometry's extra seams and warps
GENERATOR_RATING = (2.5, 1.0)
RENDER_RATING = (3.5, 1.2)
HARD_RATING = (2.0, 1.0)
FAILURE_STD = 1.2
ARTIFACTS = ("blob", "checkerboard", "ghosting", "blur", "colour", "warp", "noise")
PERCEPTION: dict[str, tuple[float, float]] = {
    "shading_mask": (1.0, 0.6), "tint": (0.9, 0.6), "teeth_bar": (1.0, 0.5), "painted_irises": (0.9, 0.6),
    "tile_shuffle": (1.0, 0.4), "seam": (0.9, 0.6),
    "blob": (1.0, 0.6), "warp": (1.0, 0.7), "ghosting": (0.9, 0.8), "checkerboard": (0.85, 0.8),
    "colour": (0.8, 0.9), "noise": (0.75, 1.0), "blur": (0.8, 1.0),
}
"""Mode -> ``(w, g)``: the share of the scale it can take off, and the power of its severity curve."""


@dataclass
class PoolConfig:
    per_real: int = 2            # damaged variants per real face
    generator_share: float = 0.35  # share of the real faces also translated by the generator
    toned_share: float = 0.5     # share of the real faces also given a skin tone (and one failure of it)
    hard_share: float = 0.0      # share of the real faces translated by the hard generator (when given)
    reframe_share: float = 0.3   # share of the aligned real faces also cropped tighter/shifted (and one failure)
    framed_geometry_share: float = 0.5  # share of those framings whose failure is a warp or a seam
    faint_geometry: int = 0      # extra faint seams and warps per aligned real face (round 18; docstring of _real_rows)
    faint_std: float = FAILURE_STD  # their label's std: wide, the margin loss leaves them to the order term (round 19)
    faint_modes: tuple[str, ...] = ("seam", "warp")  # which modes faint_geometry adds (round 20: seams alone)
    seams_keep_padding: bool = False  # seams of photos leave the aligner's black padding black (round 21; pool_damage)
    size: int = 128
    seed: int = 0
    blur_curve: tuple[float, float] = PERCEPTION["blur"]  # blur's (w, g); rounds 1-7 used (0.7, 1.6)

    def curves(self) -> dict[str, tuple[float, float]]:
        """Every mode's ``(w, g)``: :data:`PERCEPTION` with this pool's blur curve."""
        return {**PERCEPTION, "blur": tuple(self.blur_curve)}


def failure_rating(mode: str, severity: float, curves: dict[str, tuple[float, float]] = PERCEPTION) -> float:
    """The simulated mean rating of a face with ``mode`` at ``severity`` (module docstring); ``curves``: each
    mode's ``(w, g)`` (:meth:`PoolConfig.curves`)."""
    w, g = curves[mode]
    return float(np.clip(REAL_RATING[0] - 5.8 * w * severity ** g, 1.0, 10.0))


def _rng(seed: int, *parts: object) -> np.random.Generator:
    digest = hashlib.sha256("\x1f".join(map(str, (seed, *parts))).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def toned(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A grey photo with a photographic skin tone: LAB chroma (a*, b*) about (+8..+18, +10..+24), strongest
    in the mid-tones, with a slight hue drift across the image; ``(H, W, 3)`` uint8 in and out."""
    import cv2

    lab = cv2.cvtColor(face, cv2.COLOR_RGB2LAB).astype(np.float32)
    light = lab[..., 0] / 255.0
    weight = np.clip(4 * light * (1 - light), 0, 1)
    h, w = light.shape
    drift = np.linspace(-1, 1, w, dtype=np.float32)[None, :] * rng.uniform(-3, 3)
    lab[..., 1] = 128 + (rng.uniform(8, 18) + drift) * weight
    lab[..., 2] = 128 + (rng.uniform(10, 24) + drift) * weight
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def reframed(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``face`` cropped tighter (zoom 1.05-1.4) at a random offset inside it and resized back: the framing
    of a detector box or a dataset's own crop rather than the aligned one; ``(H, W, 3)`` uint8 in and out."""
    import cv2

    h, w = face.shape[:2]
    zoom = rng.uniform(1.05, 1.4)
    ch, cw = int(round(h / zoom)), int(round(w / zoom))
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return cv2.resize(face[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_AREA)


def damage(face: np.ndarray, mode: str, severity: float, rng: np.random.Generator) -> np.ndarray:
    """``face`` with the failure mode or artifact ``mode`` (any of :data:`FAILURE_MODES` + :data:`ARTIFACTS`)."""
    return fail(face, mode, severity, rng) if mode in FAILURE_MODES else degrade(face, mode, severity, rng)


def padding_mask(face: np.ndarray, darkest: int = 2, least_share: float = 0.005) -> np.ndarray:
    """``(H, W)`` bool: the aligner's black padding of ``(H, W, 3)`` uint8 ``face`` — pixels no brighter than
    ``darkest`` in every channel, in a connected region that touches the crop's border and covers at least
    ``least_share`` of it (a crop reaching past the photo is filled black by the alignment)."""
    import cv2

    count, labels = cv2.connectedComponents((face.max(-1) <= darkest).astype(np.uint8), connectivity=4)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    sizes = np.bincount(labels.ravel(), minlength=count)
    keep = [k for k in border if k != 0 and sizes[k] >= least_share * labels.size]
    return np.isin(labels, keep)


def pool_damage(face: np.ndarray, mode: str, severity: float, rng: np.random.Generator,
                seams_keep_padding: bool = False) -> np.ndarray:
    """:func:`damage`, where with ``seams_keep_padding`` a seam leaves the face's black padding
    (:func:`padding_mask`) black.

    Why (round 21): a seam brightens or darkens a whole side of the crop, padding included, so in the pool a
    faint seam of an aligned Yale B crop (a small face set in black) reads as a grey rectangle meeting black
    along a straight line. That is also what an untouched Yale B crop looks like where the photo's own dark
    background meets the padding, and rounds 18-20, which added faint seams, rejected up to half of the
    held-out Yale B photos lit within 35°. Measured (docs/quality.md, round 21): it is not that edge; with the
    padding kept black Q catches fewer faint seams and passes still fewer Yale B photos, so it stays off."""
    out = damage(face, mode, severity, rng)
    if mode == "seam" and seams_keep_padding:
        pad = padding_mask(face)
        out[pad] = face[pad]
    return out


def build_pool(reals: list[Path], renders: list[Path], out: Path, config: PoolConfig = PoolConfig(),
               generator: str | None = "demo", log=print, hard_generator=None, unaligned: list[Path] = ()) -> Path:
    """Write the pool's images under ``out/images`` and its ratings table ``out/ratings.csv``; returns the CSV.

    ``reals`` are aligned crops (any size; resized to ``config.size``), ``renders`` rendered faces,
    ``unaligned`` real photos as a dataset ships them (resized to ``config.size`` whole).
    Images already written are kept (a rerun only writes what is missing).
    """
    out.mkdir(parents=True, exist_ok=True)
    modes = FAILURE_MODES + ARTIFACTS
    rows = []
    to_translate: list[tuple[np.ndarray, Path]] = []
    hard = [hard_generator] if isinstance(hard_generator, (str, os.PathLike)) else list(hard_generator or [])
    to_harden: list[list[tuple[np.ndarray, Path]]] = [[] for _ in hard]
    for i, path in enumerate(reals):
        rows += _real_rows(_Face(path, config.size), out, config, modes, to_translate, to_harden)
        if (i + 1) % 1000 == 0:
            log(f"pool: {i + 1}/{len(reals)} real faces")
    _translate(to_translate, generator, config, log)
    for items, generator_path in zip(to_harden, hard):
        _translate(items, str(generator_path), config, log)
    for path in renders:
        rows += _render_rows(path, out, config, modes)
    for path in unaligned:
        face = _Face(path, config.size)
        key = photo_key(path)  # the aligned crop of this photo has the same key: same group
        rows += _framed_rows(face, key, "unaligned", lambda f: f, out, config, modes)
    table = assign_splits(pd.DataFrame(rows), seed=config.seed, group_col="group", fractions=(0.9, 0.1, 0.0))
    csv_path = out / "ratings.csv"
    write_text_atomic(csv_path, ratings_csv_text(table, out))
    return csv_path


class _Face:
    """A real face, decoded and resized to ``(size, size, 3)`` uint8 on first use only, so a rerun
    that finds every image written decodes nothing."""

    def __init__(self, path: Path, size: int):
        self.path, self.size = path, size
        self._pixels: np.ndarray | None = None

    def pixels(self) -> np.ndarray:
        """The resized face, ``(size, size, 3)`` uint8."""
        if self._pixels is None:
            from augmenter.tensors import fit_face as resize_square

            self._pixels = resize_square(decode_image(self.path), self.size)
        return self._pixels

    def write(self, target: Path, make) -> None:
        """Write ``make(face)`` to ``target`` unless it is already there."""
        if not target.is_file():
            write_image_atomic(target, make(self.pixels()))


def photo_key(path: str | os.PathLike) -> str:
    """The last three parts of a real photo's path: seeds its draws, stable when the work folder moves."""
    return "/".join(Path(path).parts[-3:])


def photo_group(path: str | os.PathLike) -> str:
    """The pool ``group`` of every row made of the real photo at ``path`` (its clean copy, failures, toned
    and re-framed copies, translations)."""
    return _group_of(photo_key(path))


def _group_of(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def _row(path: Path, mean: float, std: float, source: str, group: str, severity: float) -> dict:
    """One row of the pool's ratings table (split still unknown)."""
    return {"path": str(path), "mean": mean, "std": std, "source": source, "split": "unknown", "group": group,
            "severity": severity}


def _draw_failure(rng: np.random.Generator, modes: tuple[str, ...]) -> tuple[str, float]:
    """A failure mode of ``modes`` and its severity in [0.1, 1), drawn from ``rng`` in that order."""
    mode = modes[int(rng.integers(len(modes)))]
    return mode, float(rng.uniform(0.1, 1.0))


def _real_rows(face: _Face, out: Path, config: PoolConfig, modes: tuple[str, ...],
               to_translate: list[tuple[np.ndarray, Path]], to_harden: list[list[tuple[np.ndarray, Path]]]
               ) -> list[dict]:
    """The rows of one real face: the clean photo, its damaged variants and (drawn per face) a toned
    copy; the faces still to translate by the generator and the hard generators are queued.

    With ``config.faint_geometry`` = k, k more seams and k more warps of the face (``config.faint_modes``) at a
    severity drawn from :data:`FAINT_SEVERITY` join (folders ``faint_seam``, ``faint_warp``; rated as their mode,
    with std ``config.faint_std``): the two modes a Q missed most at severity 0.3 (round 16: 86% and 72% caught), each
    only 1 in 13 of the uniform draws. Round 18 (std 1.2) pulled clean aligned photos down with them (43% of
    held-out FER-2013 photos at 0.6, from 80%); a wide std leaves their absolute score free and keeps only
    the within-photo order term's "below your own photo" (round 19)."""
    key = photo_key(face.path)
    group = _group_of(key)
    clean = out / "images" / "real" / f"{group}.png"
    face.write(clean, lambda f: f)
    rows = [_row(clean, REAL_RATING[0], REAL_RATING[1], "real", group, 0.0)]
    for k in range(config.per_real):
        rng = _rng(config.seed, key, k)
        mode, severity = _draw_failure(rng, modes)
        rows.append(_damaged_row(face, out / "images" / mode / f"{group}_{k}.png", mode, severity, rng, FAILURE_STD,
                                 group, config))
    for k in range(config.faint_geometry):
        for mode in config.faint_modes:
            rng = _rng(config.seed, key, "faint", mode, k)
            rows.append(_damaged_row(face, out / "images" / f"faint_{mode}" / f"{group}_{k}.png", mode,
                                     float(rng.uniform(*FAINT_SEVERITY)), rng, config.faint_std, group, config))
    if _rng(config.seed, key, "toned").random() < config.toned_share:
        rows += _toned_rows(face, key, group, out, config, modes)
    if _rng(config.seed, key, "reframe").random() < config.reframe_share:
        crop = lambda f: reframed(f, _rng(config.seed, key, "reframe-crop"))  # noqa: E731  (the same crop every call)
        rows += _framed_rows(face, key, "reframed", crop, out, config, modes)
    for j, queue in enumerate(to_harden):
        if _rng(config.seed, key, "hard", j).random() >= config.hard_share:
            continue
        name = "hard" if j == 0 else f"hard{j + 1}"  # the first round's folder keeps its name
        rows.append(_queued_row(face, out / "images" / name / f"{group}.png", queue, HARD_RATING, name, group))
    if _rng(config.seed, key, "generator").random() < config.generator_share:
        rows.append(_queued_row(face, out / "images" / "generator" / f"{group}.png", to_translate,
                                GENERATOR_RATING, "generator", group))
    return rows


def _damaged_row(face: _Face, target: Path, mode: str, severity: float, rng: np.random.Generator, std: float,
                 group: str, config: PoolConfig) -> dict:
    """The row of ``face`` with ``mode`` at ``severity`` (drawn on from ``rng``), written to ``target`` when missing
    and rated by the mode's curve."""
    face.write(target, lambda f: pool_damage(f, mode, severity, rng, config.seams_keep_padding))
    return _row(target, round(failure_rating(mode, severity, config.curves()), 3), std, mode, group, round(severity, 3))


def _toned_rows(face: _Face, key: str, group: str, out: Path, config: PoolConfig, modes: tuple[str, ...]) -> list[dict]:
    """The rows of a real face's toned copy and of one failure of that copy (images written when missing)."""
    rng = _rng(config.seed, key, "toned-pixels")
    tone_seed = int(rng.integers(2**31))
    colour = lambda f: toned(f, np.random.default_rng(tone_seed))  # noqa: E731
    return _photo_and_failure_rows(face, colour, "toned", group, rng, out, modes, config)


def _framed_rows(face: _Face, key: str, source: str, frame, out: Path, config: PoolConfig, modes: tuple[str, ...]
                 ) -> list[dict]:
    """The rows of ``frame(face)`` (a real photo framed otherwise) and of one failure of it, in the group of
    the aligned photo of the same key, so a split never puts a photo on both sides.

    With ``config.framed_geometry_share`` the failure is a warp or a seam: a Q shown faces a little larger or
    shifted as real learned to pass smooth warps too (round 4: 62% of severe warps caught, 80% before)."""
    group = _group_of(key)
    if _rng(config.seed, key, source, "geometry").random() < config.framed_geometry_share:
        modes = ("warp", "seam")
    return _photo_and_failure_rows(face, frame, source, group, _rng(config.seed, key, source, "failure"), out,
                                   modes, config)


def _photo_and_failure_rows(face: _Face, make, source: str, group: str, rng: np.random.Generator, out: Path,
                            modes: tuple[str, ...], config: PoolConfig) -> list[dict]:
    """``make(face)``, still a real photo (rated as one), and one failure of it drawn from ``rng``: their rows,
    the images written under ``source`` and ``source_<mode>`` when missing."""
    target = out / "images" / source / f"{group}.png"
    face.write(target, make)
    rows = [_row(target, REAL_RATING[0], REAL_RATING[1], source, group, 0.0)]
    mode, severity = _draw_failure(rng, modes)
    target = out / "images" / f"{source}_{mode}" / f"{group}.png"
    face.write(target, lambda f: pool_damage(make(f), mode, severity, rng, config.seams_keep_padding))
    rating = round(failure_rating(mode, severity, config.curves()), 3)
    rows.append(_row(target, rating, FAILURE_STD, f"{source}_{mode}", group, round(severity, 3)))
    return rows


def _queued_row(face: _Face, target: Path, queue: list[tuple[np.ndarray, Path]], rating: tuple[float, float],
                source: str, group: str) -> dict:
    """The row of a generator output at ``target``; the face joins ``queue`` when the image is missing."""
    if not target.is_file():
        queue.append((face.pixels(), target))
    return _row(target, rating[0], rating[1], source, group, 1.0)


def _render_rows(path: Path, out: Path, config: PoolConfig, modes: tuple[str, ...]) -> list[dict]:
    """The rows of one rendered face and of one failure of it (images written when missing)."""
    from augmenter.tensors import fit_face as resize_square

    key = photo_key(path)
    group = "render-" + _group_of(key)
    target = out / "images" / "render" / f"{group}.png"
    if not target.is_file():
        write_image_atomic(target, resize_square(decode_image(path), config.size))
    rows = [_row(target, RENDER_RATING[0], RENDER_RATING[1], "render", group, 1.0)]
    rng = _rng(config.seed, key, "render-failure")
    mode, severity = _draw_failure(rng, modes)
    target = out / "images" / f"render_{mode}" / f"{group}.png"
    if not target.is_file():
        write_image_atomic(target, damage(resize_square(decode_image(path), config.size), mode, severity, rng))
    w, g = config.curves()[mode]
    rows.append(_row(target, round(max(1.0, RENDER_RATING[0] - 2.5 * w * severity ** g), 3), RENDER_RATING[1],
                     f"render_{mode}", group, round(severity, 3)))
    return rows


@torch.inference_mode()
def _translate(items: list[tuple[np.ndarray, Path]], generator: str | None, config: PoolConfig, log) -> None:
    """Each face translated to a target drawn per image (joint lighting + expression), written at pool size."""
    if not items:
        return
    from augmenter.gan.models import load_translator, one_hot
    from augmenter.tensors import fit_face as resize_square, to_model_input, to_uint8_images

    translator = load_translator(generator, "cpu")
    size = translator.image_size
    log(f"pool: translating {len(items)} faces with {translator.path.name}")
    for start in range(0, len(items), 64):
        chunk = items[start:start + 64]
        batch = to_model_input(torch.from_numpy(np.stack([resize_square(f, size) for f, _ in chunk])).permute(0, 3, 1, 2))
        rng = _rng(config.seed, "targets", start)
        tl = torch.from_numpy(rng.integers(len(translator.lighting), size=len(chunk)))
        te = torch.from_numpy(rng.integers(len(translator.expression), size=len(chunk)))
        outs = translator.generator(batch, one_hot(tl, len(translator.lighting)), one_hot(te, len(translator.expression)))
        for pixels, (_, target) in zip(to_uint8_images(outs), chunk):
            write_image_atomic(target, resize_square(pixels, config.size))
