"""Test inputs made at test time from the committed parity fixtures, with numpy only:

- text_model.safetensors: Tests/Fixtures/models/vit_quickgelu.safetensors with its 1000-token
  embedding replaced by a random 49408 x 64 one, so real captions (CLIP's BPE ids) can be encoded.
  (Built here instead of committed: 12 MB of random numbers.)
- hot_model.safetensors: text_model.safetensors with logit_scale 100, whose temperature
  exp(100) overflows float32 (zero-shot probabilities must stay finite).
- images/*.png: small RGB images of different sizes.
- <name>_{pixels,tokens,image,text}.bin: the parity fixtures' inputs and open_clip's reference
  embeddings as raw little-endian arrays, for the C test.
- data/: a tiny data set for the method's functions: 16 coloured-shape PNGs with captions
  (data/train.csv: image, caption, augmented_caption, so no WordNet is needed), a labelled
  evaluation CSV (data/eval.csv: image, label) over the classes in data/classes.txt with the
  templates in data/templates.txt.

Usage: python3 fixtures.py OUT_DIR
"""
from __future__ import annotations

import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
MODELS = REPO / "Tests" / "Fixtures" / "models"
_DTYPES = {"F32": "<f4", "F16": "<f2", "I32": "<i4", "I64": "<i8", "F64": "<f8"}


def read_safetensors(path) -> dict[str, np.ndarray]:
    data = Path(path).read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        begin, end = v["data_offsets"]
        out[name] = np.frombuffer(body[begin:end], dtype=_DTYPES[v["dtype"]]).reshape(v["shape"]).copy()
    return out


def write_safetensors(path, tensors: dict[str, np.ndarray]) -> None:
    header, blobs, offset = {}, [], 0
    names = {v: k for k, v in _DTYPES.items()}
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": names[a.dtype.newbyteorder("<").str], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_png(path, rgb: np.ndarray) -> None:
    """An 8-bit RGB PNG (no filter), enough for tests."""
    h, w, _ = rgb.shape

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\0" + rgb[y].astype(np.uint8).tobytes() for y in range(h))
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def sample_images() -> dict[str, np.ndarray]:
    """Deterministic RGB images of different sizes and content."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:48, 0:64]
    gradient = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    return {
        "gradient": gradient,                                            # 64 x 48
        "noise": rng.integers(0, 256, (40, 30, 3), dtype=np.uint8),      # 30 x 40 (portrait)
        "red": np.tile(np.array([220, 30, 30], np.uint8), (32, 32, 1)),  # 32 x 32
    }


def make_text_model(path, logit_scale: float | None = None) -> None:
    t = read_safetensors(MODELS / "vit_quickgelu.safetensors")
    width = t["token_embedding.weight"].shape[1]
    rng = np.random.default_rng(0)
    t["token_embedding.weight"] = (rng.standard_normal((49408, width)) * 0.02).astype(np.float32)
    if logit_scale is not None:
        t["logit_scale"] = np.full(t["logit_scale"].shape, logit_scale, np.float32)
    write_safetensors(path, t)


COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 30)}


def make_method_data(out) -> None:
    """data/: 16 training images with captions, 8 labelled evaluation images, classes, templates."""
    d = Path(out) / "data"
    (d / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    names = list(COLOURS)
    train, evals = ["image,caption,augmented_caption"], ["image,label"]
    for i in range(24):
        c = i % 4
        img = np.full((28, 28, 3), 245, np.uint8)
        img += rng.integers(0, 10, img.shape, dtype=np.uint8)
        y, x = rng.integers(2, 12, 2)
        img[y:y + 14, x:x + 14] = COLOURS[names[c]]
        name = f"images/{i:02d}_{names[c]}.png"
        write_png(d / name, img)
        if i < 16:
            train.append(f"{name},a photo of a {names[c]} square,a picture of one {names[c]} square")
        else:
            evals.append(f"{name},{c}")
    (d / "train.csv").write_text("\n".join(train) + "\n")
    (d / "eval.csv").write_text("\n".join(evals) + "\n")
    (d / "classes.txt").write_text("\n".join(names) + "\n")
    (d / "templates.txt").write_text("a photo of a {}.\n{}\n")


def make_all(out) -> None:
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    make_text_model(out / "text_model.safetensors")
    make_text_model(out / "hot_model.safetensors", logit_scale=100)
    make_method_data(out)
    for name, img in sample_images().items():
        write_png(out / "images" / f"{name}.png", img)
    for name in ["vit_quickgelu", "resnet"]:
        e = read_safetensors(MODELS / f"{name}.expected.safetensors")
        for key, dtype in [("pixels", "<f4"), ("tokens", "<i4"), ("image", "<f4"), ("text", "<f4")]:
            e[key].astype(dtype).tofile(out / f"{name}_{key}.bin")
        (out / f"{name}_shapes.txt").write_text(
            "%d %d %d %d\n" % (e["pixels"].shape[0], e["pixels"].shape[2], e["tokens"].shape[0], e["image"].shape[1]))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    make_all(sys.argv[1])
