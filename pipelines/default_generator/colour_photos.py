"""The default generator on colour photos: ``python -m pipelines.default_generator.colour_photos [FOLDER [OUT]]``
(default: ``build/dq10/aligned/human``, the human study's 150 faces aligned at 128 px by
:mod:`pipelines.default_q.heldout`, and ``docs/fields_generator_colour_photos.png``).

Every other measurement of the generator is on grey photos. This one edits the study's faces (75 FFHQ photos, 75
GAN faces; no model here trains on them) to the expressions whose renderer mouth is pasted (surprise, disgust,
fear) with the new content grey (``FieldsConfig.content_in_skin_hue`` off, as before 2026-12-07) and in the face's
own hue (on, the default), and prints for each how far the luma moved and the share passing the default Q with the
tear check at 0.6 (Q's stage 2 was fitted to these faces' human ratings, not to any variant of them: a check, not
a held-out figure). It then draws 8 FFHQ photos (seeded): photo; surprise with grey content; surprise, disgust and
fear now; happy (a warp, no new content); relit from az-070.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from augmenter.identity import LUMA_601

PASTED = ("surprise", "disgust", "fear")  # the expressions with a renderer mouth (happy is a warp alone)
_LUMA = np.asarray(LUMA_601, np.float32)


def with_grey_content(aug):
    """A copy of a :class:`~augmenter.api.FaceAugmenter` on the built-in field generator whose new content is grey
    (``content_in_skin_hue`` off): the generator as it was before 2026-12-07."""
    from pipelines.default_generator.measure import with_generator_copy

    grey = with_generator_copy(aug)
    grey.translator.generator.config = replace(grey.translator.generator.config, content_in_skin_hue=False)
    return grey


def colour_figures(aug, faces: np.ndarray, q_min: float = 0.6) -> dict[str, dict]:
    """Per expression of :data:`PASTED`: the largest luma change between grey and hued content (grey levels) and,
    for each, the share of ``faces``' edits scoring ``q_min`` or more with Q and the tear check, and the median."""
    before = with_grey_content(aug)
    figures = {}
    for expression in PASTED:
        grey, hued = before.change_expression(faces, expression), aug.change_expression(faces, expression)
        row = {"luma_moved_max": float(np.abs(grey.astype(np.float32) @ _LUMA - hued.astype(np.float32) @ _LUMA).max())}
        for name, edits in (("grey_content", grey), ("skin_hue", hued)):
            q = aug.score(edits, sources=faces)
            row[name] = {"share_at_q_min": float(np.mean(q >= q_min)), "median": float(np.median(q))}
        figures[expression] = row
    return figures


def grid(aug, faces: np.ndarray, out: str | Path) -> None:
    """The picture of the module docstring for ``faces`` (uint8 ``(N, 128, 128, 3)``), one row each."""
    from PIL import Image, ImageDraw

    cols = [("photo", faces), ("surprise, grey (before)", with_grey_content(aug).change_expression(faces, "surprise"))]
    cols += [(f"{e} (now)", aug.change_expression(faces, e)) for e in PASTED]
    cols += [("happy", aug.change_expression(faces, "happy")), ("relit az-070", aug.relight(faces, "az-070_el+00"))]
    t, head = faces.shape[1], 16
    sheet = Image.new("RGB", (len(cols) * t, head + len(faces) * t), "white")
    draw = ImageDraw.Draw(sheet)
    for c, (name, images) in enumerate(cols):
        draw.text((c * t + 2, 2), name, fill="black")
        for r, image in enumerate(images):
            sheet.paste(Image.fromarray(image), (c * t, head + r * t))
    sheet.save(out)


def main(argv: list[str]) -> None:
    from augmenter.api import FaceAugmenter
    from augmenter.tensors import load_face

    folder = Path(argv[0]) if argv else Path("build/dq10/aligned/human")
    out = argv[1] if len(argv) > 1 else "docs/fields_generator_colour_photos.png"
    paths = sorted(folder.glob("*.jpg"))
    if not paths:
        raise SystemExit(f"{folder}: no photos (python -m pipelines.default_q.heldout build/dq10 aligns them)")
    faces = np.stack([load_face(p, 128) for p in paths])
    aug = FaceAugmenter.load()
    for expression, row in colour_figures(aug, faces).items():
        print(f"{expression}: luma moved {row['luma_moved_max']:.1f} levels at most; at 0.6 with the check, grey "
              f"content {100 * row['grey_content']['share_at_q_min']:.1f}% -> skin hue "
              f"{100 * row['skin_hue']['share_at_q_min']:.1f}%")
    ffhq = [i for i, p in enumerate(paths) if p.name.startswith("FFHQ")]
    pick = np.random.default_rng(0).choice(ffhq, 8, replace=False)
    grid(aug, faces[pick], out)
    print(f"{out}: {', '.join(paths[i].name for i in pick)}")


if __name__ == "__main__":
    main(sys.argv[1:])
