"""Model.save in every format and dtype, and the activation-assumed flag and warning."""
import json
import warnings
import zipfile

import numpy as np
import pytest

import cleanclip
from conftest import MODELS
from fixtures import read_safetensors


def _pixels(model, n=2):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3, model.image_size, model.image_size)).astype(np.float32)


@pytest.mark.parametrize("name", ["m.safetensors", "m.pt", "m_hf"])
def test_save_round_trips_exactly(vit_model, tmp_path, name):
    out = tmp_path / name
    vit_model.save(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the .pt does not record the activation
        with cleanclip.load(out) as back:
            assert back.info == vit_model.info
            pixels = _pixels(vit_model)
            assert np.array_equal(back.encode_pixels(pixels), vit_model.encode_pixels(pixels))
    if name.endswith(".pt"):
        with zipfile.ZipFile(out) as z:
            assert {"archive/data.pkl", "archive/byteorder", "archive/version"} <= set(z.namelist())
    if name.endswith("_hf"):
        config = json.loads((out / "config.json").read_text())
        assert config["vision_config"]["hidden_act"] == "quick_gelu" and config["torch_dtype"] == "float32"


def test_save_f16_holds_the_rounded_weights(vit_model, tmp_path):
    vit_model.save(tmp_path / "f32.safetensors")
    vit_model.save(tmp_path / "f16.safetensors", dtype="f16")
    full, half = read_safetensors(tmp_path / "f32.safetensors"), read_safetensors(tmp_path / "f16.safetensors")
    assert full.keys() == half.keys()
    for k, v in full.items():
        if v.dtype == np.float32:
            assert half[k].dtype == np.float16 and np.array_equal(half[k], v.astype(np.float16)), k
    vit_model.save(tmp_path / "hf16", format="hf", dtype="f16")
    assert json.loads((tmp_path / "hf16" / "config.json").read_text())["torch_dtype"] == "float16"


def test_save_failures(vit_model, tmp_path):
    with pytest.raises(ValueError, match="format must be"):
        vit_model.save(tmp_path / "x", format="onnx")
    with pytest.raises(ValueError, match="dtype must be"):
        vit_model.save(tmp_path / "x.safetensors", dtype="bf16")
    with pytest.raises(TypeError, match="path must be"):
        vit_model.save(42)
    with pytest.raises(cleanclip.Error, match="/no/such/dir"):
        vit_model.save("/no/such/dir/m.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with cleanclip.load(MODELS / "resnet.safetensors") as rn:
            with pytest.raises(cleanclip.Error, match="ResNet") as e:
                rn.save(tmp_path / "rn_hf", format="hf")
    assert e.value.status == cleanclip._lib.INVALID_ARGUMENT
    assert not (tmp_path / "rn_hf").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(cleanclip.Error, match="notes.txt"):
        vit_model.save(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_activation_assumed_warns_once_at_load(tmp_path):
    with pytest.warns(UserWarning, match="activation='gelu'") as record:
        m = cleanclip.load(MODELS / "vit_quickgelu.safetensors")
    assert len(record) == 1 and m.activation_assumed and m.info["activation"] == "quick_gelu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.encode_pixels(_pixels(m, 1))  # no warning after load
        m.save(tmp_path / "stated.safetensors")  # our files record the activation
        with cleanclip.load(tmp_path / "stated.safetensors") as again:
            assert not again.activation_assumed
        with cleanclip.load(MODELS / "vit_gelu.safetensors", activation="gelu") as g:
            assert not g.activation_assumed and g.info["activation"] == "gelu"
        with cleanclip.load(MODELS / "hf_vit") as hf:
            assert not hf.activation_assumed
    m.close()
