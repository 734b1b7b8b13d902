"""Alignment under harsh light: how many Extended Yale B faces MTCNN finds with and without the
brightness-normalised retries of :class:`augmenter.align.FaceAligner`, and how accurate the recovered
landmarks are.

Every image of a Yale B subject shares one head pose (the 64 flashes fire within seconds), so the
subject's median landmarks over its near-frontal lights (light under 25 degrees off the camera axis,
found without retries) are a reference: a landmark's error is its distance to that median, in source
pixels (168x192 crops). Prints found rates overall, by light angle, and the error of the faces found on
the original versus those recovered by a retry, all measured in one run.

Usage: .venv/bin/python benchmarks/align_harsh_light.py --root ../shared/data/yaleb \\
           [--subjects yaleB05,yaleB16,...] [--min-score 0.9]
"""
from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict

import numpy as np

from augmenter.align import FaceAligner
from augmenter.datasets import read_dataset
from augmenter.io import decode_image

#: Subjects not used when the retry normalisations were chosen (those were yaleB03, yaleB11, yaleB20).
DEFAULT_SUBJECTS = "yaleB05,yaleB09,yaleB16,yaleB22,yaleB25,yaleB28"


def off_axis_angle(azimuth: float, elevation: float) -> float:
    """Angle in degrees between the light and the camera axis."""
    a, e = math.radians(azimuth), math.radians(elevation)
    return math.degrees(math.acos(max(-1.0, min(1.0, math.cos(a) * math.cos(e)))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", required=True, help="Extended Yale B root (yaleBNN/ folders)")
    parser.add_argument("--subjects", default=DEFAULT_SUBJECTS, help="comma-separated subject folders")
    parser.add_argument("--min-score", type=float, default=0.9)
    args = parser.parse_args()

    wanted = set(args.subjects.split(","))
    listing = read_dataset("yaleb", args.root)
    records = [r for r in listing.records if r.identity in wanted and "azimuth" in r.extra]
    images = [decode_image(r.path) for r in records]
    angles = np.array([off_axis_angle(float(r.extra["azimuth"]), float(r.extra["elevation"])) for r in records])
    subject = np.array([r.identity for r in records])

    runs = {}
    for name, retry in (("original only", ()), ("with retries", None)):
        kwargs = {} if retry is None else {"retry": retry}
        aligner = FaceAligner(image_size=112, min_score=args.min_score, **kwargs)
        start = time.perf_counter()
        results = aligner.align(images)
        runs[name] = (results, time.perf_counter() - start)

    base = runs["original only"][0]
    reference = {}
    for s in sorted(wanted):
        near = [r.landmarks for r, sub, a in zip(base, subject, angles) if sub == s and a < 25 and r.found]
        if near:
            reference[s] = np.median(np.stack(near), axis=0)

    print(f"{len(records)} images of {len(wanted)} subjects; min_score {args.min_score}")
    bins = [(0, 25), (25, 60), (60, 90), (90, 181)]
    for name, (results, seconds) in runs.items():
        found = np.array([r.found for r in results])
        by_bin = ", ".join(f"{lo}-{hi if hi < 181 else 180} deg {found[(angles >= lo) & (angles < hi)].mean():.0%}"
                           f" of {int(((angles >= lo) & (angles < hi)).sum())}" for lo, hi in bins)
        harsh = angles > 60
        print(f"{name:>14}: found {found.mean():.1%} ({found.sum()}/{len(found)}); lit > 60 deg off axis "
              f"{found[harsh].mean():.1%}; {by_bin}; {len(images) / seconds:.1f} images/s")

    errors = defaultdict(list)
    for r, s in zip(runs["with retries"][0], subject):
        if r.found and s in reference:
            errors[r.detected_on].append(float(np.linalg.norm(r.landmarks - reference[s], axis=1).mean()))
    for on, errs in errors.items():
        print(f"landmark error, found on {on:>12}: n={len(errs)}, median {np.median(errs):.1f} px, "
              f"90th percentile {np.percentile(errs, 90):.1f} px (mean over the 5 points, 168x192 source)")
    recovered = sum(len(v) for k, v in errors.items() if k != "original")
    print(f"recovered by retries: {recovered}; ratio found with/without retries "
          f"{np.mean([r.found for r in runs['with retries'][0]]) / max(np.mean([r.found for r in base]), 1e-9):.2f}")


if __name__ == "__main__":
    main()
