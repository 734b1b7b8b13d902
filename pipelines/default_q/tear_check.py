"""Train the built-in tear check (:mod:`augmenter.nets.tear_check`) from a default-Q pool.

Data. Whole pairs (label 0): natural photos of the pool's train split (FER-2013 train and Extended Yale B
training subjects, aligned, as shipped, reframed and re-toned; renders) each beside one variant of the default
field generator (a random light in a random relight style, a random expression, both, or nothing), the
variant sometimes resampled through 64 px or JPEG-compressed, as a generator of another size or a saved file
makes it. Torn pairs (label 1): the same photo beside the same variant with a seam (severity 0.05-1) or, one
time in five, swapped tiles (:func:`augmenter.quality.failures.fail`). A seam on top of a relight is torn;
the relight's own shadow line (the photo style draws a straight terminator down the nose) is not, which is
what a hand-made statistic could not tell apart.

Training: binary cross-entropy, Adam 1e-3 (3e-4 for the last 30%), batches of 32 whole and 32 torn pairs, both
images flipped together half the time, an EMA of the weights (0.999) saved and used. Every draw comes from
``(seed, step)``, so an interrupted run resumed from its checkpoint (written every 250 steps) continues
exactly. 5% of the photos are held out and their pairs reported at the end.

The checkpoint's config also carries the default :class:`~augmenter.quality.source_rules.SourceRules`, so the check
it makes charges softened variants and colour on grey photos as the built-in one does.

Usage: ``augment-train-tear-check --pool build/default_q/pool --out augmenter/assets/tear_check.pt`` (the pool of
``augment-train-default-q``'s work folder; about 30 CPU minutes at the defaults).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch import nn

NATURAL = ("real", "unaligned", "reframed", "toned", "render")
SIZE = 128
STYLES = ("photo", "photo-deep", "lab")


def natural_photos(pool: Path, n: int, seed: int) -> list[Path]:
    """``n`` natural photos of ``pool``'s train split, drawn with ``seed``."""
    rows = pd.read_csv(pool / "ratings.csv")
    rows = rows[(rows["split"] == "train") & rows["source"].isin(NATURAL)]
    order = np.random.default_rng(seed).permutation(len(rows))[:n]
    return [pool / p for p in rows["image"].iloc[np.sort(order)]]


@torch.inference_mode()
def generator_variants(faces: np.ndarray, seed: int, log=print) -> np.ndarray:
    """One variant of each ``(N, S, S, 3)`` uint8 face by the default field generator: a random relight style,
    a light (3 in 4), an expression (1 in 2); a face drawn neither comes back as the generator returns it."""
    from augmenter.gan.models import load_translator, one_hot
    from augmenter.tensors import faces_to_input, to_uint8_images

    rng = np.random.default_rng([seed, 1])
    styles = rng.integers(len(STYLES), size=len(faces))
    out = np.empty_like(faces)
    for k, style in enumerate(STYLES):
        t = load_translator(None, "cpu", relight_style=style)
        t.image_size = faces.shape[1]
        idx = np.flatnonzero(styles == k)
        for i in range(0, len(idx), 64):
            chunk = idx[i:i + 64]
            light = np.where(rng.random(len(chunk)) < 0.75, rng.integers(len(t.lighting), size=len(chunk)), -1)
            expr = np.where(rng.random(len(chunk)) < 0.5, rng.integers(len(t.expression), size=len(chunk)), -1)
            x = faces_to_input(faces[chunk])
            y = t.generator(x, one_hot(torch.from_numpy(light), len(t.lighting)),
                            one_hot(torch.from_numpy(expr), len(t.expression)))
            out[chunk] = to_uint8_images(y)
        log(f"variants in the {style} style: {len(idx)}")
    return out


def _resaved(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``image`` as a generator of another size or a saved file gives it back, half the time unchanged."""
    r, size = rng.random(), image.shape[0]
    if r < 0.25:
        small = cv2.resize(image, (size // 2, size // 2), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    if r < 0.5:
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 96))])
        return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED).reshape(image.shape)
    return image


def torn(variant: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``variant`` with a seam (4 in 5; severity 0.05-1) or swapped tiles."""
    from augmenter.quality.failures import fail

    mode = "seam" if rng.random() < 0.8 else "tile_shuffle"
    return fail(variant, mode, float(rng.uniform(0.05, 1.0)), rng)


def batch_pairs(sources: np.ndarray, variants: np.ndarray, rng: np.random.Generator, n: int):
    """``n`` whole and ``n`` torn pairs: ``(source, variant, label)`` tensors, images in [-1, 1]."""
    from augmenter.tensors import faces_to_input

    idx = rng.integers(len(sources), size=n)
    src, var = sources[idx].copy(), variants[idx].copy()
    keep_source = rng.random(n) < 0.2  # the photo itself beside itself is whole too
    var[keep_source] = src[keep_source]
    flip = rng.random(n) < 0.5
    src[flip], var[flip] = src[flip, :, ::-1], var[flip, :, ::-1]
    whole = np.stack([_resaved(v, rng) for v in var])
    broken = np.stack([_resaved(torn(np.ascontiguousarray(v), rng), rng) for v in var])
    labels = torch.cat([torch.zeros(n), torch.ones(n)])
    return faces_to_input(np.concatenate([src, src])), faces_to_input(np.concatenate([whole, broken])), labels


def train(sources: np.ndarray, variants: np.ndarray, out: Path, steps: int, seed: int = 0, batch: int = 32,
          config=None, log=print) -> Path:
    """Train (or resume) the check at ``out`` for ``steps`` steps (module docstring) on ``(N, S, S, 3)`` uint8
    photos and their variants; ``config``: a :class:`~augmenter.nets.tear_check.TearCheckConfig` (default:
    128 px, width 16)."""
    from augmenter.checkpoint import load_checkpoint, save_checkpoint
    from augmenter.nets.tear_check import TearCheck, TearCheckConfig
    from augmenter.quality.tear_check import tear_check_config

    torch.manual_seed(seed)
    config = config or TearCheckConfig(image_size=SIZE)
    net = TearCheck(config)
    ema = copy.deepcopy(net)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    start = 0
    if out.is_file():
        ckpt = load_checkpoint(out, kind="tear_check")
        net.load_state_dict(ckpt.model)
        ema.load_state_dict(ckpt.ema)
        opt.load_state_dict(ckpt.optimizer)
        start = ckpt.step
        log(f"resumed at step {start}")
    recipe = {"steps": steps, "seed": seed, "batch": batch, "photos": len(sources), "lr": [1e-3, 3e-4], "ema": 0.999}

    def save(step: int) -> None:
        save_checkpoint(out, kind="tear_check", model=net.state_dict(), ema=ema.state_dict(),
                        optimizer=opt.state_dict(), step=step, config={**tear_check_config(config), "train": recipe},
                        extra={"provenance": f"pipelines.default_q.tear_check: {len(sources)} pool photos and the "
                                             f"default generator's variants of them, {step} steps"})

    for step in range(start, steps):
        for group in opt.param_groups:
            group["lr"] = 1e-3 if step < 0.7 * steps else 3e-4
        src, var, labels = batch_pairs(sources, variants, np.random.default_rng([seed, step]), batch)
        loss = nn.functional.binary_cross_entropy_with_logits(net(src, var), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for e, p in zip(ema.parameters(), net.parameters()):
                e.lerp_(p, 0.001)
        if (step + 1) % 250 == 0 or step + 1 == steps:
            save(step + 1)
            log(f"step {step + 1}: loss {loss.item():.3f}")
    return out


def held_out_report(check, sources: np.ndarray, variants: np.ndarray, seed: int) -> dict:
    """Share of held-out whole pairs the check flags (p > 0.5) and of seams it finds, per severity."""
    from augmenter.quality.failures import fail
    from augmenter.quality.tear_check import tear_probability
    from augmenter.tensors import faces_to_input

    rng = np.random.default_rng([seed, 2])
    x = faces_to_input(sources)
    flagged = lambda v: float((tear_probability(check, x, faces_to_input(v)) > 0.5).float().mean())  # noqa: E731
    report = {"n": len(sources), "flagged_photo": flagged(sources), "flagged_variant": flagged(variants)}
    for severity in (0.1, 0.3, 0.6):
        seamed = np.stack([fail(v, "seam", severity, rng) for v in variants])
        report[f"found_seam_{severity}"] = flagged(seamed)
    return report


def build_tear_check(pool: Path, out: Path, photos: int = 6000, steps: int = 3000, seed: int = 0, log=print) -> dict:
    """Train the check at ``out`` from the default-Q pool ``pool`` (module docstring) and report it on the held-out
    5% of the photos (also written beside ``out`` as JSON). The photos and their variants are cached beside ``out``
    (``.pairs.npz``), so a rerun after an interruption resumes training without redrawing them."""
    from augmenter.quality.tear_check import load_tear_check
    from augmenter.tensors import load_face

    pairs = out.with_suffix(".pairs.npz")
    if pairs.is_file():
        data = np.load(pairs)
        faces, variants = data["faces"], data["variants"]
    else:
        faces = np.stack([load_face(p, SIZE) for p in natural_photos(pool, photos, seed)])
        variants = generator_variants(faces, seed, log)
        np.savez(pairs, faces=faces, variants=variants)
    held = np.random.default_rng([seed, 3]).random(len(faces)) < 0.05
    train(faces[~held], variants[~held], out, steps, seed, log=log)
    check, _ = load_tear_check(out)
    report = held_out_report(check, faces[held], variants[held], seed)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    return report

