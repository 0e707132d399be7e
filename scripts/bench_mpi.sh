#!/usr/bin/env bash
# Data-parallel against threads on one machine: one CleanCLIP epoch as 1 process x 2 threads, then
# as mpirun -np 2 x 1 thread, same model, data and global batch; prints each run's epoch line
# (pairs/s; for 2 ranks also rank 0's seconds per step in communication).
#   scripts/bench_mpi.sh MODEL TRAIN_CSV [BATCH (global, default 16)] [ROUNDS (default 1)]
set -euo pipefail
model=$1 csv=$2 batch=${3:-16} rounds=${4:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
tool=${CLEANCLIP_CLI:-$here/.build/release/cleanclip-cli}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
common=(finetune --model "$model" --train-data "$csv" --inmodal --batch-size "$batch" --epochs 1 --warmup-steps 1)
for ((r = 1; r <= rounds; r++)); do
    echo "round $r: 1 process x 2 threads"
    "$tool" "${common[@]}" --threads 2 --out "$out/one.safetensors" 2>/dev/null | grep '^epoch'
    echo "round $r: 2 ranks x 1 thread"
    mpirun --allow-run-as-root --oversubscribe -np 2 "$tool" "${common[@]}" --threads 1 --out "$out/two.safetensors" 2>/dev/null | grep '^epoch'
done
