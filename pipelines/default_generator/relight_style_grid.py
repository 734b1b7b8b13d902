"""The three relight styles side by side on held-out faces (a picture).

``python -m pipelines.default_generator.relight_style_grid RESULTS OUT``: six held-out photos (FER-2013 validation
and Yale B subjects the models never trained on: a seeded pick of ``RESULTS``' ``heldout_real``, as
``augment-train-default-q`` writes it), each relit by the built-in field generator to az+095, az-070 and el+45 in
the ``lab`` style (the learned offset, fixed exposure), the ``photo`` style (gain only, exposure kept) and
``photo-deep`` (the same, log-gain doubled); under every face the default Q's score (green: kept at 0.6).
"""
from __future__ import annotations

import sys
from pathlib import Path


LIGHTS = {"az+095_el+00": "az+095", "az-070_el+00": "az-070", "az+000_el+45": "el+45"}  # name: column label


def main(results: Path, out: str) -> None:
    from augmenter.api import FaceAugmenter
    from augmenter.quality.model import load_q
    from pipelines.default_generator.q_compare_grid import grid_faces
    from pipelines.default_q.grid import sheet

    faces = grid_faces(results)
    styles = {name: FaceAugmenter.load("fields", relight_style=name) for name in ("lab", "photo", "photo-deep")}
    cols = [("source", faces)]
    for light, label in LIGHTS.items():
        cols += [(f"{name} {label}", aug.relight(faces, light)) for name, aug in styles.items()]
    sheet(cols, {"Q": load_q(None, "cpu")[0]}, out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
