"""A probe, not a shipped model: can a seam detector of its own, beside Q, catch the faint seams Q misses?

Round 16 puts 86% of the seams of severity 0.3 below their photo; rounds 18-19 taught Q faint seams and lost real
photos. This trains a small binary detector (seam or not) on the pool's train split — natural photos (aligned,
unaligned, reframed, toned, renders) and generator outputs, each batch the photos and the same photos seamed on
the fly (severity 0.1-0.8, :func:`augmenter.quality.failures.fail`) — and measures it on the held-out photos of a
default-Q work folder with :mod:`pipelines.default_q.measure`'s seeds: how many clean photos it flags, how many
seams it finds, and what ``rating - penalty * p(seam)`` does to Q's seam test and to real photos at 0.6.

Two designs (``arch``): ``cnn``, five convolutions max- and mean-pooled over the image; ``line``, three
convolutions averaged along every row and every column before the max, since a seam crosses the whole crop and a
natural edge rarely does. Measured in docs/quality.md ("A seam detector beside Q").

Usage: ``python -m pipelines.default_q.seam_probe POOL RESULTS Q OUT.json [--arch line] [--steps 3000]``
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

NATURAL = ("real", "unaligned", "reframed", "toned", "generator", "render",
           "hard", "hard2", "hard3", "hard4", "hard5", "hard6")
PENALTIES = (0.0, 1.0, 2.0)  # rating points taken off at p(seam) = 1


class CnnDetector(nn.Module):
    """``(B, 3, S, S)`` in [-1, 1] -> ``(B,)`` seam logit, pooled over the whole image."""

    def __init__(self, width: int = 16):
        super().__init__()
        act = lambda: nn.LeakyReLU(0.1)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, 1, 1), act(), nn.Conv2d(width, 2 * width, 4, 2, 1), act(),
            nn.Conv2d(2 * width, 2 * width, 3, 1, 1), act(), nn.Conv2d(2 * width, 4 * width, 4, 2, 1), act(),
            nn.Conv2d(4 * width, 4 * width, 4, 2, 1), act())
        self.fc = nn.Linear(8 * width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.fc(torch.cat([h.amax((2, 3)), h.mean((2, 3))], 1)).squeeze(1)


class LineDetector(nn.Module):
    """``(B, 3, S, S)`` in [-1, 1] -> ``(B,)`` seam logit from features averaged along rows and columns."""

    def __init__(self, width: int = 16):
        super().__init__()
        act = lambda: nn.LeakyReLU(0.1)  # noqa: E731
        self.features = nn.Sequential(nn.Conv2d(3, width // 2, 3, 1, 1), act(), nn.Conv2d(width // 2, width, 4, 2, 1),
                                      act(), nn.Conv2d(width, 2 * width, 3, 1, 1), act())
        self.fc = nn.Sequential(nn.Linear(4 * width, 32), act(), nn.Linear(32, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        rows, cols = h.mean(3)[..., 2:-2], h.mean(2)[..., 2:-2]  # the outermost rows are the crop's edge
        return self.fc(torch.cat([rows.amax(2), cols.amax(2)], 1)).squeeze(1)


def train_detector(faces: np.ndarray, arch: str, steps: int, rng: np.random.Generator, batch: int = 32,
                   log=print) -> nn.Module:
    """A detector trained with BCE on ``(N, 128, 128, 3)`` uint8 natural ``faces`` against their seamed copies
    (draws from ``rng``; the weights start from ``torch.manual_seed(0)``)."""
    from augmenter.quality.failures import fail
    from augmenter.tensors import to_model_input

    torch.manual_seed(0)
    net = {"cnn": CnnDetector, "line": LineDetector}[arch]()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for step in range(steps):
        clean = faces[rng.integers(len(faces), size=batch)].copy()
        flip = rng.random(batch) < 0.5
        clean[flip] = clean[flip, :, ::-1]
        seamed = np.stack([fail(c, "seam", rng.uniform(0.1, 0.8), rng) for c in clean])
        x = to_model_input(torch.from_numpy(np.concatenate([clean, seamed])).permute(0, 3, 1, 2))
        loss = nn.functional.binary_cross_entropy_with_logits(net(x), torch.cat([torch.zeros(batch), torch.ones(batch)]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step == int(steps * 0.7):
            for group in opt.param_groups:
                group["lr"] = 3e-4
        if step % 500 == 0:
            log(f"step {step}: loss {loss.item():.3f}")
    return net.eval()


@torch.inference_mode()
def seam_probability(net: nn.Module, faces: np.ndarray) -> np.ndarray:
    """p(seam) of ``(N, 128, 128, 3)`` uint8 faces, ``(N,)`` in [0, 1]."""
    from augmenter.tensors import to_model_input

    return np.concatenate([torch.sigmoid(net(to_model_input(torch.from_numpy(faces[i:i + 256]).permute(0, 3, 1, 2)))
                                         ).numpy() for i in range(0, len(faces), 256)] or [np.zeros(0)])


def probe(net: nn.Module, q, faces: np.ndarray, paths: list[str]) -> dict:
    """The detector and ``rating - penalty * p`` on one held-out set (module docstring)."""
    from pipelines.default_q.measure import _rng, q_scores
    from pipelines.default_q.pool import damage

    p_clean, q_clean = seam_probability(net, faces), q_scores(q, faces)
    report = {"n": len(faces), "flagged_clean": float((p_clean > 0.5).mean())}
    for pen in PENALTIES:
        report[f"pass_0.6_penalty_{pen:g}"] = float(((q_clean - pen * p_clean / 10) >= 0.6).mean())
    for severity in (0.3, 0.6, 1.0):
        seamed = np.stack([damage(f, "seam", severity, _rng(0, p, "seam")) for f, p in zip(faces, paths)])
        p_seam, q_seam = seam_probability(net, seamed), q_scores(q, seamed)
        report[f"seam_{severity}_found"] = float((p_seam > 0.5).mean())
        for pen in PENALTIES:
            below = (q_seam - pen * p_seam / 10) < (q_clean - pen * p_clean / 10)
            report[f"seam_{severity}_below_source_penalty_{pen:g}"] = float(below.mean())
    return report


def main(argv: list[str] | None = None) -> dict:
    from augmenter.io import decode_image
    from augmenter.quality.model import load_q
    from augmenter.tensors import fit_face, load_face
    from pipelines.default_q.measure import near_frontal

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pool", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("q")
    parser.add_argument("out", type=Path)
    parser.add_argument("--arch", choices=("cnn", "line"), default="cnn")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--photos", type=int, default=16000)
    parser.add_argument("--study", type=Path, default=Path("../shared/data/human_realism/images"))
    args = parser.parse_args(argv)
    rows = pd.read_csv(args.pool / "ratings.csv")
    rows = rows[(rows["split"] == "train") & rows["source"].isin(NATURAL)]
    rng = np.random.default_rng(0)
    rows = rows.iloc[rng.permutation(len(rows))[:args.photos]]
    faces = np.stack([fit_face(decode_image(args.pool / p), 128) for p in rows["image"]])
    net = train_detector(faces, args.arch, args.steps, rng)
    held = json.loads(args.results.read_text())["heldout_real"]
    sets = {"fer_val": held["fer_val"], "fer_val_unaligned": held["fer_val_unaligned"],
            "yaleb_frontal": near_frontal(held["yaleb_heldout"]),
            "yaleb_all": held["yaleb_heldout"]}
    q, _ = load_q(args.q, "cpu")
    report = {"arch": args.arch, "steps": args.steps, "photos": len(faces)}
    for name, paths in sets.items():
        report[name] = probe(net, q, np.stack([load_face(p, 128) for p in paths]), paths)
        print(name, report[name], flush=True)
    images = sorted(p for p in args.study.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if images:
        p = seam_probability(net, np.stack([load_face(x, 128) for x in images]))
        report["human_study"] = {"n": len(p), "flagged": float((p > 0.5).mean()), "median": float(np.median(p))}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
