"""The Python examples run and produce what they promise."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "python"


def run(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "bindings" / "python"), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, *map(str, args)], env=env, capture_output=True, text=True, timeout=300)


def test_zero_shot_example(fx, image_paths):
    r = run(EXAMPLES / "zero_shot.py", fx / "text_model.safetensors", *image_paths)
    assert r.returncode == 0, r.stderr
    assert "zero-shot (4 classes x 3 templates)" in r.stdout
    assert r.stdout.count(" -> ") == 3


def test_embed_folder_example(fx, tmp_path, text_model, image_paths):
    out = tmp_path / "embeddings.npy"
    r = run(EXAMPLES / "embed_folder.py", fx / "text_model.safetensors", fx / "images", out, "--batch", "2")
    assert r.returncode == 0, r.stderr
    e = np.load(out)
    assert e.shape == (3, 32) and e.dtype == np.float32
    assert out.with_suffix(".txt").read_text().split() == ["gradient.png", "noise.png", "red.png"]
    assert np.allclose(e, text_model.encode_images(sorted(image_paths), normalize=True), atol=1e-6)


def test_embed_folder_example_empty_folder(fx, tmp_path):
    r = run(EXAMPLES / "embed_folder.py", fx / "text_model.safetensors", tmp_path, tmp_path / "x.npy")
    assert r.returncode != 0 and "no .jpg or .png files" in r.stderr
