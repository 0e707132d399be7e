"""`make bench`: cleanclip beside PyTorch (open_clip) and onnxruntime on this machine, one table.

    python scripts/bench.py [--rounds 3] [--batch 16] [--threads 2] [--iterations 3]
                            [--models ViT-B/32,RN50] [--training] [--cleanclip bin/cleanclip]

Each round runs every engine once per model, one process at a time and interleaved (cleanclip,
open_clip, onnxruntime, then the next model), so that all of them see the same machine; the
table shows each figure's median over rounds and the medians of the per-round ratios
(cleanclip / open_clip, and cleanclip / the faster reference) with their range over the rounds
in brackets. Below the table, the image
tower's and the training step's GFLOP/s, each engine's, against the measured sgemm and the
cores' arithmetic limit. Nothing is set in the environment: OpenBLAS runs the kernel cleanclip
chooses (printed first), PyTorch and onnxruntime their own.

The references need torch, open_clip_torch, onnx and onnxruntime in the Python that runs this
script (e.g. `python3 -m venv venv && venv/bin/pip install torch open_clip_torch onnx
onnxruntime`); without them only cleanclip's figures are printed.
"""
import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_json(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def have(*modules):
    return all(importlib.util.find_spec(m) is not None for m in modules)


def reference_name(name):
    return name.replace("/", "-")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--models", default="ViT-B/32,RN50")
    p.add_argument("--training", action="store_true", help="also time CleanCLIP training steps (slow)")
    p.add_argument("--cleanclip", default=str(ROOT / "bin" / "cleanclip"))
    a = p.parse_args()
    common = ["--batch", str(a.batch), "--threads", str(a.threads), "--iterations", str(a.iterations)]
    torch_ok, ort_ok = have("torch", "open_clip"), have("torch", "open_clip", "onnx", "onnxruntime")
    py = sys.executable

    # results[engine][figure] = [value per round]; figures are (model, what)
    results = {"cleanclip": {}, "open_clip": {}, "onnxruntime": {}}
    versions, ours_meta = {}, None

    def add(engine, model, what, value):
        results[engine].setdefault((model, what), []).append(value)

    for r in range(a.rounds):
        print(f"round {r + 1}/{a.rounds} ...", file=sys.stderr, flush=True)
        for model in a.models.split(","):
            ours = run_json([a.cleanclip, "bench", "--json", "--models", model] + common)
            ours_meta = ours
            m = ours["models"][model]
            add("cleanclip", model, "image", m["image"]["per_second"])
            add("cleanclip", model, "image GFLOP/s", m["image"]["gflops"])
            add("cleanclip", model, "image sgemm GFLOP/s", ours["sgemm_gflops"])
            add("cleanclip", model, "image limit GFLOP/s", ours["peak_gflops"])
            for label, entry in m["text"].items():
                add("cleanclip", model, f"text {label}", entry["per_second"])
            if torch_ok:
                ref = run_json([py, "scripts/bench_torch.py", "--json", "--models", reference_name(model)] + common)
                versions["open_clip"] = f"open_clip {ref['open_clip']}, torch {ref['torch']}"
                rm = ref["models"][reference_name(model)]
                add("open_clip", model, "image", rm["image"]["per_second"])
                for label, entry in rm["text"].items():
                    add("open_clip", model, f"text {label}", entry["per_second"])
            if ort_ok:
                ref = run_json([py, "scripts/bench_onnxruntime.py", "--json", "--models", reference_name(model)] + common)
                versions["onnxruntime"] = f"onnxruntime {ref['onnxruntime']}"
                rm = ref["models"][reference_name(model)]
                add("onnxruntime", model, "image", rm["image"]["per_second"])
                add("onnxruntime", model, "text 77 tokens", rm["text"]["77 tokens"]["per_second"])
        if a.training:
            for model in a.models.split(","):
                ours = run_json([a.cleanclip, "bench", "--json", "--training", "--no-inference", "--models", model] + common)
                t = ours["models"][model]["training"]
                add("cleanclip", model, "CleanCLIP step", t["pairs_per_second"])
                add("cleanclip", model, "peak RSS (GB)", t["peak_rss_bytes"] / 1e9)
                add("cleanclip", model, "step GFLOP/s", t["gflops"])
                add("cleanclip", model, "step sgemm GFLOP/s", ours["sgemm_gflops"])
                add("cleanclip", model, "step limit GFLOP/s", ours["peak_gflops"])
                if torch_ok:
                    ref = run_json([py, "scripts/bench_torch_train.py", "--json", "--models", reference_name(model)] + common)
                    t = ref["models"][reference_name(model)]["training"]
                    add("open_clip", model, "CleanCLIP step", t["pairs_per_second"])
                    add("open_clip", model, "peak RSS (GB)", t["peak_rss_bytes"] / 1e9)

    print(f"cpu:   {ours_meta['cpu']}")
    print(f"blas:  {ours_meta['blas']}")
    print(f"setup: {a.threads} threads, batch {a.batch}, {a.rounds} rounds x {a.iterations} iterations, "
          f"nothing set in the environment ({', '.join(versions.values()) or 'no reference engines installed'})")
    print()
    print("| model | figure | cleanclip | open_clip | onnxruntime | cleanclip / open_clip | cleanclip / faster reference |")
    print("|---|---|---|---|---|---|---|")
    med = lambda xs: statistics.median(xs) if xs else None
    fmt = lambda v: "" if v is None else f"{v:.2f}"
    # A ratio's median over rounds, and with several rounds its range: on a noisy host the
    # rounds' spread says how far one median can be trusted.
    ratio = lambda xs: "" if not xs else fmt(med(xs)) + "x" + (f" ({min(xs):.2f}-{max(xs):.2f})" if len(xs) > 1 else "")
    for (model, what), ours in results["cleanclip"].items():
        if what.endswith("GFLOP/s"):
            continue
        refs = [results[e].get((model, what), []) for e in ("open_clip", "onnxruntime")]
        to_open_clip, to_faster = [], []
        for i, v in enumerate(ours):
            if i < len(refs[0]):
                to_open_clip.append(v / refs[0][i])
            per_round = [ref[i] for ref in refs if i < len(ref)]
            if per_round:
                # Peak memory: lower is better, so the ratio compares with the smaller reference.
                best = min(per_round) if what.startswith("peak") else max(per_round)
                to_faster.append(v / best)
        unit = {"image": " img/s", "CleanCLIP step": " pairs/s"}.get(what, "" if what.startswith("peak") else " txt/s")
        print(f"| {model} | {what}{'' if what.startswith('peak') else ' (' + unit.strip() + ')'} | {fmt(med(ours))} | "
              f"{fmt(med(refs[0]))} | {fmt(med(refs[1]))} | {ratio(to_open_clip)} | {ratio(to_faster)} |")
    print()
    # GFLOP/s against two yardsticks measured in the same runs: OpenBLAS's sgemm, and the cores'
    # arithmetic limit (multiply-adds in registers, which no kernel can beat).
    print(f"the cores' limit: {ours_meta['peak_gflops']:.1f} GFLOP/s ({ours_meta['peak_instructions']}) in the last run")
    for model in a.models.split(","):
        ours = results["cleanclip"]
        for label, figure, prefix in (("image tower", "image", "image "), ("CleanCLIP step", "CleanCLIP step", "step ")):
            g = med(ours.get((model, prefix + "GFLOP/s"), []))
            sgemm = med(ours.get((model, prefix + "sgemm GFLOP/s"), []))
            limit = med(ours.get((model, prefix + "limit GFLOP/s"), []))
            if not (g and sgemm and limit):
                continue
            line = (f"{model}: {label} {g:.1f} GFLOP/s (nominal FLOPs{', 3x the forward' if figure != 'image' else ''}), "
                    f"{100 * g / sgemm:.0f}% of sgemm ({sgemm:.1f}), {100 * g / limit:.0f}% of the cores' limit ({limit:.1f})")
            # The references do the same nominal FLOPs per item.
            flops_per_item = g / med(ours[(model, figure)])
            for engine in ("open_clip", "onnxruntime"):
                rate = med(results[engine].get((model, figure), []))
                if rate:
                    line += f"; {engine} {rate * flops_per_item:.1f} ({100 * rate * flops_per_item / limit:.0f}%)"
            print(line)


if __name__ == "__main__":
    main()
