"""The before/after pictures of the default Q: held-out faces and their failures, each scored by two Qs
(green when kept at 0.6).

``python -m pipelines.default_q.grid``: docs/q_before_after.png (aligned photos, three failures, a demo-LEGAN
output and the round-3 generator's output; demo Q vs default Q) and docs/q_unaligned.png (FER-2013
validation photos aligned and as the dataset ships them, failures of the unaligned crop; round 3
(``build/default_q3/default_q.pt``) vs the default Q, round 5). Needs ``augment-train-default-q --work
build/default_q`` (aligned crops), the round-4 work folder (raw crops) and build/gameq3/legan/last.pt.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def sheet(cols: list[tuple[str, np.ndarray]], nets: dict, out: str) -> tuple[int, ...]:
    """Write a grid: one column per ``(title, (N, 128, 128, 3) uint8 faces)``, one row per face, under each
    face the q_score of each net in ``nets`` (name -> Q), the last one green when >= 0.6."""
    import cv2

    from pipelines.default_q.measure import q_scores

    rows = []
    for r in range(len(cols[0][1])):
        tiles = []
        for _, imgs in cols:
            t = np.zeros((128 + 34, 128, 3), np.uint8)
            t[:128] = imgs[r]
            scores = [(k, q_scores(net, imgs[r:r + 1])[0]) for k, net in nets.items()]
            for i, (k, q) in enumerate(scores):
                last = i == len(scores) - 1
                colour = ((90, 220, 90) if q >= 0.6 else (240, 90, 90)) if last else (200, 200, 200)
                cv2.putText(t, f"{k} {q:.2f}", (3, 143 + 15 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1)
            tiles.append(np.pad(t, ((2, 2), (2, 2), (0, 0))))
        rows.append(np.concatenate(tiles, 1))
    head = np.zeros((22, rows[0].shape[1], 3), np.uint8)
    for i, (name, _) in enumerate(cols):
        cv2.putText(head, name, (4 + i * 132, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1)
    grid = np.concatenate([head] + rows, 0)
    cv2.imwrite(out, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    return grid.shape


def _failed(faces: np.ndarray, mode: str, severity: float) -> np.ndarray:
    from pipelines.default_q.measure import _rng
    from pipelines.default_q.pool import damage

    return np.stack([damage(f, mode, severity, _rng(i)) for i, f in enumerate(faces)])


def main() -> None:
    from augmenter.quality.model import load_q
    from augmenter.tensors import load_face
    from pipelines.default_q.measure import _translated
    from pipelines.default_q.run import crops, raw_files, yaleb_split

    w = Path("build/default_q/aligned")
    _, held = yaleb_split(w / "yaleb", 20)
    fer = crops(w / "fer_val")
    paths = [fer[i] for i in (3, 140, 400, 700)] + [held[i] for i in (5, 60, 200)]
    faces = np.stack([load_face(p, 128) for p in paths])
    cols = [("photo", faces), ("teeth bar 0.6", _failed(faces, "teeth_bar", 0.6)),
            ("tile shuffle 0.6", _failed(faces, "tile_shuffle", 0.6)),
            ("shading mask 0.6", _failed(faces, "shading_mask", 0.6)),
            ("demo LEGAN", _translated(faces, "demo")),
            ("G3 (vs default)", _translated(faces, "build/gameq3/legan/last.pt"))]
    print(sheet(cols, {"demo": load_q("demo")[0], "default": load_q()[0]}, "docs/q_before_after.png"))

    raw = raw_files(Path("build/default_q4/raw/fer_val"))
    aligned = {p.parent.name + "/" + p.name: p for p in crops(w / "fer_val")}
    pairs = [(aligned[k], p) for p in raw[::137] if (k := p.parent.name + "/" + p.name) in aligned][:6]
    unaligned = np.stack([load_face(p, 128) for _, p in pairs])
    cols = [("aligned", np.stack([load_face(a, 128) for a, _ in pairs])), ("unaligned", unaligned),
            ("unaligned+noise 0.3", _failed(unaligned, "noise", 0.3)),
            ("unaligned+tint 0.3", _failed(unaligned, "tint", 0.3)),
            ("unaligned+teeth 0.6", _failed(unaligned, "teeth_bar", 0.6)),
            ("unaligned+warp 1.0", _failed(unaligned, "warp", 1.0))]
    nets = {"round 3": load_q("build/default_q3/default_q.pt")[0], "round 5": load_q()[0]}
    print(sheet(cols, nets, "docs/q_unaligned.png"))


if __name__ == "__main__":
    main()
