"""PyTorch CPU reference figures for `cleanclip bench` (same shapes, batch and thread count).

    python scripts/bench_torch.py [--threads 2] [--batch 16] [--iterations 3]

Needs torch and open_clip_torch (a virtual environment; not needed by the tests).
Random weights; images/s for the image tower, texts/s for 77-token inputs (open_clip always
runs the full context) at the same caption lengths as cleanclip's bench.
"""
import argparse
import time

import torch
import open_clip


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
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, threads: {torch.get_num_threads()}, batch: {a.batch}")
    for name in a.models.split(","):
        model = open_clip.create_model(name, pretrained=None).eval()
        pixels = torch.randn(a.batch, 3, 224, 224)
        tokens = open_clip.tokenize(["a photo of a dog."] * a.batch)
        with torch.inference_mode():
            img = rate(lambda: model.encode_image(pixels), a.batch, a.iterations)
            txt = rate(lambda: model.encode_text(tokens), a.batch, a.iterations)
        print(f"{name:9} image            {img:7.2f} img/s")
        print(f"{name:9} text (77 tokens) {txt:7.2f} txt/s")


if __name__ == "__main__":
    main()
