"""The default Q on real photos from a camera outside its pool: ``python -m pipelines.default_q.other_camera
[FOLDER [GLOB]] [--failures] [--picture OUT [--rule hue|hue_upper|grain]]`` (default: ``build/dq10/aligned/human``,
``FFHQ_*.jpg``: the human study's 75 real photos, aligned at 128 px by :mod:`pipelines.default_q.heldout`).

Every real photo in Q's pool is FER-2013 (48 px, upscaled) or Yale B (one lab). This scores other photos as they
come (colour), as grey photos (their luma) and the grey ones through 96 / 64 / 48 px, and prints each set's median
q_score and share at 0.6: a natural grey photo is natural at any size, so a judge of naturalness should score the
grey sets alike (docs/quality.md, "Real photos from a camera outside the pool").

With ``--failures`` it also runs the failure test of ``augment measure-default-q`` on these photos (every failure
mode at severity 0.3 / 0.6 / 1.0, the share scoring below its own photo) with Q and the built-in tear check, as
shipped and without each rule added for colour photos (colour the photo does not have, grain or a pattern it does
not have; ``hue_start`` / ``grain_start`` off): their thresholds were set on other faces (the study's GAN faces,
FER-2013 train and Yale B), so its FFHQ photos judge them (docs/quality.md, "Colour photos: colour the photo does
not have", "Grain or a pattern the photo does not have").
``--picture OUT`` draws six of the photos beside their faint damage and the default generator's variants, each
scored without and with the rule ``--rule`` names (default ``hue``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

from augmenter.identity import LUMA_601
from augmenter.tensors import load_face

SIDES = (96, 64, 48)  # FER-2013 ships 48 px faces


def as_grey(faces: np.ndarray) -> np.ndarray:
    """uint8 ``(N, S, S, 3)`` RGB -> the same shape, each pixel its BT.601 luma in all three channels."""
    luma = (faces.astype(np.float32) @ np.asarray(LUMA_601, np.float32)).round().astype(np.uint8)
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


LATER_RULES = ("hue", "hue_upper", "grain")  # the rules set for colour photos: each is also measured switched off


def failure_figures(paths: list[Path], faces: np.ndarray) -> dict[str, dict[str, float]]:
    """Per ``mode@severity``: the share of ``faces``' damaged copies scoring below their own photo with the default Q
    and the built-in tear check as shipped (``"check"``), without each of :data:`LATER_RULES` (``"without hue"``:
    colour the photo does not have, both parts; ``"without hue_upper"``: its part above the nose tip;
    ``"without grain"``: grain or a pattern it does not have) and without any (``"without any"``)."""
    from dataclasses import replace

    from augmenter.quality.model import load_q
    from augmenter.quality.tear_check import load_tear_check
    from pipelines.default_q.measure import against_sources, damaged_cells, q_scores, tear_penalised

    net, _ = load_q(None, "cpu")
    check, _ = load_tear_check(None)
    clean = q_scores(net, faces)
    off = {f"without {rule}": replace(check.rules, **{f"{rule}_start": None}) for rule in LATER_RULES}
    off["without any"] = replace(check.rules, **{f"{rule}_start": None for rule in LATER_RULES})
    judges, cells = {"check": check.rules, **off}, {}
    for cell, damaged, q in damaged_cells(net, faces, [p.name for p in paths], 0):  # Q once per cell, judged 5 ways
        cells[cell] = {}
        for name, rules in judges.items():
            check.rules = rules
            cells[cell][name] = against_sources(clean, tear_penalised(check, q, faces, damaged, clean))["below_source"]
    return cells


PICTURE_DAMAGE = {"hue": (("shading_mask", 0.3), ("shading_mask", 0.6), ("tint", 0.3), ("colour", 0.3)),
                  "hue_upper": (("shading_mask", 0.3), ("tint", 0.3), ("tint", 0.6), ("colour", 0.3)),
                  "grain": (("noise", 0.3), ("checkerboard", 0.3), ("checkerboard", 0.6), ("ghosting", 0.3))}


def rule_picture(faces: np.ndarray, out: str | Path, rule: str = "hue", rows: int = 6, seed: int = 0) -> None:
    """A sheet of ``rows`` of ``faces`` (seeded pick): the photo, the faint damage of :data:`PICTURE_DAMAGE`
    ``[rule]``, the default generator's relight and surprise edit; under each its score with Q + the check without
    ``rule`` (one of :data:`LATER_RULES`) -> with it; a damaged face's label is green when it scores below its
    photo, red when not."""
    from dataclasses import replace

    from PIL import Image, ImageDraw

    from augmenter.api import FaceAugmenter
    from pipelines.default_q.measure import _rng
    from pipelines.default_q.pool import damage

    pick = faces[np.sort(np.random.default_rng(seed).choice(len(faces), rows, replace=False))]
    aug = FaceAugmenter.load()
    cols = [("photo", pick, False)]
    cols += [(f"{mode} {sev}", np.stack([damage(f, mode, sev, _rng(seed, str(i), mode)) for i, f in enumerate(pick)]),
              True) for mode, sev in PICTURE_DAMAGE[rule]]
    cols += [("relit az-070", aug.relight(pick, "az-070_el+00"), False),
             ("surprise", aug.change_expression(pick, "surprise"), False)]
    rules = aug.tear_check.rules
    photo_q = aug.score(pick)
    t, label = pick.shape[1], 14
    sheet = Image.new("RGB", (len(cols) * t, label + rows * (t + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, (name, images, damaged) in enumerate(cols):
        draw.text((c * t + 2, 1), name, fill="black")
        aug.tear_check.rules = replace(rules, **{f"{rule}_start": None})
        before = aug.score(images, sources=pick) if c else photo_q
        aug.tear_check.rules = rules
        after = aug.score(images, sources=pick) if c else photo_q
        for r in range(rows):
            y = label + r * (t + label)
            sheet.paste(Image.fromarray(images[r]), (c * t, y))
            text = f"{before[r]:.2f} -> {after[r]:.2f}" if c else f"photo {photo_q[r]:.2f}"
            colour = ((0, 140, 0) if after[r] < photo_q[r] else (200, 0, 0)) if damaged else (60, 60, 60)
            draw.text((c * t + 2, y + t), text, fill=colour)
    sheet.save(out)


def main(argv: list[str]) -> None:
    from augmenter.api import FaceAugmenter

    failures = "--failures" in argv
    picture = argv[argv.index("--picture") + 1] if "--picture" in argv else None
    rule = argv[argv.index("--rule") + 1] if "--rule" in argv else "hue"
    if rule not in LATER_RULES:
        raise SystemExit(f"--rule {rule}: not one of {', '.join(LATER_RULES)}")
    valued = ("--picture", "--rule")
    argv = [a for i, a in enumerate(argv) if a not in ("--failures", *valued) and (i == 0 or argv[i - 1] not in valued)]
    folder = Path(argv[0]) if argv else Path("build/dq10/aligned/human")
    paths = sorted(folder.glob(argv[1] if len(argv) > 1 else "FFHQ_*.jpg"))
    if not paths:
        raise SystemExit(f"{folder}: no photos (python -m pipelines.default_q.heldout build/dq10 aligns them)")
    faces = np.stack([load_face(p, 128) for p in paths])
    print(f"{len(paths)} photos from {folder}")
    for name, f in other_camera_figures(FaceAugmenter.load().score, faces).items():
        print(f"{name:16s} median {f['median']:.3f}  at 0.6 {100 * f['share_at_q_min']:.0f}%")
    if picture:
        rule_picture(faces, picture, rule)
        print(f"{picture}: written")
    if failures:
        cells = failure_figures(paths, faces)
        columns = list(next(iter(cells.values())))
        print("below their own photo with Q + check, cells under 95% of", len(cells), "| "
              + " | ".join(f"{name}: {sum(c[name] < 0.95 for c in cells.values())}" for name in columns))
        for cell, c in cells.items():
            if min(c.values()) < 0.95:
                print(f"  {cell:20s} " + "  ".join(f"{name} {100 * c[name]:5.1f}%" for name in columns))


if __name__ == "__main__":
    main(sys.argv[1:])
