"""Sample renderer throughput: all 19 lights of a face at once vs one image at a time.

Prints images/s for both at 64 and 128 px, and their ratio, measured in one run.
Usage: .venv/bin/python benchmarks/render_speed.py [--faces 3]
"""
from __future__ import annotations

import argparse
import time

from augmenter.attributes import LIGHTING
from augmenter.sample.identity import make_identity
from augmenter.sample.render import FaceRenderer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--faces", type=int, default=3, help="(identity, expression) pairs per measurement")
    args = parser.parse_args()
    for size in (64, 128):
        renderer = FaceRenderer(size)
        renderer.render(make_identity(0, 0), "neutral", "ambient")  # warm caches (basis, triangles)
        faces = [(make_identity(1, i), ("smile", "scream", "surprise")[i % 3]) for i in range(args.faces)]
        start = time.perf_counter()
        for identity, expression in faces:
            renderer.render_lights(identity, expression, LIGHTING)
        shared = len(faces) * len(LIGHTING) / (time.perf_counter() - start)
        start = time.perf_counter()
        for identity, expression in faces:
            for light in LIGHTING:
                renderer.render(identity, expression, light)
        single = len(faces) * len(LIGHTING) / (time.perf_counter() - start)
        print(f"{size:>3} px: {shared:6.1f} images/s all lights at once, {single:6.1f} images/s one by one, "
              f"ratio {shared / single:.2f}x")


if __name__ == "__main__":
    main()
