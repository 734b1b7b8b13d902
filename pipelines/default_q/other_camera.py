"""The default Q on real photos from a camera outside its pool: ``python -m pipelines.default_q.other_camera
[FOLDER [GLOB]] [--failures]`` (default: ``build/dq10/aligned/human``, ``FFHQ_*.jpg``: the human study's 75 real photos, aligned
at 128 px by :mod:`pipelines.default_q.heldout`).

Every real photo in Q's pool is FER-2013 (48 px, upscaled) or Yale B (one lab). This scores other photos as they
come (colour), as grey photos (their luma) and the grey ones through 96 / 64 / 48 px, and prints each set's median
q_score and share at 0.6: a natural grey photo is natural at any size, so a judge of naturalness should score the
grey sets alike (docs/quality.md, "Real photos from a camera outside the pool").

With ``--failures`` it also runs the failure test of ``augment measure-default-q`` on these photos (every failure
mode at severity 0.3 / 0.6 / 1.0, the share scoring below its own photo) with Q and the built-in tear check, as
shipped and without its rule for colour photos (``hue_start`` off): the rule's thresholds were set on the study's
GAN faces, so its FFHQ photos judge it (docs/quality.md, "Colour photos: colour the photo does not have").
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from augmenter.tensors import load_face

SIDES = (96, 64, 48)  # FER-2013 ships 48 px faces


def as_grey(faces: np.ndarray) -> np.ndarray:
    """uint8 ``(N, S, S, 3)`` RGB -> the same shape, each pixel its BT.601 luma in all three channels."""
    luma = (faces.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round().astype(np.uint8)
    return np.repeat(luma[..., None], 3, -1)


def through(faces: np.ndarray, side: int) -> np.ndarray:
    """uint8 ``(N, S, S, 3)`` shrunk to ``side`` px (area) and grown back to ``S`` (bilinear), as a small source
    photo aligned to ``S`` px looks."""
    size = faces.shape[1]
    return np.stack([cv2.resize(cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA), (size, size),
                                interpolation=cv2.INTER_LINEAR) for f in faces])


def other_camera_figures(score, faces: np.ndarray, q_min: float = 0.6) -> dict[str, dict[str, float]]:
    """``score``: uint8 faces ``(N, S, S, 3)`` -> q_scores ``(N,)`` (e.g. ``FaceAugmenter.score``). Per set (colour,
    grey, grey via each of :data:`SIDES` px) the median q_score and the share at ``q_min`` or more."""
    grey = as_grey(faces)
    sets = {"colour": faces, "grey": grey, **{f"grey via {s} px": through(grey, s) for s in SIDES}}
    figures = {}
    for name, images in sets.items():
        q = np.asarray(score(images), dtype=np.float64)
        figures[name] = {"median": float(np.median(q)), "share_at_q_min": float(np.mean(q >= q_min))}
    return figures


def failure_figures(paths: list[Path], faces: np.ndarray) -> dict[str, dict[str, float]]:
    """Per ``mode@severity``: the share of ``faces``' damaged copies scoring below their own photo with the default Q
    and the built-in tear check as shipped (``"check"``) and without its colour-photo rule (``"check without
    hue"``)."""
    from dataclasses import replace

    from augmenter.quality.model import load_q
    from augmenter.quality.tear_check import load_tear_check
    from pipelines.default_q.measure import _failure_test, q_scores

    net, _ = load_q(None, "cpu")
    check, _ = load_tear_check(None)
    clean, names, shares = q_scores(net, faces), [p.name for p in paths], {}
    for name, rules in (("check", check.rules), ("check without hue", replace(check.rules, hue_start=None))):
        check.rules = rules
        shares[name] = {cell: r["below_source"] for cell, r in _failure_test(net, faces, clean, names, 0, check)[1].items()}
    return {cell: {name: shares[name][cell] for name in shares} for cell in shares["check"]}


def main(argv: list[str]) -> None:
    from augmenter.api import FaceAugmenter

    failures = "--failures" in argv
    argv = [a for a in argv if a != "--failures"]
    folder = Path(argv[0]) if argv else Path("build/dq10/aligned/human")
    paths = sorted(folder.glob(argv[1] if len(argv) > 1 else "FFHQ_*.jpg"))
    if not paths:
        raise SystemExit(f"{folder}: no photos (python -m pipelines.default_q.heldout build/dq10 aligns them)")
    faces = np.stack([load_face(p, 128) for p in paths])
    print(f"{len(paths)} photos from {folder}")
    for name, f in other_camera_figures(FaceAugmenter.load().score, faces).items():
        print(f"{name:16s} median {f['median']:.3f}  at 0.6 {100 * f['share_at_q_min']:.0f}%")
    if failures:
        cells = failure_figures(paths, faces)
        print("below their own photo, Q + check without its colour-photo rule -> as shipped (cells under 95%: "
              f"{sum(c['check without hue'] < 0.95 for c in cells.values())} -> "
              f"{sum(c['check'] < 0.95 for c in cells.values())} of {len(cells)})")
        for cell, c in cells.items():
            if min(c.values()) < 0.95:
                print(f"  {cell:20s} {100 * c['check without hue']:5.1f} -> {100 * c['check']:5.1f}%")


if __name__ == "__main__":
    main(sys.argv[1:])
