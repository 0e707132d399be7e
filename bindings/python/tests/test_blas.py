"""The BLAS kernel: chosen from CPU features before OpenBLAS loads, reported, and optional."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import cleanclip
from conftest import MODELS

PACKAGE_DIR = str(Path(cleanclip.__file__).resolve().parents[1])


def test_blas_info_reports_the_chosen_kernel():
    info = cleanclip.blas_info(measure_seconds=0.05)
    assert info["kernel"]
    # Python loaded libcleanclip before OpenBLAS, so the kernel is ours (or the user's) to choose.
    chosen = "chosen from CPU features" in info["description"] or "set by the user" in info["description"]
    assert chosen, info["description"]
    assert "Warning" not in info["description"]
    assert info["sgemm_gflops"] > 0


def test_without_openblas_the_portable_kernel_gives_the_same_embeddings(vit_model):
    script = (
        "import json, sys, numpy as np, cleanclip\n"
        f"m = cleanclip.load({str(MODELS / 'vit_quickgelu.safetensors')!r})\n"
        "e = m.encode_pixels(np.random.default_rng(3).standard_normal((4, 3, 32, 32), dtype=np.float32))\n"
        "print(json.dumps({'info': cleanclip.blas_info(), 'image': e.tolist()}))\n"
    )
    env = dict(os.environ, CLEANCLIP_OPENBLAS="/nonexistent/libopenblas.so.0",
               PYTHONPATH=PACKAGE_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["info"]["kernel"] == "portable"
    assert "could not be loaded" in result["info"]["description"]
    assert "/nonexistent/libopenblas.so.0" in result["info"]["description"]
    pixels = np.random.default_rng(3).standard_normal((4, 3, 32, 32), dtype=np.float32)
    np.testing.assert_allclose(np.array(result["image"], dtype=np.float32), vit_model.encode_pixels(pixels), atol=1e-5)
