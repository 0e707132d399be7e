"""PyTorch CPU reference figures for `cleanclip bench` (same shapes, batch and thread count).

    python scripts/bench_torch.py [--threads 2] [--batch 16] [--iterations 3] [--models ViT-B-32,RN50] [--json]

Needs torch and open_clip_torch (a virtual environment; not needed by the tests).
Random weights; images/s for the image tower and texts/s for the same caption sets as
cleanclip's bench (open_clip always runs the full 77-token context).
"""
import argparse
import json
import time

import torch
import open_clip


# The same caption sets as `cleanclip bench`.
CAPTION_SETS = [
    ("prompt", ["a photo of a dog.", "a photo of a banana.", "a photo of a tabby cat."]),
    ("CC3M caption", [
        "actor attends the premiere of the film at the festival in the city",
        "a young woman walks along the beach at sunset with her dog",
        "aerial view of the historic old town and the river in autumn",
        "close up of a red apple on a wooden table in the kitchen",
        "the team celebrates after scoring a goal during the second half of the match",
    ]),
    ("77 tokens", [" ".join(["the quick brown fox jumps over the lazy dog"] * 10)]),
]


def rate(fn, n, iterations):
    fn()
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    return n * iterations / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--models", default="ViT-B-32,RN50")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    report = {"torch": torch.__version__, "open_clip": open_clip.__version__, "threads": torch.get_num_threads(),
              "batch": a.batch, "models": {}}
    if not a.json:
        print(f"torch {torch.__version__}, threads: {torch.get_num_threads()}, batch: {a.batch}")
    for name in a.models.split(","):
        model = open_clip.create_model(name, pretrained=None).eval()
        pixels = torch.randn(a.batch, 3, 224, 224)
        figures = {"text": {}}
        with torch.inference_mode():
            img = rate(lambda: model.encode_image(pixels), a.batch, a.iterations)
            figures["image"] = {"per_second": img}
            if not a.json:
                print(f"{name:9} image               {img:7.2f} img/s")
            for label, captions in CAPTION_SETS:
                tokens = open_clip.tokenize([captions[i % len(captions)] for i in range(a.batch)])
                txt = rate(lambda: model.encode_text(tokens), a.batch, a.iterations)
                figures["text"][label] = {"per_second": txt}
                if not a.json:
                    print(f"{name:9} text {label:14} {txt:7.2f} txt/s")
        report["models"][name] = figures
    if a.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
