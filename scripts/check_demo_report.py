"""Checks a demo report folder end to end (structure and ranges, not the numbers).

    python3 scripts/check_demo_report.py REPORT_DIR
"""
import json
import math
import os
import sys


def main(report):
    problems = []
    with open(os.path.join(report, "results.json")) as f:
        results = json.load(f)
    for stage in ("poisoned", "mmcl", "cleanclip"):
        r = results.get(stage)
        if not isinstance(r, dict):
            problems.append(f"results.json has no '{stage}' object")
            continue
        for key in ("clean_accuracy", "asr"):
            v = r.get(key)
            if not isinstance(v, (int, float)) or math.isnan(v) or not 0 <= v <= 1:
                problems.append(f"{stage}.{key} is {v!r}, not a fraction in [0, 1]")
    if "config" not in results or "seed" not in results:
        problems.append("results.json lacks the configuration or the seed")
    for name in ("results.csv", "loss.svg", "finetune.svg", "triggers.png"):
        path = os.path.join(report, name)
        if not os.path.isfile(path) or os.path.getsize(path) == 0:
            problems.append(f"{name} is missing or empty")
    with open(os.path.join(report, "triggers.png"), "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            problems.append("triggers.png is not a PNG file")
    for p in problems:
        print("demo report:", p)
    print(f"demo report: {0 if problems else 1} passed, {1 if problems else 0} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
