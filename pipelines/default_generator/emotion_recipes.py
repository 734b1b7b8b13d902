"""Sad, anger, disgust and fear as the facial actions that make them, measured against the recipes they replace.

``python -m pipelines.default_generator.emotion_recipes JUDGE [JUDGE ...] [--faces DIR] [--yaleb DIR] [--out JSON]
[--picture PNG]``: edits the neutral faces under ``DIR/neutral`` (default: every FER-2013 validation neutral face,
aligned at 128 px into ``build/emotion_recipes`` on the first run, :func:`fer_val_neutral`) to each emotion of
:data:`CHANGED` with the recipes shipped until
2026-12-07 (:data:`BEFORE`) and with today's (:data:`augmenter.sample.flows.EMOTION_RECIPES`), and prints for each
the share every ``JUDGE`` (an expression checkpoint trained on FER-2013 train) calls the target, the judge's mean
probability of it, and the share passing the default Q with the tear check at 0.6; with ``--yaleb`` (an ``augment
align`` folder of Extended Yale B) dlib's cosine between each held-out subject's frontal photo and its edit.

``--refresh ASSET`` writes today's priors of :data:`CHANGED` into a field generator file in place (the other
expressions' priors and every weight are kept bit for bit): the expression head is the renderer's flows alone, so a
new recipe needs no training.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from augmenter.sample.expressions import ExpressionRecipe

CHANGED = ("sad", "anger", "disgust", "fear")

BEFORE: dict[str, ExpressionRecipe] = {
    "disgust": ExpressionRecipe({3: 2.6, 5: 2.5, 6: 2.5}, {"nose_wrinkle": 1.0, "brow_lower": 1.0},
                                eye_open=0.65, lower_lid=0.3),
    "anger": ExpressionRecipe({6: 2.5, 7: 1.5}, {"brow_lower": 1.0}),
    "sad": ExpressionRecipe({6: -2.0, 7: 0.8}, {"smile": -0.6}),
    "fear": ExpressionRecipe({0: -1.0, 1: 1.5, 6: -2.0}, {"brow_raise": 0.8}),
}
"""The recipes of these emotions until 2026-12-07: on FER-2013 faces they barely moved a judge (docs/generator.md)."""


def fer_val_neutral(data: Path = Path("../shared/data"), work: Path = Path("build/emotion_recipes")) -> Path:
    """``work/aligned``: every FER-2013 validation neutral face, aligned as users align (128 px), made once."""
    import os

    from augmenter.align_tree import AlignConfig, align_tree

    raw, aligned = work / "raw", work / "aligned"
    if not (aligned / "landmarks.csv").is_file():
        raw.mkdir(parents=True, exist_ok=True)
        if not os.path.lexists(raw / "neutral"):
            os.symlink(os.path.abspath(data / "fer2013" / "validation" / "neutral"), raw / "neutral")
        align_tree(raw, aligned, AlignConfig(image_size=128))
    return aligned


def emotion_priors(recipes: dict[str, ExpressionRecipe], work_size: int = 64, flow_identities: int = 8,
                   ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per emotion: the prior flow ``(2, w, w)`` and prior mouth ``(2, 2w, 2w)`` of ``recipes`` (at amplitude 1, as
    :func:`pipelines.default_generator.run.renderer_priors` makes them for these emotions)."""
    from augmenter.sample.flows import mean_expression_flow, mean_expression_mouth

    return {e: (mean_expression_flow(e, work_size, flow_identities, recipe=r),
                mean_expression_mouth(e, 2 * work_size, recipe=r)) for e, r in recipes.items()}


def with_priors(aug, priors: dict[str, tuple[np.ndarray, np.ndarray]]):
    """A copy of a :class:`~augmenter.api.FaceAugmenter` on the field generator with ``priors`` in place."""
    from pipelines.default_generator.measure import with_generator_copy

    out = with_generator_copy(aug)
    g, names = out.translator.generator, list(aug.translator.expression)
    for e, (flow, mouth) in priors.items():
        k = names.index(e)
        g.prior_flow[k] = torch.as_tensor(flow, dtype=g.prior_flow.dtype)
        g.prior_mouth[k] = torch.as_tensor(mouth, dtype=g.prior_mouth.dtype)
    return out


def judged(judges: dict[str, tuple], grey: np.ndarray, targets, batch: int = 64) -> dict[str, dict]:
    """Per target and judge: the share of grey uint8 faces ``(N, S, S)`` called ``target`` and the mean probability
    of it (each judge runs once over the faces)."""
    from pipelines.default_generator.data import grey_to_model
    from pipelines.default_generator.measure import judge_probabilities

    out = {t: {} for t in targets}
    for name, judge in judges.items():
        p = np.concatenate([judge_probabilities(judge, grey_to_model(grey[i:i + batch]))
                            for i in range(0, len(grey), batch)])
        for t in targets:
            k = judge[3].index(t)
            out[t][name] = {"called": float((p.argmax(1) == k).mean()), "p_target": float(p[:, k].mean())}
    return out


def compare(arms: dict, faces: np.ndarray, judges: dict[str, tuple], q_min: float = 0.6) -> dict:
    """``arms`` (name -> FaceAugmenter) edit grey ``faces`` ``(N, S, S)`` uint8 to each emotion of :data:`CHANGED`;
    per emotion and arm: :func:`judged` and the share at ``q_min`` with Q and the tear check; ``"sources"``: the
    judges on the unedited faces."""
    rgb = np.repeat(faces[..., None], 3, -1)
    first = next(iter(arms.values()))
    out = {"faces": len(faces), "sources": judged(judges, faces, CHANGED),
           "sources_q_pass": float((first.score(rgb) >= q_min).mean())}
    for emotion in CHANGED:
        out[emotion] = {}
        for arm, aug in arms.items():
            edits = aug.change_expression(rgb, emotion)
            row = judged(judges, edits[..., 0], [emotion])[emotion]
            row["q_pass"] = float((aug.score(edits, sources=rgb) >= q_min).mean())
            out[emotion][arm] = row
    return out


def dlib_identity(arms: dict, yaleb: Path, data: Path = Path("../shared/data")) -> dict:
    """Per arm and emotion of :data:`CHANGED`: dlib's median cosine between each held-out Yale B subject's frontal
    photo and its edit, and the share verified at FAR 1e-3 (:func:`~pipelines.default_generator.measure.
    identity_cosines`)."""
    from pipelines.default_generator.data import yaleb_light_series
    from pipelines.default_generator.measure import identity_cosines
    from pipelines.default_generator.run import held_out_subjects
    from recognition.dlib_identity import dlib_embedder

    series = yaleb_light_series(data / "yaleb", yaleb / "landmarks.csv")
    embed, held = dlib_embedder(), held_out_subjects(series.subject)
    out = {}
    for arm, aug in arms.items():
        c = identity_cosines(aug.translator.generator, list(aug.translator.expression), embed, series.images,
                             series.subject, series.azimuth, series.elevation, held, list(CHANGED))
        out[arm] = {k: c[k] for k in ("real_same_person", "real_different_people", *CHANGED)}
        out[arm]["verified"] = c["verified"]
    return out


def picture(arms: dict, faces: np.ndarray, out: Path) -> None:
    """Rows: faces; columns: the photo, then each emotion of :data:`CHANGED` before and now."""
    from PIL import Image, ImageDraw

    rgb = np.repeat(faces[..., None], 3, -1)
    columns, titles = [faces], ["photo"]
    for emotion in CHANGED:
        for arm, aug in arms.items():
            columns.append(aug.change_expression(rgb, emotion)[..., 0])
            titles.append(f"{emotion} {arm}")
    size = faces.shape[1]
    sheet = np.concatenate([np.concatenate(list(c), 0) for c in columns], 1)
    image = Image.fromarray(np.pad(sheet, ((14, 0), (0, 0))))
    draw = ImageDraw.Draw(image)
    for i, title in enumerate(titles):
        draw.text((i * size + 3, 1), title, fill=255)
    image.save(out)


def refresh(asset: Path) -> None:
    """Rewrite ``asset``'s priors of :data:`CHANGED` with :data:`~augmenter.sample.flows.EMOTION_RECIPES`' (in place;
    weights, other priors, config and step kept) and name them in its provenance note."""
    from augmenter.checkpoint import load_checkpoint, save_checkpoint
    from augmenter.sample.flows import EMOTION_RECIPES

    ckpt = load_checkpoint(asset)
    state = dict(ckpt.model["generator"])
    names = list(ckpt.vocabularies["expression"])
    w = state["prior_flow"].shape[-1]
    flow, mouth = state["prior_flow"].clone(), state["prior_mouth"].clone()
    for e, (f, m) in emotion_priors({e: EMOTION_RECIPES[e] for e in CHANGED}, w).items():
        flow[names.index(e)], mouth[names.index(e)] = torch.as_tensor(f), torch.as_tensor(m)
    state["prior_flow"], state["prior_mouth"] = flow, mouth
    note = (ckpt.extra or {}).get("provenance", "")
    tag = "sad, anger, disgust and fear as facial actions (2026-12-07)"
    if tag not in note:
        note = note.replace("; learned residual", f"; {tag}; learned residual")
    save_checkpoint(asset, kind=ckpt.kind, model={"generator": state}, step=ckpt.step, config=ckpt.config,
                    vocabularies=ckpt.vocabularies, extra={**(ckpt.extra or {}), "provenance": note})


def main(argv: list[str] | None = None) -> dict:
    import argparse

    from augmenter.api import FaceAugmenter
    from evaluation.expression import load_expression_model
    from pipelines.default_generator.data import class_folder_arrays

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("judges", nargs="*")
    parser.add_argument("--faces", default=None)
    parser.add_argument("--yaleb", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--picture", default=None)
    parser.add_argument("--refresh", default=None)
    args = parser.parse_args(argv)
    if args.refresh:
        refresh(Path(args.refresh))
        return {}
    torch.manual_seed(0)
    from augmenter.sample.flows import EMOTION_RECIPES

    base = FaceAugmenter.load("fields")
    w = base.translator.generator.prior_flow.shape[-1]
    arms = {"before": with_priors(base, emotion_priors(BEFORE, w)),
            "now": with_priors(base, emotion_priors({e: EMOTION_RECIPES[e] for e in CHANGED}, w))}
    faces, _ = class_folder_arrays(Path(args.faces) if args.faces else fer_val_neutral(), ("neutral",), 128)
    judges = {Path(j).parent.name + "/" + Path(j).stem: load_expression_model(j) for j in args.judges}
    results = compare(arms, faces, judges) if judges else {}
    if args.yaleb:
        results["dlib_identity"] = dlib_identity(arms, Path(args.yaleb))
    if args.picture:
        pick = np.random.default_rng(0).permutation(len(faces))[:6]
        picture(arms, faces[np.sort(pick)], Path(args.picture))
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return results


if __name__ == "__main__":
    main()
