"""Embeddings through Python match open_clip / transformers reference outputs (the committed
parity fixtures) within 1e-4 x max(1, max |reference|), the tolerance of the Swift parity tests."""
import numpy as np
import pytest

import cleanclip
from conftest import MODELS
from fixtures import read_safetensors

CASES = [("vit_quickgelu", "vit_quickgelu.safetensors", None), ("vit_gelu", "vit_gelu.safetensors", "gelu"),
         ("resnet", "resnet.safetensors", None), ("hf_vit", "hf_vit", None)]


def close(a, b, atol=1e-4):
    assert a.shape == b.shape
    err = np.abs(a - b).max()
    assert err <= atol * max(1.0, np.abs(b).max()), err


@pytest.mark.parametrize("name,file,activation", CASES, ids=[c[0] for c in CASES])
def test_embeddings_match_reference(name, file, activation):
    ref = read_safetensors(MODELS / f"{name}.expected.safetensors")
    with cleanclip.load(MODELS / file, activation=activation) as m:
        close(m.encode_pixels(ref["pixels"], normalize=False), ref["image"])
        close(m.encode_tokens(ref["tokens"], normalize=False), ref["text"])
        assert m.info["logit_scale"] == pytest.approx(float(ref["logit_scale"]), abs=1e-6)
        normed = m.encode_pixels(ref["pixels"], normalize=True)
        close(normed, ref["image"] / np.linalg.norm(ref["image"], axis=1, keepdims=True), atol=1e-5)


def test_batch_equals_singles(vit_model):
    ref = read_safetensors(MODELS / "vit_quickgelu.expected.safetensors")
    batch = vit_model.encode_pixels(ref["pixels"])
    for i in range(len(batch)):
        close(vit_model.encode_pixels(ref["pixels"][i:i + 1]), batch[i:i + 1], atol=1e-5)


def test_image_files_match_open_clip():
    """JPEG/PNG files decoded and preprocessed in the library vs open_clip's image_transform + model."""
    import json
    import struct
    path = MODELS / "vit_quickgelu.files.expected.safetensors"
    data = path.read_bytes()
    names = json.loads(data[8:8 + struct.unpack("<Q", data[:8])[0]])["__metadata__"]["files"].split(",")
    files = [str(MODELS.parent / "images" / n) for n in names]
    ref = read_safetensors(path)
    for f, want in zip(files, ref["pixels"]):
        assert np.abs(cleanclip.preprocess(f, size=32) - want).max() <= 1e-6, f
    with cleanclip.load(MODELS / "vit_quickgelu.safetensors") as m:
        close(m.encode_images(files, normalize=False), ref["image"])
