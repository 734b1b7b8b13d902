"""``augment expand`` speed: the whole pipeline against the models alone, measured in one run.

Prints, on the same sources, batch size and device:
  forward-only  variants/s of generator + Q (with the built-in tear check, as ``expand`` judges by default) on
                source tensors already in memory, batched exactly as
                the engine batches them (``batch_size`` sources x ``per_image`` variants per call);
  end-to-end    variants/s of ``run_expand`` (decoding in DataLoader workers, generator + Q, keep
                decisions, encoding and writing in threads, the journal) over its processing loop, and
                over the whole call (model loading, listing, manifest, summary and report included);
  the ratio end-to-end / forward-only, and the generator's achieved FLOP/s beside a plain float32
  matmul's on this machine (FLOPs counted by ``torch.utils.flop_counter``, a multiply-add = 2 FLOPs).

Each output size in ``--sizes`` (default 64 and 112 px: users' aligned crops are 112-128 px) is
measured in turn in the same run, so the lines compare.

Usage: .venv/bin/python benchmarks/expand_bench.py [--root SAMPLE_DIR] [--per-image 4] [--batch-size 16]
       [--workers 1] [--device cpu] [--legan demo] [--sizes 64,112]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from augmenter.expand.config import ExpandConfig
from augmenter.expand.engine import Models, make_plan, run_expand, target_vocabulary
from augmenter.expand.sources import builtin_sample, open_sources
from augmenter.tensors import fit_face, to_model_input
from augmenter.gan.models import one_hot
from augmenter.io import decode_image
from augmenter.device import resolve_device


def preload(records, size: int) -> torch.Tensor:
    return torch.from_numpy(np.stack([fit_face(decode_image(r.path), size) for r in records])).permute(0, 3, 1, 2)


def forward_only(models: Models, images: torch.Tensor, plan, device) -> tuple[float, float]:
    """(variants/s of G + Q, variants/s of G alone) over the plan's chunks."""
    t = models.translator
    li = {n: i for i, n in enumerate(t.lighting)}
    ei = {n: i for i, n in enumerate(t.expression)}
    batches = []
    for _, sources in plan.chunks:
        variants = [v for s in sources for v in plan.variants[s]]
        batches.append((torch.tensor([v.source for v in variants]),
                        torch.tensor([li[v.target.lighting] if v.target.lighting else -1 for v in variants]),
                        torch.tensor([ei[v.target.expression] if v.target.expression else -1 for v in variants])))
    source = to_model_input(images, device)
    rates = []
    for with_q in (True, False):
        models.forward(source[batches[0][0]], batches[0][1], batches[0][2])  # warm-up
        sync(device)
        start, n = time.perf_counter(), 0
        with torch.inference_mode():
            for rows, light, expr in batches:
                x = source[rows]
                if with_q:
                    models.forward(x, light, expr)
                else:
                    t.generator(x, one_hot(light.to(device), len(t.lighting)), one_hot(expr.to(device), len(t.expression)))
                n += len(rows)
        sync(device)
        rates.append(n / (time.perf_counter() - start))
    return rates[0], rates[1]


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def generator_flops(models: Models, device) -> int:
    t = models.translator
    x = torch.zeros(1, 3, t.image_size, t.image_size, device=device)
    # a joint edit (the first light, the last expression): an all-zero target is "keep", which a field
    # generator skips entirely
    c_l, c_e = torch.zeros(1, len(t.lighting), device=device), torch.zeros(1, len(t.expression), device=device)
    c_l[0, 0] = c_e[0, -1] = 1
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        t.generator(x, c_l, c_e)
    return counter.get_total_flops()


def matmul_flops_per_s(device, n: int = 1024, reps: int = 20) -> float:
    a, b = torch.rand(n, n, device=device), torch.rand(n, n, device=device)
    a @ b
    sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - start)


def measure(root: Path, out: Path, args, size: int | None, device) -> dict:
    """The forward-only and end-to-end figures of one output size (``None``: the generator's own)."""
    config = ExpandConfig(dataset="sample", root=str(root), out=str(out), per_image=args.per_image,
                          batch_size=args.batch_size, workers=args.workers, device=str(device), legan=args.legan,
                          image_size=size)
    models = Models.load(args.legan, None, device, size)
    t = models.translator
    listing = open_sources("sample", str(root), None, out.parent / "unused")
    plan = make_plan(config, listing, target_vocabulary("all", t.lighting, "lighting", t.path),
                     target_vocabulary("all", t.expression, "expression", t.path))
    images = preload(listing.records, t.image_size)
    fwd_gq, fwd_g = forward_only(models, images, plan, device)
    start = time.perf_counter()
    result = run_expand(config, log=lambda m: None)
    whole = result.summary["variants"] / (time.perf_counter() - start)
    return {"size": t.image_size, "generator": t.path.name, "sources": plan.n_sources, "fwd_gq": fwd_gq, "fwd_g": fwd_g,
            "loop": result.summary["variants_per_s"], "whole": whole, "flops": generator_flops(models, device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=None, help="A rendered sample (default: render the built-in one).")
    parser.add_argument("--per-image", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--legan", default=None, help="Generator (default: the built-in field generator; 'demo').")
    parser.add_argument("--sizes", default="64,112",
                        help="Output sizes in px, measured one after the other in this run (a fields generator "
                             "takes any; 'native' = the generator's own).")
    args = parser.parse_args()
    device = resolve_device(args.device)
    sizes = [None if s == "native" else int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root or builtin_sample(Path(tmp) / "sample")
        rows = [measure(root, Path(tmp) / f"out{k}", args, size, device) for k, size in enumerate(sizes)]
        matmul = matmul_flops_per_s(device)
    print(f"device {device}, threads {torch.get_num_threads()}, {rows[0]['sources']} sources x {args.per_image} "
          f"variants, batch {args.batch_size} sources ({args.batch_size * args.per_image} images per forward), "
          f"{args.workers} decoding worker(s), generator {rows[0]['generator']}")
    for r in rows:
        print(f"{r['size']:4d} px  forward-only G + Q + check: {r['fwd_gq']:8.1f} variants/s (G alone {r['fwd_g']:.1f})   "
              f"end-to-end loop: {r['loop']:8.1f} (ratio {r['loop'] / r['fwd_gq']:.2f})   "
              f"whole call: {r['whole']:8.1f} (ratio {r['whole'] / r['fwd_gq']:.2f})")
        print(f"        generator {r['flops'] / 1e9:.3f} GFLOP per image -> {r['flops'] * r['fwd_g'] / 1e9:.1f} GFLOP/s "
              f"achieved ({r['flops'] * r['fwd_g'] / matmul:.0%} of a float32 1024^3 matmul, {matmul / 1e9:.1f} GFLOP/s)")
    if len(rows) > 1:
        print(f"{rows[1]['size']} px / {rows[0]['size']} px end-to-end speed: {rows[1]['loop'] / rows[0]['loop']:.2f}")


if __name__ == "__main__":
    main()
