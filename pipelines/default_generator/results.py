"""Measure a field generator checkpoint on held-out real faces and draw a before/after grid.

``python -m pipelines.default_generator.results WORK CHECKPOINT JUDGE [VERIFIER]`` writes
``WORK/results.json`` and ``WORK/grid.png``: lighting on the Yale B subjects the generator did not train
on, expression edits of aligned FER-2013 validation faces judged by ``JUDGE`` (a ``train-expression``
checkpoint trained on FER-2013 train), blow-outs of aligned FER-2013 validation faces relit to every
named light (:func:`~pipelines.default_generator.measure.blown_out_share`), and with ``VERIFIER`` (a
``train-verifier`` checkpoint that never saw the held-out subjects, or ``dlib`` for dlib's independent face
descriptor, :mod:`recognition.dlib_identity`) identity cosines of those subjects' edits.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from augmenter.attributes import FIELD_LIGHT_DIRECTIONS
from augmenter.gan.models import load_translator
from evaluation.expression import load_expression_model
from pipelines.default_generator.data import class_folder_arrays, grey_to_model
from pipelines.default_generator.measure import (blown_out_share, expression_scores, identity_cosines, lighting_scores,
                                                 verifier_embedder)
from pipelines.default_generator.run import held_out_subjects

GRID_LIGHTS = ("az+050_el+00", "az-070_el+00", "az+000_el+45")
GRID_EXPRESSIONS = ("happy", "surprise", "sad")


def _embedder(verifier: Path):
    if str(verifier) == "dlib":
        from recognition.dlib_identity import dlib_embedder
        return dlib_embedder()
    return verifier_embedder(verifier)


def measure_checkpoint(work: Path, checkpoint: Path, judge_path: Path, fer_val: Path, n_faces: int = 300,
                       verifier: Path | None = None) -> dict:
    torch.manual_seed(0)
    translator = load_translator(checkpoint)
    g = translator.generator
    inputs = np.load(work / "inputs.npz")
    subject = inputs["light_subject"]
    held = held_out_subjects(subject)
    args = (inputs["light_images"], subject, inputs["light_az"], inputs["light_el"], held)
    results = {"checkpoint": str(checkpoint), "held_out_subjects": held,
               "lighting_all_targets": lighting_scores(g, *args),
               "lighting_vocabulary": lighting_scores(g, *args, directions=list(FIELD_LIGHT_DIRECTIONS))}
    if verifier is not None:
        results["identity_cosines"] = identity_cosines(g, list(translator.expression), _embedder(verifier),
                                                       *args, targets=[e for e in translator.expression if e != "neutral"])
    faces, _ = class_folder_arrays(fer_val, ("neutral", "happy", "sad", "surprise"), 128)
    pick = np.sort(np.random.default_rng(1).permutation(len(faces))[:200])
    results["fer_blown_out"] = blown_out_share(g, list(translator.lighting), faces[pick])
    judge = load_expression_model(judge_path)
    rng = np.random.default_rng(0)
    for source in ("neutral", "happy"):
        faces, _ = class_folder_arrays(fer_val, (source,), 128)
        faces = faces[np.sort(rng.permutation(len(faces))[:n_faces])]
        results[f"expression_from_{source}"] = expression_scores(g, translator.expression, judge, faces,
                                                                 list(translator.expression))
    return results


def before_after_grid(checkpoint: Path, work: Path, fer_val: Path, out: Path, n: int = 6) -> None:
    """Rows: real faces (held-out Yale B frontal, FER validation); columns: source, lights, expressions."""
    t = load_translator(checkpoint)
    inputs = np.load(work / "inputs.npz")
    subject = inputs["light_subject"]
    held = held_out_subjects(subject)
    yale = [int(np.flatnonzero((subject == s) & (inputs["light_az"] == 0) & (inputs["light_el"] == 0))[0])
            for s in held[:n // 2]]
    fer, _ = class_folder_arrays(fer_val, ("neutral",), 128)
    faces = np.concatenate([inputs["light_images"][yale], fer[:: max(1, len(fer) // (n - len(yale)))][:n - len(yale)]])
    x = grey_to_model(faces)
    columns = [x] + [t.translate(x, lighting=name) for name in GRID_LIGHTS] + \
              [t.translate(x, expression=name) for name in GRID_EXPRESSIONS]
    rows = torch.cat([torch.cat(list(c), 1) for c in columns], 2)
    Image.fromarray(((rows.permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)).save(out)


if __name__ == "__main__":
    work, checkpoint, judge = (Path(a) for a in sys.argv[1:4])
    fer_val = work / "aligned" / "fer_val"
    results = measure_checkpoint(work, checkpoint, judge, fer_val,
                                 verifier=Path(sys.argv[4]) if len(sys.argv) > 4 else None)
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    before_after_grid(checkpoint, work, fer_val, work / "grid.png")
