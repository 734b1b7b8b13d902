"""Two Qs side by side on held-out faces, their failures and the shipped generator's variants (a picture).

``python -m pipelines.default_generator.q_compare_grid RESULTS Q_BEFORE OUT [Q_AFTER]``: six held-out photos (a seeded pick
of ``RESULTS``' ``heldout_real``, as ``augment-train-default-q`` writes it), each with a seam 0.6, a warp 0.6, a
blur 0.3, the built-in generator's az-070 relight and happy edit; under every face ``Q_BEFORE``'s score and
``Q_AFTER``'s (default: the default Q; green: kept at 0.6). docs/q_round5_vs_round6.png is this with round 5 as ``Q_BEFORE``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def grid_faces(results: Path) -> np.ndarray:
    """Six held-out photos ``(6, 128, 128, 3)`` uint8: a seeded pick of ``results``' ``heldout_real``."""
    from augmenter.tensors import load_face
    from pipelines.default_q.gaming import held_out_pick

    return np.stack([load_face(p, 128) for p in held_out_pick(json.loads(results.read_text()), seed=5)[::50]])


def main(results: Path, q_before: str, out: str, q_after: str | None = None) -> None:
    from augmenter.api import FaceAugmenter
    from augmenter.quality.model import load_q
    from pipelines.default_q.grid import sheet
    from pipelines.default_q.pool import damage

    faces = grid_faces(results)
    damaged = lambda mode, s: np.stack([damage(f, mode, s, np.random.default_rng(i)) for i, f in enumerate(faces)])  # noqa: E731
    augmenter = FaceAugmenter.load("fields")
    cols = [("source", faces), ("seam 0.6", damaged("seam", 0.6)), ("warp 0.6", damaged("warp", 0.6)),
            ("blur 0.3", damaged("blur", 0.3)), ("relit az-070", augmenter.relight(faces, "az-070_el+00")),
            ("happy", augmenter.change_expression(faces, "happy"))]
    sheet(cols, {"before": load_q(q_before, "cpu")[0], "after" if q_after else "default": load_q(q_after, "cpu")[0]}, out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], *sys.argv[4:5])
