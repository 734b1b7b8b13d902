#!/usr/bin/env bash
# For a lent GPU (the `device` tool runs this from the repository root): ~10 minutes of LEGAN training
# at 128 px with bfloat16 mixed precision on a freshly rendered sample, then the held-out figures.
# Needs a .venv carried over or created here (make setup). Everything it writes goes under $OUT.
set -euo pipefail
OUT=${OUT:-build/gpu}
A=.venv/bin/augment
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
.venv/bin/python benchmarks/gan_step_speed.py --device cuda --batch-size 32 --steps 20 | tee "$OUT/step_speed.txt"
$A sample --identities 24 --size 128 --out "$OUT/sample" | tail -2
$A train-attr --data "sample:$OUT/sample" --out "$OUT/attr" --image-size 128 --epochs 6 --device cuda | tail -3
$A train-legan --data "sample:$OUT/sample" --out "$OUT/legan128" --image-size 128 --batch-size 32 \
    --paired-weight 10 --q augmenter/assets/demo_q.pt --attr "$OUT/attr/best.pt" --steps 6000 --minutes 10 \
    --eval-every 250 --grid-every 500 --device cuda | tail -4
cp "$OUT/legan128/evals.csv" "$OUT/evals.csv"
