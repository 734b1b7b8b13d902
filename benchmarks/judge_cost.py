"""What the judge costs in `augment expand`'s forward pass: each part of the built-in tear check on and off.

Measured in one run, on the engine's own batches (16 sources x 4 variants at the output size, the default field
generator, round-16 Q), alternating the settings so that both sides share the machine's drift:
  Q alone              the generator and Q (``--tear-check none``)
  + check, no rules    the tear check's seam network (rules off)
  + first rules        detail kept, colour on a grey face, the bound by the source's score
  + light rules        light from black, texture in new light (the built-in check as shipped)
Each line prints variants/s (median of the repetitions after a warm-up) and its ratio to Q alone.

Usage: .venv/bin/python benchmarks/judge_cost.py [--size 112] [--repeats 7]
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from augmenter.expand.engine import Models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.manual_seed(0)
    models = Models.load(None, None, torch.device("cpu"), image_size=args.size)
    check, shipped = models.tear_check, models.tear_check.rules
    settings = {
        "Q alone": (None, None),
        "+ check, no rules": (check, None),
        "+ first rules": (check, dataclasses.replace(shipped, black_start=None, texture_start=None)),
        "+ light rules (shipped)": (check, shipped),
    }
    x = torch.rand(16, 3, args.size, args.size) * 2 - 1
    take = torch.arange(16).repeat_interleave(4)
    keep = torch.full((64,), -1)
    light = torch.randint(0, len(models.translator.lighting), (64,), generator=torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {name: [] for name in settings}
    for repeat in range(args.repeats + 1):
        for name, (net, rules) in settings.items():
            models.tear_check = net
            if net is not None:
                net.rules = rules
            start = time.perf_counter()
            models.forward(x, light, keep, take)
            if repeat:  # the first round warms up
                times[name].append(time.perf_counter() - start)
    base = 64 / statistics.median(times["Q alone"])
    print(f"{torch.get_num_threads()} threads, {args.size} px, 16 sources x 4 variants, {args.repeats} repeats")
    for name, t in times.items():
        rate = 64 / statistics.median(t)
        print(f"  {name:26s} {rate:7.1f} variants/s   ratio to Q alone {rate / base:.2f}")


if __name__ == "__main__":
    main()
