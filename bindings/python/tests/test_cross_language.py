"""C, Swift and Python give identical embeddings for the same inputs.

scripts/test_bindings.sh runs the C test and the Swift example first, which write their
embeddings as raw float32 files into $CLEANCLIP_CROSS_DIR; without it these tests are skipped."""
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import MODELS
from fixtures import read_safetensors

import cleanclip

CROSS = os.environ.get("CLEANCLIP_CROSS_DIR")
pytestmark = pytest.mark.skipif(not CROSS, reason="CLEANCLIP_CROSS_DIR not set (run scripts/test_bindings.sh)")
CAPTIONS = ["a photo of a cat", "a diagram of a transformer", "Ünïcödé text 東京"]


def load(name, shape):
    path = Path(CROSS) / name
    assert path.is_file(), f"{path} was not written"
    return np.fromfile(path, dtype="<f4").reshape(shape)


@pytest.mark.parametrize("lang", ["c", "swift"])
def test_texts_and_files_identical(lang, text_model, image_paths):
    # The C test and the Swift example write unit rows.
    texts = text_model.encode_text(CAPTIONS, normalize=True)
    files = text_model.encode_images(image_paths, normalize=True)
    assert np.array_equal(load(f"{lang}_texts.bin", texts.shape), texts)
    assert np.array_equal(load(f"{lang}_files.bin", files.shape), files)


@pytest.mark.parametrize("name", ["vit_quickgelu", "resnet"])
def test_c_parity_embeddings_identical(name):
    ref = read_safetensors(MODELS / f"{name}.expected.safetensors")
    with cleanclip.load(MODELS / f"{name}.safetensors") as m:
        image = m.encode_pixels(ref["pixels"], normalize=False)
        text = m.encode_tokens(ref["tokens"], normalize=False)
    assert np.array_equal(load(f"c_{name}_image.bin", image.shape), image)
    assert np.array_equal(load(f"c_{name}_text.bin", text.shape), text)


def test_zero_shot_identical(text_model, image_paths):
    _, probs = cleanclip.zero_shot(text_model, image_paths, ["cat", "dog", "red square"], ["a photo of a {}.", "{}"])
    assert np.array_equal(load("c_zero_shot_probs.bin", probs.shape), probs)
