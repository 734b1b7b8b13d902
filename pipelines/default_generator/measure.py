"""What the default generator does to real faces it never trained on.

* **Lighting** (:func:`lighting_scores`): each held-out Yale B subject's frontal-lit photo
  (``A+000E+00``) relit towards every other light of its series, compared with the real photo under
  that light (SSIM and PSNR on the grey 128 px registered crops, :mod:`augmenter.gan_eval.image_similarity`),
  beside the unchanged input. The field generator takes any direction, so every light of the series is a
  target; ``vocabulary_only`` restricts to the lights the model names.
* **Expression** (:func:`expression_scores`): aligned FER-2013 *validation* faces of one class edited
  to each target, classified by a judge trained on FER-2013 train only (``train-expression``, another
  architecture than the generator's teacher): how often the judge calls an edit its target, beside how
  often it calls the unedited sources so.
* **Blow-outs** (:func:`blown_out_share`): on faces from another camera (aligned FER-2013 validation),
  the share of face pixels a relight turns white (>= 250 of 255) that were not white before, per light:
  Yale B has no ground truth for those faces, and light from one side never whitens a face that was
  not already bright, so this counts the lighting branch's worst failure away from its training lab.
* **Identity** (:func:`identity_cosines`): a verifier's cosine between a held-out Yale B subject's frontal
  photo and its edits, beside the cosine of two real photos of the same person (lights within 35 degrees
  of frontal) and of two different people.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

from augmenter.gan_eval.image_similarity import psnr, ssim
from augmenter.nets.fields import FieldGenerator, direction_vector, grey
from pipelines.default_generator.data import grey_to_model


def _to_grey_uint8(x: torch.Tensor) -> np.ndarray:
    return ((grey(x)[:, 0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


@torch.inference_mode()
def lighting_scores(generator: FieldGenerator, images: np.ndarray, subject: np.ndarray, azimuth: np.ndarray,
                    elevation: np.ndarray, subjects: list[str], directions: list[tuple[float, float]] | None = None,
                    ) -> dict:
    """Mean SSIM / PSNR (dB) of relit and of unchanged frontal photos to the real photos under each target.

    ``images`` ``(N, S, S)`` uint8 registered grey crops with their ``subject``, ``azimuth``, ``elevation``;
    ``directions`` limits targets to those (azimuth, elevation) pairs.
    """
    rows = {"relit_ssim": [], "relit_psnr": [], "input_ssim": [], "input_psnr": []}
    wanted = None if directions is None else {(int(a), int(e)) for a, e in directions}
    for s in subjects:
        mine = np.flatnonzero(subject == s)
        frontal = [i for i in mine if azimuth[i] == 0 and elevation[i] == 0]
        if not frontal:
            continue
        targets = [i for i in mine if i != frontal[0] and (wanted is None or (int(azimuth[i]), int(elevation[i])) in wanted)]
        if not targets:
            continue
        src = grey_to_model(images[[frontal[0]] * len(targets)])
        dirs = torch.tensor([direction_vector(float(azimuth[i]), float(elevation[i])) for i in targets])
        relit = _to_grey_uint8(generator.relight(src, dirs))
        for k, i in enumerate(targets):
            rows["relit_ssim"].append(ssim(relit[k], images[i]))
            rows["relit_psnr"].append(psnr(relit[k], images[i]))
            rows["input_ssim"].append(ssim(images[frontal[0]], images[i]))
            rows["input_psnr"].append(psnr(images[frontal[0]], images[i]))
    out = {k: float(np.mean(v)) for k, v in rows.items()}
    out["pairs"] = len(rows["relit_ssim"])
    return out


def as_read_from_files(x: torch.Tensor, size: int) -> torch.Tensor:
    """``(B, 3, S, S)`` in [-1, 1] -> ``(B, 3, size, size)`` in [-1, 1] as the toolkit's evaluations read
    saved images: rounded to uint8, area-resized."""
    pixels = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    small = np.stack([cv2.resize(p, (size, size), interpolation=cv2.INTER_AREA) for p in pixels])
    return torch.from_numpy(small).permute(0, 3, 1, 2).float().div(127.5).sub(1)


@torch.inference_mode()
def judge_probabilities(judge, x: torch.Tensor) -> np.ndarray:
    """``(B, classes)`` softmax a ``(backbone, head, size, vocabulary)`` judge gives ``(B, 3, S, S)`` faces in [-1, 1],
    preprocessed as its evaluation reads files (:func:`as_read_from_files`)."""
    backbone, head, size, _ = judge
    return head(backbone(as_read_from_files(x, size)).float()).softmax(1).numpy()  # unnormalised, as eval-expression feeds the head


def judge_predictions(judge, x: torch.Tensor) -> np.ndarray:
    """Class indices a judge gives ``(B, 3, S, S)`` faces in [-1, 1] (the argmax of :func:`judge_probabilities`)."""
    return judge_probabilities(judge, x).argmax(1)


def with_generator_copy(aug):
    """A shallow copy of a :class:`~augmenter.api.FaceAugmenter` whose translator holds its own deep copy of the
    generator, to change (buffers, config) without touching ``aug``."""
    import copy

    out = copy.copy(aug)
    out.translator = copy.copy(aug.translator)
    out.translator.generator = copy.deepcopy(aug.translator.generator)
    return out


@torch.inference_mode()
def expression_scores(generator: FieldGenerator, generator_names: list[str], judge, faces: np.ndarray,
                      targets: list[str], batch: int = 64) -> dict:
    """For grey ``faces`` ``(N, S, S)`` uint8 of one class: the share the judge calls each target after the
    edit (``"<target>"``) and before it (``"source_<target>"``)."""
    vocabulary = judge[3]
    out = {}
    x_all = grey_to_model(faces)
    source = np.concatenate([judge_predictions(judge, x_all[i:i + batch]) for i in range(0, len(x_all), batch)])
    for target in targets:
        c_e = torch.zeros(1, len(generator_names))
        c_e[0, generator_names.index(target)] = 1
        predicted = []
        for i in range(0, len(x_all), batch):
            x = x_all[i:i + batch]
            y = generator(x, torch.zeros(len(x), generator.config.n_lighting), c_e.expand(len(x), -1))
            predicted.append(judge_predictions(judge, y))
        predicted = np.concatenate(predicted)
        index = vocabulary.index(target)
        out[target] = float((predicted == index).mean())
        out[f"source_{target}"] = float((source == index).mean())
    out["faces"] = len(faces)
    return out


def verifier_embedder(checkpoint):
    """``(B, 3, S, S)`` in [-1, 1] -> ``(B, D)`` L2-normalised embeddings of a ``train-verifier`` checkpoint,
    preprocessed as ``augment embed`` reads files (:func:`as_read_from_files` at the verifier's size)."""
    from augmenter.checkpoint import load_checkpoint
    from augmenter.nets.backbones import backbone_from_checkpoint

    backbone, size = backbone_from_checkpoint(load_checkpoint(checkpoint))

    @torch.inference_mode()
    def embed(x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(backbone(as_read_from_files(x, size)).float(), dim=1)
    return embed


@torch.inference_mode()
def identity_cosines(generator: FieldGenerator, generator_expressions: list[str], embed, images: np.ndarray,
                     subject: np.ndarray, azimuth: np.ndarray, elevation: np.ndarray, subjects: list[str],
                     targets: list[str], max_angle: float = 35.0, far: float = 1e-3) -> dict:
    """Median cosines: real same-person pairs (both lit within ``max_angle`` of frontal), real
    different-person pairs (same light set), and each subject's frontal photo against its edit to each
    expression of ``targets`` (``"<target>"``) and to each vocabulary light (``"lights"``).

    ``"verified"`` holds, per target and for ``"lights"`` and ``"real_same_person"``, the share of pairs
    above ``"threshold"``: the cosine that accepts ``far`` of the different-person pairs (the
    ``1 - far`` quantile). A verifier's cosines are on its own scale (dlib's descriptors put two
    strangers near 0.85); this share reads the same on any scale."""
    from pipelines.default_generator.run import light_angle

    near = np.flatnonzero(np.isin(subject, subjects) & (light_angle(azimuth, elevation) <= max_angle))
    e = embed(grey_to_model(images[near])).numpy()
    cos = e @ e.T
    same = subject[near][:, None] == subject[near][None, :]
    upper = np.triu(np.ones_like(same), 1)
    median = lambda v: float(np.median(v)) if v.size else float("nan")  # noqa: E731
    different = cos[~same & upper]
    threshold = float(np.quantile(different, 1 - far)) if different.size else float("nan")
    verified = lambda v: float((np.asarray(v) > threshold).mean()) if np.size(v) else float("nan")  # noqa: E731
    out = {"real_same_person": median(cos[same & upper]), "real_different_people": median(different),
           "subjects": len(subjects), "threshold": threshold, "far": far,
           "verified": {"real_same_person": verified(cos[same & upper])}}
    frontal = [int(np.flatnonzero((subject == s) & (azimuth == 0) & (elevation == 0))[0]) for s in subjects
               if ((subject == s) & (azimuth == 0) & (elevation == 0)).any()]
    x = grey_to_model(images[frontal])
    source = embed(x)
    n_l = generator.config.n_lighting
    for target in targets:
        c_e = torch.zeros(len(x), len(generator_expressions))
        c_e[:, generator_expressions.index(target)] = 1
        edit = embed(generator(x, torch.zeros(len(x), n_l), c_e))
        cosines = (source * edit).sum(1)
        out[target] = float(torch.median(cosines))
        out["verified"][target] = verified(cosines.numpy())
    lights = []
    for k in range(n_l):
        c_l = torch.zeros(len(x), n_l)
        c_l[:, k] = 1
        lights.append((source * embed(generator(x, c_l, torch.zeros(len(x), len(generator_expressions))))).sum(1))
    out["lights"] = float(torch.median(torch.cat(lights)))
    out["verified"]["lights"] = verified(torch.cat(lights).numpy())
    return out


@torch.inference_mode()
def blown_out_share(generator: FieldGenerator, lighting_names: list[str], faces: np.ndarray, white: int = 250) -> dict:
    """Per light (``{name: share}`` plus ``"mean"`` and ``"worst"``): of the face pixels (the generator's
    face mask above 0.5) of ``faces`` ``(N, S, S)`` uint8 grey, the share a relight turns ``>= white``
    that were below it in the source."""
    x = grey_to_model(faces)
    size = faces.shape[1:]
    face = torch.nn.functional.interpolate(generator.face_mask, size=size, mode="bilinear", align_corners=False)[0, 0] > 0.5
    source = torch.from_numpy(faces)
    out = {}
    for k, name in enumerate(lighting_names):
        c_l = torch.zeros(len(x), len(lighting_names))
        c_l[:, k] = 1
        relit = torch.from_numpy(_to_grey_uint8(generator(x, c_l, torch.zeros(len(x), generator.config.n_expression))))
        new = (relit >= white) & (source < white)
        out[name] = float(new[:, face].float().mean())
    shares = list(out.values())
    return {**out, "mean": float(np.mean(shares)), "worst": float(np.max(shares))}
