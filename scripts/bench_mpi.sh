#!/usr/bin/env bash
# Data-parallel against threads on one machine: one CleanCLIP epoch as 1 process x 2 threads, then
# as mpirun -np 2 x 1 thread, same model, data and global batch; prints each run's epoch line
# (pairs/s; for 2 ranks also rank 0's seconds per step in communication).
#   scripts/bench_mpi.sh [MODEL TRAIN_CSV] [BATCH (global, default 16)] [ROUNDS (default 1)]
# Without MODEL and TRAIN_CSV it makes them: an open_clip ViT-B-32 with random weights (torch.save)
# and 64 random 256x256 PNGs with captions, through $PYTHON (default venv/bin/python, which needs
# torch, open_clip_torch and pillow: see `make bench`).
set -euo pipefail
if [[ $# -ge 2 && ! $1 =~ ^[0-9]+$ ]]; then model=$1 csv=$2; shift 2; else model= csv=; fi
batch=${1:-16} rounds=${2:-1}
here=$(cd "$(dirname "$0")/.." && pwd)
tool=${CLEANCLIP_CLI:-$here/.build/release/cleanclip-cli}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [[ -z $model ]]; then
    python=${PYTHON:-$here/venv/bin/python}
    "$python" - "$out" <<'PY'
import os, random, sys
import numpy as np, open_clip, torch
from PIL import Image
out = sys.argv[1]
torch.manual_seed(0)
torch.save(open_clip.create_model("ViT-B-32").state_dict(), os.path.join(out, "vitb32.pt"))
rng, words = random.Random(0), "a photo of the red large dark car tree cat bright".split()
os.makedirs(os.path.join(out, "images"))
with open(os.path.join(out, "train.csv"), "w") as f:
    f.write("image,caption\n")
    for i in range(64):
        pixels = np.random.default_rng(i).integers(0, 256, (256, 256, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(out, "images", f"{i}.png"))
        f.write(f"images/{i}.png,{' '.join(rng.choice(words) for _ in range(8))}\n")
PY
    model=$out/vitb32.pt csv=$out/train.csv
fi
common=(finetune --model "$model" --train-data "$csv" --inmodal --batch-size "$batch" --epochs 1 --warmup-steps 1)
for ((r = 1; r <= rounds; r++)); do
    echo "round $r: 1 process x 2 threads"
    "$tool" "${common[@]}" --threads 2 --out "$out/one.safetensors" 2>/dev/null | grep '^epoch'
    echo "round $r: 2 ranks x 1 thread"
    mpirun --allow-run-as-root --oversubscribe -np 2 "$tool" "${common[@]}" --threads 1 --out "$out/two.safetensors" 2>/dev/null | grep '^epoch'
done
