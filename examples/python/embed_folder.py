"""Embeds every JPEG/PNG image in a folder into a float32 .npy file (n, E), unit-norm rows,
with the file names, in the same order, in a .txt file next to it.

    python3 examples/python/embed_folder.py MODEL FOLDER OUT.npy [--batch 32]
"""
import argparse
from pathlib import Path

import numpy as np

import cleanclip

EXTENSIONS = {".jpg", ".jpeg", ".png"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--batch", type=int, default=32, help="images per call")
    args = parser.parse_args(argv)

    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in EXTENSIONS)
    if not files:
        parser.error(f"no .jpg or .png files in {args.folder}")
    with cleanclip.load(args.model) as model:
        chunks = [model.encode_images([str(p) for p in files[i:i + args.batch]], normalize=True)
                  for i in range(0, len(files), args.batch)]
    embeddings = np.concatenate(chunks)
    np.save(args.out, embeddings)
    args.out.with_suffix(".txt").write_text("".join(p.name + "\n" for p in files))
    print(f"{len(files)} images -> {args.out} {embeddings.shape}")


if __name__ == "__main__":
    main()
