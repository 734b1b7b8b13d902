"""Training speed of every recognition backbone on this machine: images/s of one optimizer step
(forward, margin / softmax head, backward, update) on batches already in memory, all measured in one run.

Usage: .venv/bin/python benchmarks/recognition_speed.py [--batch-size 32] [--steps 3] [--device cpu]
"""
from __future__ import annotations

import argparse
import time

import torch

from augmenter.nets.backbones import build_backbone
from augmenter.device import resolve_device
from recognition.heads import ClassifierHead

CASES = (  # (backbone, image size, head, embedding size)
    ("small_resnet", 48, "softmax", 256),
    ("mobilefacenet", 112, "arcface", 512),
    ("iresnet18", 112, "arcface", 512),
    ("iresnet50", 112, "arcface", 512),
    ("inception_resnet_v1", 160, "arcface", 512),
)


def step_rate(name: str, size: int, head_kind: str, dim: int, batch: int, steps: int, device) -> tuple[float, int]:
    torch.manual_seed(0)
    backbone = build_backbone(name, dim, size).to(device).train()
    head = ClassifierHead(head_kind, dim, 1000).to(device)
    params = list(backbone.parameters()) + list(head.parameters())
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    x = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    y = torch.randint(0, 1000, (batch,), device=device)

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(head(backbone(x), y), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start), sum(p.numel() for p in backbone.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"device {device}, {torch.get_num_threads()} threads, batch {args.batch_size}, 1000 classes")
    rates = {}
    for name, size, head, dim in CASES:
        rate, params = step_rate(name, size, head, dim, args.batch_size, args.steps, device)
        rates[name] = rate
        print(f"{name:22s} {size:4d} px  {params / 1e6:6.2f}M params  {rate:8.1f} training images/s")
    base = rates["mobilefacenet"]
    print("relative to mobilefacenet: " + ", ".join(f"{k} {v / base:.2f}" for k, v in rates.items()))


if __name__ == "__main__":
    main()
