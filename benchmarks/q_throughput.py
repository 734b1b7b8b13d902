"""Q scoring throughput: the scoring path (decode in workers + forward) vs the forward pass alone.

For each Q variant, measured in one run on the same images and batch size:
  forward-only  images/s of net(x) on batches already in memory
  end-to-end    images/s of augmenter.quality.score.predict_ratings on PNG files (decode, resize, forward)
and their ratio (the scoring path should reach at least 80% of the forward-only rate), beside the
rate of decoding alone in one process: when the network is faster than decoding, the CPU cores are
shared by both and the ratio is bounded by decoding, not by the pipeline.

Usage: .venv/bin/python benchmarks/q_throughput.py [--images 512] [--batch-size 64] [--workers 2]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from augmenter.nets.quality import QNet, QNetConfig
from augmenter.quality.images import FaceImages
from augmenter.quality.score import predict_ratings
from augmenter.sample.tree import SampleConfig, render_sample

VARIANTS = {
    "64 px, base width 16 (demo Q)": QNetConfig(image_size=64, base_width=16),
    "128 px, base width 16 (default Q)": QNetConfig(image_size=128, base_width=16),
    "128 px, base width 64 (paper)": QNetConfig(image_size=128, base_width=64),
}


def forward_rate(net: QNet, n: int, batch_size: int) -> float:
    x = torch.rand(batch_size, 3, net.config.image_size, net.config.image_size) * 2 - 1
    with torch.inference_mode():
        net(x)  # warm up
        start = time.perf_counter()
        done = 0
        while done < n:
            net(x)
            done += batch_size
    return done / (time.perf_counter() - start)


def decode_rate(paths, size: int) -> float:
    images = FaceImages(paths, size)
    start = time.perf_counter()
    for i in range(len(images)):
        images[i]
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths_by_size = {}
        for size in (64, 128):
            root = Path(tmp) / str(size)
            render_sample(root, SampleConfig(identities=1, size=size))
            files = sorted(root.rglob("*.png"))
            paths_by_size[size] = (files * (args.images // len(files) + 1))[: args.images]
        for name, config in VARIANTS.items():
            net = QNet(config).eval()
            paths = paths_by_size[config.image_size]
            predict_ratings(net, paths[: args.batch_size], batch_size=args.batch_size, workers=0)  # warm up
            start = time.perf_counter()
            predict_ratings(net, paths, batch_size=args.batch_size, workers=args.workers)
            end_to_end = len(paths) / (time.perf_counter() - start)
            forward = forward_rate(net, len(paths), args.batch_size)
            decode = decode_rate(paths, config.image_size)
            print(f"{name:30s} forward-only {forward:7.0f} img/s  end-to-end {end_to_end:7.0f} img/s  "
                  f"ratio {end_to_end / forward:.2f}  (decode alone, 1 process: {decode:6.0f} img/s)")


if __name__ == "__main__":
    main()
