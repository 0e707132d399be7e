"""PyTorch CPU reference figures for CleanCLIP finetuning steps (cleanclip's TrainingBenchmark).

    python scripts/bench_torch_train.py [--threads 2] [--batch 16] [--iterations 3] [--models ViT-B-32,RN50] [--json]

One step, as CleanCLIP's train.py with --inmodal: B original + B augmented images and B + B
captions through the model in one forward pass (train mode: BatchNorm uses batch statistics),
L2-normalised embeddings, L = (CE(s I T^T) + CE(s T I^T))/2 + (CE(s I I~^T) + CE(s T T~^T))/2,
backward, AdamW (CleanCLIP's weight-decay groups), logit_scale clamped. Random weights
(open_clip, QuickGELU as OpenAI's models) and random data; captions are 8-20 random tokens
padded to open_clip's 77 positions (open_clip always runs the full context).
Prints pairs/s (original pairs; each has an augmented view too) and peak RSS (ru_maxrss).
Run one model per process for a clean peak-memory figure.
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn.functional as F
import open_clip


def step(model, opt, pixels, toks):
    b = pixels.shape[0] // 2
    opt.zero_grad(set_to_none=True)
    img = F.normalize(model.encode_image(pixels), dim=-1)
    txt = F.normalize(model.encode_text(toks), dim=-1)
    s = model.logit_scale.exp()
    t = torch.arange(b)
    i, tt, ia, ta = img[:b], txt[:b], img[b:], txt[b:]
    logits = s * i @ tt.t()
    loss = (F.cross_entropy(logits, t) + F.cross_entropy(logits.t(), t)) / 2
    loss = loss + (F.cross_entropy(s * i @ ia.t(), t) + F.cross_entropy(s * tt @ ta.t(), t)) / 2
    loss.backward()
    opt.step()
    with torch.no_grad():
        model.logit_scale.clamp_(0, math.log(100))
    return loss.item()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--models", default="ViT-B-32,RN50")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    report = {"torch": torch.__version__, "threads": torch.get_num_threads(), "batch": a.batch, "models": {}}
    if not a.json:
        print(f"torch {torch.__version__}, threads: {torch.get_num_threads()}, batch: {a.batch} + {a.batch} augmented")
    for name in a.models.split(","):
        model = open_clip.create_model(name, pretrained=None, force_quick_gelu=True).train()
        named = list(model.named_parameters())
        nd = ("bn", "ln", "bias", "logit_scale")
        opt = torch.optim.AdamW([
            {"params": [p for n, p in named if not any(k in n for k in nd)], "weight_decay": 0.1},
            {"params": [p for n, p in named if any(k in n for k in nd)], "weight_decay": 0.0}],
            lr=1e-5, betas=(0.9, 0.999), eps=1e-8)
        pixels = torch.randn(2 * a.batch, 3, 224, 224)
        toks = torch.zeros(2 * a.batch, 77, dtype=torch.long)
        for r in range(2 * a.batch):
            n = int(torch.randint(8, 21, ()).item())
            toks[r, 0] = 49406
            toks[r, 1:n + 1] = torch.randint(1, 49405, (n,))
            toks[r, n + 1] = 49407
        step(model, opt, pixels, toks)  # warm-up
        start = time.perf_counter()
        for _ in range(a.iterations):
            step(model, opt, pixels, toks)
        el = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report["models"][name] = {"training": {"pairs_per_second": a.batch * a.iterations / el,
                                               "seconds_per_step": el / a.iterations, "peak_rss_bytes": int(peak * 1048576)}}
        if not a.json:
            print(f"{name:9} CleanCLIP step  {a.batch * a.iterations / el:7.3f} pairs/s  ({el / a.iterations:6.2f} s/step)  peak RSS {peak:.0f} MiB")
    if a.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
