"""Checks a demo report folder end to end: its files, the structure and ranges of results.json
(snake_case keys throughout), the page's links and, with --quick, what `cleanclip demo --quick`
must show: a planted backdoor (the poisoned model's ASR high) and its removal (CleanCLIP's ASR far
below the poisoned model's).

    python3 scripts/check_demo_report.py [--quick] REPORT_DIR

The --quick thresholds leave margin below what seeds 1-3 measured (README, "The demo").
"""
import json
import math
import os
import re
import sys

# demo --quick, seeds 1-3 measured poisoned ASR 94.5, 89.4, 96.8% and CleanCLIP ASR 16.5, 15.2,
# 43.5% (drops of 78, 74 and 53 points). MMCL-only's ASR (0.4, 2.7, 17.8%) is lower still at this
# size, so the quick run does not compare the two (DemoConfig.quick says why).
QUICK_MIN_POISONED_ASR = 0.80
QUICK_MIN_DROP_FROM_POISONED = 0.30  # CleanCLIP's ASR at least this far below the poisoned model's

STAGES = ("poisoned", "mmcl", "cleanclip")


def fraction(v):
    return isinstance(v, (int, float)) and not math.isnan(v) and 0 <= v <= 1


def camel_keys(value, path=""):
    """Paths of the keys (at any depth) that are not snake_case."""
    if isinstance(value, dict):
        out = [f"{path}.{k}".lstrip(".") for k in value if not re.fullmatch(r"[a-z0-9_]+", k)]
        for k, v in value.items():
            out += camel_keys(v, f"{path}.{k}")
        return out
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in camel_keys(v, f"{path}[{i}]")]
    return []


def main(report, quick):
    problems = []
    with open(os.path.join(report, "results.json")) as f:
        results = json.load(f)
    for key in camel_keys(results):
        problems.append(f"results.json key {key} is not snake_case")
    for stage in STAGES:
        r = results.get(stage)
        if not isinstance(r, dict):
            problems.append(f"results.json has no '{stage}' object")
            continue
        for key in ("clean_accuracy", "asr"):
            if not fraction(r.get(key)):
                problems.append(f"{stage}.{key} is {r.get(key)!r}, not a fraction in [0, 1]")
        per_class = r.get("per_class_asr")
        if (not isinstance(per_class, list) or not per_class or not all(fraction(c.get("asr")) for c in per_class)
                or any(c.get("class") == "banana" for c in per_class)):
            problems.append(f"{stage}.per_class_asr is not a list of non-target classes with an ASR each")
    if "config" not in results or "seed" not in results:
        problems.append("results.json lacks the configuration or the seed")

    names = ["index.html", "results.md", "results.csv", "finetune_loss.svg", "finetune_accuracy.svg",
             "examples/clean_0.png", "examples/triggered_0.png"]
    if results.get("pretrain_curve"):
        names += ["pretrain_loss.svg", "pretrain_accuracy.svg"]
    for name in names:
        path = os.path.join(report, name)
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            problems.append(f"{name} is missing or empty")
        elif name.endswith(".png"):
            with open(path, "rb") as f:
                if f.read(8) != b"\x89PNG\r\n\x1a\n":
                    problems.append(f"{name} is not a PNG file")
    page_path = os.path.join(report, "index.html")
    if os.path.isfile(page_path):
        with open(page_path) as f:
            page = f.read()
        for link in re.findall(r'(?:src|href)="([^"]+)"', page):
            if "://" in link or link.startswith("/"):
                problems.append(f"index.html links outside the report folder: {link}")
            elif not link.endswith(".safetensors") and not os.path.isfile(os.path.join(report, link)):
                problems.append(f"index.html links to {link}, which is not in the report folder")

    if quick and not problems:
        asr = {stage: results[stage]["asr"] for stage in STAGES}
        shown = ", ".join(f"{stage} {100 * v:.1f}%" for stage, v in asr.items())
        if asr["poisoned"] < QUICK_MIN_POISONED_ASR:
            problems.append(f"no planted backdoor: poisoned ASR below {100 * QUICK_MIN_POISONED_ASR:.0f}% (ASR {shown})")
        if asr["cleanclip"] > asr["poisoned"] - QUICK_MIN_DROP_FROM_POISONED:
            problems.append(f"CleanCLIP's ASR is not {100 * QUICK_MIN_DROP_FROM_POISONED:.0f} points below the poisoned model's (ASR {shown})")

    for p in problems:
        print("demo report:", p)
    print(f"demo report: {0 if problems else 1} passed, {1 if problems else 0} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    quick = "--quick" in args
    args = [a for a in args if a != "--quick"]
    if len(args) != 1:
        sys.exit(__doc__)
    sys.exit(main(args[0], quick))
