#!/usr/bin/env bash
# For a lent GPU: both pipeline flows of issue #9 at 128 px on the real stand-ins (../shared/data), in
# about ten minutes of device time — LEGAN on Extended Yale B + FER-2013, a stand-in Q, the FER-2013
# rebalancing with the classifier comparison, and the Yale B verification experiment. Not run yet: no GPU
# was lent to the sessions that wrote it. Needs a .venv (make setup) and ../shared/data; writes under $OUT.
set -euo pipefail
OUT=${OUT:-build/gpu_pipelines}
DATA=${DATA:-../shared/data}
BIN=.venv/bin
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
$BIN/augment train-legan --data "yaleb:$DATA/yaleb" --data "fer2013:$DATA/fer2013" --out "$OUT/legan128" \
    --image-size 128 --batch-size 32 --paired-weight 10 --holdout 0.3 --minutes 5 --steps 20000 \
    --grid-every 1000 --device cuda | tail -3
$BIN/python -m pipelines.stand_in_q --data "fer2013:$DATA/fer2013" --data "yaleb:$DATA/yaleb" --out "$OUT/q" | tail -2
$BIN/train-expression --data "fer2013:$DATA/fer2013" --out "$OUT/fer_none" --epochs 8 --device cuda | tail -2
$BIN/rebalance-affectnet --dataset fer2013 --root "$DATA/fer2013" --out "$OUT/rebal" --legan "$OUT/legan128/last.pt" \
    --q "$OUT/q/q_run/best.pt" --expression-model "$OUT/fer_none/best.pt" --budget 3 --batch-size 256 \
    --train --also sampler,reweight --epochs 8 --seeds 1 --device cuda | tail -30
$BIN/augment-verification --root "$DATA/yaleb" --out "$OUT/yale" --legan "$OUT/legan128/last.pt" \
    --q "$OUT/q/q_run/best.pt" --seeds 1 --device cuda | tail -20
