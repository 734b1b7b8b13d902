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


@torch.inference_mode()
def judge_predictions(judge, x: torch.Tensor) -> np.ndarray:
    """Class indices a ``(backbone, head, size, vocabulary)`` judge gives ``(B, 3, S, S)`` faces in [-1, 1],
    preprocessed as its evaluation reads files (uint8, area resize)."""
    backbone, head, size, _ = judge
    pixels = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    small = np.stack([cv2.resize(p, (size, size), interpolation=cv2.INTER_AREA) for p in pixels])
    t = torch.from_numpy(small).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    return head(backbone(t).float()).argmax(1).numpy()  # unnormalised, as eval-expression feeds the head


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
