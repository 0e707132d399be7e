import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # fixtures.py
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the package, when not pip-installed

import fixtures  # noqa: E402

import cleanclip  # noqa: E402

MODELS = fixtures.MODELS


@pytest.fixture(scope="session")
def fx(tmp_path_factory) -> Path:
    """Directory with text_model.safetensors (full vocabulary), images/*.png and raw parity inputs."""
    out = tmp_path_factory.mktemp("fixtures")
    fixtures.make_all(out)
    return out


@pytest.fixture(scope="session")
def image_paths(fx) -> list[str]:
    return [str(fx / "images" / f"{n}.png") for n in ("gradient", "noise", "red")]


@pytest.fixture(scope="session")
def text_model(fx):
    with cleanclip.load(fx / "text_model.safetensors") as m:
        yield m


@pytest.fixture(scope="session")
def vit_model():
    with cleanclip.load(MODELS / "vit_quickgelu.safetensors") as m:
        yield m
