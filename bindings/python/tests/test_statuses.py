"""Every kind of failure keeps its status: representative errors of each kind, raised through the
Python API (or, where Python checks the argument first, through the ctypes layer), pinned to
their cleanclip_status (unchanged since the statuses were chosen by message text) and to their
extended status. The C test pins the same through the C ABI (test_statuses in test_cabi.c)."""
import ctypes
import os

import numpy as np
import pytest

import cleanclip
import fixtures
from cleanclip import _lib


def raw_model(path):
    """A model handle from the ctypes layer (for calls the Python API checks before C sees them)."""
    m = _lib.model_p()
    cleanclip.check(_lib.lib.cleanclip_model_load(str(path).encode(), None, ctypes.byref(m)))
    return m


def nan_weight_checkpoint(fx, tmp):
    tensors = fixtures.read_safetensors(fx / "text_model.safetensors")
    name = next(k for k, v in tensors.items() if v.dtype == np.float32 and v.size > 1)
    tensors[name] = tensors[name].copy()
    tensors[name].flat[0] = np.nan
    fixtures.write_safetensors(tmp / "nan.safetensors", tensors)
    return tmp / "nan.safetensors"


def token_out_of_range(fx, tmp, model):
    m = raw_model(fx / "text_model.safetensors")
    try:
        tokens = np.zeros((1, 77), np.int32)
        tokens[0, :3] = [49406, 10 ** 6, 49407]
        out = np.zeros(4096, np.float32)
        cleanclip.check(_lib.lib.cleanclip_encode_tokens(m, tokens.ctypes.data_as(_lib.int32_p), 1, 1,
                                                         out.ctypes.data_as(_lib.float_p), out.size, None))
    finally:
        _lib.lib.cleanclip_model_free(m)


def struct_size_too_large(fx, tmp, model):
    o = _lib.cleanclip_model_options()
    cleanclip.check(_lib.lib.cleanclip_model_default_options(ctypes.byref(o), ctypes.sizeof(o) + 8))


def null_path(fx, tmp, model):
    m = _lib.model_p()
    cleanclip.check(_lib.lib.cleanclip_model_load(None, None, ctypes.byref(m)))


def short_buffer(fx, tmp, model):
    texts = (ctypes.c_char_p * 1)(b"a cat")
    out = (ctypes.c_int32 * 1)()
    cleanclip.check(_lib.lib.cleanclip_tokenize(texts, 1, 77, 1, out, 1, None))


def huge_embeddings(fx, tmp, model):
    e = (ctypes.c_float * 4)()
    cleanclip.check(_lib.lib.cleanclip_sample_scores(e, 2 ** 40, 2 ** 40, 1, None, None, None, 0, None))


def fifo(tmp):
    path = tmp / "pipe"
    os.mkfifo(path)
    return path


def write(tmp, name, data):
    (tmp / name).write_bytes(data)
    return tmp / name


def cancelled_finetune(fx, tmp, model):
    with cleanclip.load(fx / "text_model.safetensors") as m:
        cleanclip.finetune(m, fx / "data" / "train.csv", epochs=1, batch_size=8, progress=lambda p: False)


def finetune_without_wordnet(fx, tmp, model):
    lines = (fx / "data" / "train.csv").read_text().splitlines()
    rows = ["image,caption"] + [",".join(line.split(",")[:2]) for line in lines[1:]]
    (fx / "data" / "plain_captions.csv").write_text("\n".join(rows) + "\n")
    (tmp / "wordnet").mkdir()
    with cleanclip.load(fx / "text_model.safetensors") as m:
        cleanclip.finetune(m, fx / "data" / "plain_captions.csv", epochs=1, batch_size=8, wordnet_dir=tmp / "wordnet")


def eval_csv(fx, name, text):
    path = fx / "data" / name
    path.write_text(text)
    return path


S = cleanclip.Error
# (what, call(fx, tmp, model), exception class, status, extended status)
CASES = [
    ("missing checkpoint", lambda fx, tmp, m: cleanclip.load(tmp / "missing.safetensors"),
     S, "IO_ERROR", "IO_ERROR_NOT_FOUND"),
    ("checkpoint is a named pipe", lambda fx, tmp, m: cleanclip.load(fifo(tmp)),
     S, "IO_ERROR", "IO_ERROR_NOT_REGULAR_FILE"),
    ("missing image", lambda fx, tmp, m: cleanclip.preprocess(tmp / "missing.png"),
     S, "IO_ERROR", "IO_ERROR_NOT_FOUND"),
    ("image is a directory", lambda fx, tmp, m: cleanclip.preprocess(tmp),
     S, "IO_ERROR", "IO_ERROR_NOT_REGULAR_FILE"),
    ("missing evaluation CSV", lambda fx, tmp, m: cleanclip.evaluate(m, tmp / "missing.csv"),
     S, "IO_ERROR", "IO_ERROR_NOT_FOUND"),
    ("missing class file", lambda fx, tmp, m: cleanclip.evaluate(m, fx / "data" / "eval.csv", classes=tmp / "none.txt"),
     S, "IO_ERROR", "IO_ERROR_NOT_FOUND"),
    ("image of a CSV row is missing",
     lambda fx, tmp, m: cleanclip.evaluate(m, eval_csv(fx, "gone.csv", "image,label\nimages/gone.png,0\n"),
                                           classes=fx / "data" / "classes.txt"),
     S, "IO_ERROR", "IO_ERROR_NOT_FOUND"),
    ("WordNet not installed", finetune_without_wordnet, S, "IO_ERROR", "IO_ERROR_NOT_FOUND"),
    ("checkpoint is garbage", lambda fx, tmp, m: cleanclip.load(write(tmp, "junk.safetensors", b"not a checkpoint at all")),
     S, "FORMAT_ERROR", "FORMAT_ERROR"),
    ("weight holds NaN", lambda fx, tmp, m: cleanclip.load(nan_weight_checkpoint(fx, tmp)),
     S, "FORMAT_ERROR", "FORMAT_ERROR_NON_FINITE"),
    ("model directory without config.json", lambda fx, tmp, m: cleanclip.load(tmp),
     S, "FORMAT_ERROR", "FORMAT_ERROR"),
    ("PNG is corrupt", lambda fx, tmp, m: cleanclip.preprocess(write(tmp, "bad.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40)),
     S, "FORMAT_ERROR", "FORMAT_ERROR"),
    ("CSV lacks the label column",
     lambda fx, tmp, m: cleanclip.evaluate(m, eval_csv(fx, "nolabel.csv", "image,other\nimages/16_red.png,0\n"),
                                           classes=fx / "data" / "classes.txt"),
     S, "FORMAT_ERROR", "FORMAT_ERROR"),
    ("NaN pixels", lambda fx, tmp, m: m.encode_pixels(np.full((1, 3, m.image_size, m.image_size), np.nan, np.float32)),
     S, "INVALID_ARGUMENT", "INVALID_ARGUMENT_NON_FINITE"),
    ("NaN image embedding", lambda fx, tmp, m: m.classifier(["a", "b"]).classify_embeddings(
        np.full((1, m.embed_dim), np.inf, np.float32)),
     S, "INVALID_ARGUMENT", "INVALID_ARGUMENT_NON_FINITE"),
    ("struct_size from a newer header", struct_size_too_large, S, "INVALID_ARGUMENT", "INVALID_ARGUMENT_STRUCT_SIZE"),
    ("text too long without truncation", lambda fx, tmp, m: cleanclip.tokenize(["cat " * 100], truncate=False),
     S, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    ("unknown class set", lambda fx, tmp, m: cleanclip.evaluate(m, fx / "data" / "eval.csv", classes="nope"),
     S, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    ("unknown trigger", lambda fx, tmp, m: cleanclip.evaluate(m, fx / "data" / "eval.csv", classes=fx / "data" / "classes.txt",
                                                             trigger="nope", target="red"),
     S, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    ("too few samples to score", lambda fx, tmp, m: cleanclip.sample_scores(np.zeros((3, 4), np.float32), k=16),
     S, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    ("token id out of range", token_out_of_range, S, "SHAPE_MISMATCH", "SHAPE_MISMATCH"),
    ("NULL path", null_path, S, "NULL_POINTER", "NULL_POINTER"),
    ("short output buffer", short_buffer, S, "BUFFER_TOO_SMALL", "BUFFER_TOO_SMALL"),
    ("embeddings too large to hold", huge_embeddings, S, "OUT_OF_MEMORY", "OUT_OF_MEMORY"),
    ("progress callback cancels", cancelled_finetune, cleanclip.Cancelled, "CANCELLED", "CANCELLED"),
]


@pytest.mark.parametrize("what,call,cls,status,extended", CASES, ids=[c[0] for c in CASES])
def test_each_kind_of_error_keeps_its_status(fx, text_model, tmp_path, what, call, cls, status, extended):
    with pytest.raises(cleanclip.Error) as e:
        call(fx, tmp_path, text_model)
    assert type(e.value) is cls
    assert (e.value.status_name, e.value.extended_status_name) == ("CLEANCLIP_" + status, "CLEANCLIP_" + extended)
    assert e.value.status == getattr(_lib, status) and e.value.extended_status == getattr(_lib, extended)
    assert e.value.extended_status & 0xFF == e.value.status
    assert e.value.message


def test_extended_status_follows_the_last_call():
    assert _lib.lib.cleanclip_set_num_threads(0) == _lib.INVALID_ARGUMENT
    assert _lib.lib.cleanclip_extended_status() == _lib.INVALID_ARGUMENT
    m = _lib.model_p()
    assert _lib.lib.cleanclip_model_load(b"/nonexistent/model.safetensors", None, ctypes.byref(m)) == _lib.IO_ERROR
    _lib.lib.cleanclip_last_error(), _lib.lib.cleanclip_status_name(1), _lib.lib.cleanclip_errstr(1)  # change nothing
    assert _lib.lib.cleanclip_extended_status() == _lib.IO_ERROR_NOT_FOUND
    assert _lib.lib.cleanclip_set_num_threads(_lib.lib.cleanclip_get_num_threads()) == _lib.OK
    assert _lib.lib.cleanclip_extended_status() == _lib.OK


def test_errstr_gives_the_headers_text():
    assert _lib.lib.cleanclip_errstr(_lib.OK) == b"Success."
    assert _lib.lib.cleanclip_errstr(_lib.IO_ERROR_NOT_FOUND) == b"A file or directory does not exist."
    # An extended code this version does not know is described by its primary status.
    assert _lib.lib.cleanclip_errstr(_lib.IO_ERROR | (77 << 8)) == _lib.lib.cleanclip_errstr(_lib.IO_ERROR)
    assert _lib.lib.cleanclip_errstr(-1) == _lib.lib.cleanclip_errstr(200) == b"Unknown status."
    for name, value in _lib.STATUSES.items():
        assert _lib.lib.cleanclip_status_name(value).decode() == name
        assert _lib.lib.cleanclip_errstr(value)
