"""onnxruntime CPU reference figures for `cleanclip bench`: open_clip's towers exported to ONNX.

    python scripts/bench_onnxruntime.py [--threads 2] [--batch 16] [--iterations 3] [--models ViT-B-32,RN50] [--json]

Needs torch, open_clip_torch, onnx and onnxruntime (a virtual environment; not needed by the
tests). Random weights, exported once per run into a temporary folder; then images/s for the
image tower and texts/s for full-context (77-token) text, as open_clip computes them.
"""
import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import open_clip
import torch


class TextTower(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, tokens):
        return self.model.encode_text(tokens)


def rate(fn, n, iterations):
    fn()
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    return n * iterations / (time.perf_counter() - start)


def session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--models", default="ViT-B-32,RN50")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    report = {"onnxruntime": ort.__version__, "threads": a.threads, "batch": a.batch, "models": {}}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in a.models.split(","):
            model = open_clip.create_model(name, pretrained=None).eval()
            pixels = torch.randn(a.batch, 3, 224, 224)
            tokens = open_clip.tokenize([" ".join(["the quick brown fox jumps over the lazy dog"] * 10)] * a.batch)
            image_path, text_path = Path(tmp) / f"{name}.image.onnx", Path(tmp) / f"{name}.text.onnx"
            torch.onnx.export(model.visual, pixels, str(image_path), input_names=["pixels"], output_names=["embedding"],
                              opset_version=17, dynamo=False)
            torch.onnx.export(TextTower(model), tokens, str(text_path), input_names=["tokens"],
                              output_names=["embedding"], opset_version=17, dynamo=False)
            image, text = session(image_path, a.threads), session(text_path, a.threads)
            x, t = pixels.numpy(), tokens.numpy().astype(np.int64)
            img = rate(lambda: image.run(None, {"pixels": x}), a.batch, a.iterations)
            txt = rate(lambda: text.run(None, {"tokens": t}), a.batch, a.iterations)
            report["models"][name] = {"image": {"per_second": img}, "text": {"77 tokens": {"per_second": txt}}}
            if not a.json:
                print(f"{name:9} image               {img:7.2f} img/s")
                print(f"{name:9} text 77 tokens      {txt:7.2f} txt/s")
    if a.json:
        print(json.dumps(report))


if __name__ == "__main__":
    main()
