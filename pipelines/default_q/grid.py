"""The before/after picture of docs/q_before_after.png: held-out faces, three failures, a demo-LEGAN output and
a generator's output, each scored by the demo Q and the default Q (green when kept at 0.6).

Usage: ``python -m pipelines.default_q.grid`` after ``augment-train-default-q --work build/default_q`` and the
round-3 generator (build/gameq3/legan/last.pt); writes docs/q_before_after.png.
"""
from __future__ import annotations

def main() -> None:
    import numpy as np, cv2
    from pathlib import Path
    from pipelines.default_q.run import crops, yaleb_split
    from pipelines.default_q.measure import q_scores, _translated, _rng
    from augmenter.quality.failures import fail
    from augmenter.tensors import load_face
    from augmenter.quality.model import load_q
    w = Path("build/default_q/aligned")
    _, held = yaleb_split(w / "yaleb", 20)
    fer = crops(w / "fer_val")
    paths = [fer[i] for i in (3, 140, 400, 700)] + [held[i] for i in (5, 60, 200)]
    faces = np.stack([load_face(p, 128) for p in paths])
    cols = [("photo", faces),
            ("teeth bar 0.6", np.stack([fail(f, "teeth_bar", 0.6, _rng(i)) for i, f in enumerate(faces)])),
            ("tile shuffle 0.6", np.stack([fail(f, "tile_shuffle", 0.6, _rng(i)) for i, f in enumerate(faces)])),
            ("shading mask 0.6", np.stack([fail(f, "shading_mask", 0.6, _rng(i)) for i, f in enumerate(faces)])),
            ("demo LEGAN", _translated(faces, "demo")),
            ("G3 (vs default)", _translated(faces, "build/gameq3/legan/last.pt"))]
    nets = {"demo": load_q("demo")[0], "default": load_q()[0]}
    rows = []
    for r in range(len(faces)):
        tiles = []
        for name, imgs in cols:
            t = np.zeros((128 + 34, 128, 3), np.uint8); t[:128] = imgs[r]
            d, q = (q_scores(nets[k], imgs[r:r + 1])[0] for k in ("demo", "default"))
            cv2.putText(t, f"demo {d:.2f}", (3, 143), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (200, 200, 200), 1)
            colour = (90, 220, 90) if q >= 0.6 else (240, 90, 90)
            cv2.putText(t, f"default {q:.2f}", (3, 158), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1)
            tiles.append(np.pad(t, ((2, 2), (2, 2), (0, 0))))
        rows.append(np.concatenate(tiles, 1))
    head = np.zeros((22, rows[0].shape[1], 3), np.uint8)
    for i, (name, _) in enumerate(cols):
        cv2.putText(head, name, (4 + i * 132, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1)
    sheet = np.concatenate([head] + rows, 0)
    cv2.imwrite("docs/q_before_after.png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(sheet.shape)


if __name__ == "__main__":
    main()
