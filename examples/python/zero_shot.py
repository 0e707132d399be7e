"""Embeds images and captions with a CLIP checkpoint and prints zero-shot predictions.

    python3 examples/python/zero_shot.py MODEL IMAGE...

after `pip install ./bindings/python`; from a source tree without installing, after `make build`:
PYTHONPATH=bindings/python python3 examples/python/zero_shot.py MODEL IMAGE...
"""
import sys

import numpy as np

import cleanclip

CAPTIONS = ["a photo of a cat", "a photo of a dog", "a red square"]
CLASSES = ["cat", "dog", "red square", "gradient"]
TEMPLATES = ["a photo of a {}.", "a picture of a {}.", "{}"]


def main(argv):
    if len(argv) < 3:
        sys.exit(f"usage: {argv[0]} MODEL IMAGE...")
    with cleanclip.load(argv[1], num_threads=2) as model:
        info = model.info
        print(f"model: {info['architecture']}, embed dim {info['embed_dim']}, image size {info['image_size']}")
        print(f"blas: {cleanclip.blas_info()['description']}")
        images = model.encode_images(argv[2:], normalize=True)   # (n, E), unit rows
        texts = model.encode_text(CAPTIONS, normalize=True)      # (3, E), unit rows
        print("\ncosine similarity (image x caption):")
        for path, row in zip(argv[2:], images @ texts.T):
            print(f"  {path:40s}" + "".join(f" {s:+.4f}" for s in row))
        indices, probs = cleanclip.zero_shot(model, argv[2:], CLASSES, TEMPLATES)
        print(f"\nzero-shot ({len(CLASSES)} classes x {len(TEMPLATES)} templates):")
        for path, k, p in zip(argv[2:], indices, probs):
            print(f"  {path:40s} -> {CLASSES[k]:10s} (p = {p[k]:.3f})")
    return np.asarray(indices)


if __name__ == "__main__":
    main(sys.argv)
