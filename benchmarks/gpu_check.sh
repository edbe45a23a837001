#!/usr/bin/env bash
# The GPU check: under 8 minutes on one GPU. Here, once: `python benchmarks/gpu_check.py prepare .gpu`
# (.gpu is git-ignored; carry it). There: `bash benchmarks/gpu_check.sh`; results land in $OUT.
#  1. TALLRec and RecLoRA end to end on `synth` through `recbench run`, on a random-weight Llama on
#     CUDA (the paper profile's code path: bf16 weights, the LM loop, RecLoRA's CRM stage first);
#  2. RecLoRA vs peft LoRA training / scoring step time at Vicuna-7B's shape in bf16.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 RECBENCH_CACHE=/tmp/recbench-cache
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
$PY benchmarks/gpu_check.py backbone .gpu/tokenizer /tmp/tiny-llama
SIZES=${SIZES:-"--set n_train=256 --set n_valid=64 --set n_test=256 --set epochs=1 --set batch_size=32 --set micro_batch_size=16 --set eval_batch_size=64 --set device=$DEVICE"}
for model in tallrec reclora; do
  $PY cli.py run --model "$model" --dataset synth --backbone /tmp/tiny-llama --store /tmp/gpu-runs \
    --set item_vectors=lm:/tmp/tiny-llama $SIZES 2>&1 | grep -v "it/s\]" | tee "$OUT/$model.log" | tail -n 25
done
$PY cli.py leaderboard --store /tmp/gpu-runs --table 2 | tee "$OUT/table2.md" | tail -n 30
if [ "$DEVICE" = cuda ]; then
  $PY benchmarks/bench_reclora.py --shape vicuna-7b --device cuda --dtype bfloat16 --batch 4 --seq 512 --steps 5 --warmup 2 --n-meta 1,16 2>&1 | tee "$OUT/reclora-vs-lora-7b.txt"
fi
