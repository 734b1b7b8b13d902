"""How many of the generator's variants of held-out real faces the default Q passes (``--q-min``).

``python -m pipelines.default_generator.q_pass WORK [GENERATOR] [Q_MIN] [Q]``: the aligned FER-2013
validation faces under ``WORK/aligned/fer_val`` (50 per class) and the held-out Yale B subjects' photos lit
within 35 degrees of frontal, each given every named light and every expression but neutral; prints the
share of sources and of variants at or above ``Q_MIN`` (default 0.6), per target, judged by the Q checkpoint
``Q`` (default: the built-in default Q) with the built-in tear check against each variant's source, as
``augment expand`` judges them.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from augmenter.api import FaceAugmenter
from pipelines.default_generator.data import class_folder_arrays
from pipelines.default_generator.run import EXPRESSIONS, FER_FOLDERS, held_out_subjects, light_angle


def held_out_faces(work: Path, per_class: int = 50) -> np.ndarray:
    fer, labels = class_folder_arrays(work / "aligned" / "fer_val", EXPRESSIONS, 128, FER_FOLDERS)
    rng = np.random.default_rng(0)
    pick = np.concatenate([rng.permutation(np.flatnonzero(labels == k))[:per_class] for k in range(len(EXPRESSIONS))])
    inputs = np.load(work / "inputs.npz")
    subject, az, el = inputs["light_subject"], inputs["light_az"], inputs["light_el"]
    yale = inputs["light_images"][np.isin(subject, held_out_subjects(subject)) & (light_angle(az, el) <= 35)]
    return np.concatenate([fer[pick], yale])


def pass_rates(faces: FaceAugmenter, images: np.ndarray, q_min: float, batch: int = 64) -> dict:
    def share(fn) -> float:
        scores = np.concatenate([faces.score(fn(images[i:i + batch]), sources=images[i:i + batch])
                                 for i in range(0, len(images), batch)])
        return float((scores >= q_min).mean())
    out = {"faces": len(images), "sources": share(lambda x: x)}
    for name in faces.lightings:
        out[name] = share(lambda x, n=name: faces.relight(x, n))
    for name in faces.expressions:
        if name != "neutral":
            out[name] = share(lambda x, n=name: faces.change_expression(x, n))
    variants = [v for k, v in out.items() if k not in ("faces", "sources")]
    out["all_variants"] = float(np.mean(variants))
    return out


if __name__ == "__main__":
    torch.manual_seed(0)
    work = Path(sys.argv[1])
    generator = sys.argv[2] if len(sys.argv) > 2 else "fields"
    q_min = float(sys.argv[3]) if len(sys.argv) > 3 else 0.6
    q = sys.argv[4] if len(sys.argv) > 4 else None
    print(json.dumps(pass_rates(FaceAugmenter.load(generator, q), held_out_faces(work), q_min), indent=1))
