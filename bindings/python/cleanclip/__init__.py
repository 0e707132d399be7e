"""CleanCLIP: CLIP embeddings and zero-shot classification from libcleanclip.so, with numpy.

    import cleanclip
    with cleanclip.load("ViT-B-32.safetensors") as model:
        text = model.encode_text(["a photo of a cat", "a photo of a dog"])    # float32 (2, E)
        image = model.encode_images(["cat.jpg"])                              # float32 (1, E)
        indices, probs = cleanclip.zero_shot(model, ["cat.jpg"], ["cat", "dog"], ["a photo of a {}."])

The method: finetune(model, "train.csv", epochs=...) removes backdoors in place (CleanCLIP),
evaluate(model, "val.csv", classes="imagenet", trigger="random", target="banana") reports clean
accuracy and attack success, poison(...) makes backdoored data, score_samples(...) and
sample_scores(...) rank samples by how suspicious they look.

Failures reported by the library raise cleanclip.Error (with .status, .status_name, .message and
the finer .extended_status), cleanclip.Cancelled when a progress callback returned False; wrong Python types raise
TypeError, wrong array shapes and integers out of range ValueError (integers are checked before
they reach C, so none is ever truncated to a C width); a closed model or classifier raises
ValueError, and a model used by another thread while it is finetuned RuntimeError.
"""
from __future__ import annotations

import ctypes
import json
import os
import warnings
from typing import Iterable, Sequence

import numpy as np

from . import _lib
from ._handles import Cancelled, ClassifierHandle, Error, ModelHandle, check
from ._lib import lib

__all__ = ["__version__", "Error", "Cancelled", "Model", "Classifier", "load", "tokenize", "preprocess", "zero_shot",
           "version", "library_version", "set_num_threads", "get_num_threads", "blas_info", "finetune", "evaluate",
           "score_trigger", "poison", "score_samples", "sample_scores"]

version = "%d.%d.%d" % (_lib.VERSION_MAJOR, _lib.VERSION_MINOR, _lib.VERSION_PATCH)
library_version = lib.cleanclip_version_string().decode()
#: The package's version: the C library's (the wheel's version is read from the same header,
#: include/cleanclip.h; the check below refuses a library older than it or of another major).
__version__ = version
if lib.cleanclip_version() // 10000 != _lib.VERSION_MAJOR or lib.cleanclip_version() < _lib.VERSION:
    raise ImportError(f"libcleanclip {library_version} at {_lib.path} does not match the Python package {version}")

_ACTIVATIONS = {None: _lib.ACTIVATION_DEFAULT, "quick_gelu": _lib.ACTIVATION_QUICK_GELU, "gelu": _lib.ACTIVATION_GELU}
_SAVE_FORMATS = {None: _lib.SAVE_INFER, "safetensors": _lib.SAVE_SAFETENSORS, "cleanclip-pt": _lib.SAVE_CLEANCLIP_PT,
                 "hf": _lib.SAVE_HF}
_SAVE_DTYPES = {None: _lib.SAVE_F32, "f32": _lib.SAVE_F32, "f16": _lib.SAVE_F16}


# ---- argument conversion -------------------------------------------------------------------

def _text_list(texts, name: str) -> list[str]:
    if isinstance(texts, str):
        return [texts]
    if isinstance(texts, (bytes, np.ndarray)) or not isinstance(texts, Iterable):
        raise TypeError(f"{name} must be a string or a list of strings, not {type(texts).__name__}")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"{name}[{i}] is {type(t).__name__}, expected str")
    return out


def _c_strings(items: Sequence[str], name: str):
    """A ctypes `const char *[]` over UTF-8 copies of `items` (kept alive by the returned array)."""
    encoded = []
    for i, s in enumerate(items):
        if "\0" in s:
            raise ValueError(f"{name}[{i}] contains a NUL character")
        try:
            encoded.append(s.encode("utf-8"))
        except UnicodeEncodeError as e:
            raise ValueError(f"{name}[{i}] cannot be encoded as UTF-8: {e.reason}") from None
    return (ctypes.c_char_p * len(encoded))(*encoded), len(encoded)


def _path_list(paths, name: str) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = []
    for i, p in enumerate(paths):
        if not isinstance(p, (str, os.PathLike)):
            raise TypeError(f"{name}[{i}] is {type(p).__name__}, expected a path (str or os.PathLike)")
        out.append(os.fsdecode(p))
    return out


def _rgb8(images, name: str) -> np.ndarray:
    """A C-contiguous uint8 array (n, H, W, 3); a single (H, W, 3) image gets a batch axis."""
    a = np.asarray(images)
    if a.dtype != np.uint8:
        raise TypeError(f"{name} must be uint8 RGB, got dtype {a.dtype}")
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[3] != 3:
        raise ValueError(f"{name} must have shape (n, height, width, 3), got {a.shape}")
    return np.ascontiguousarray(a)


def _ptr(a: np.ndarray, ctype):
    return a.ctypes.data_as(ctypes.POINTER(ctype))


# The ranges of the API's C integer types. Every Python int is checked against its C type
# before it is passed, since ctypes silently keeps only the low bits (2**32 + 4 would become 4).
_C_RANGE = {ctypes.c_int32: (-2**31, 2**31 - 1), ctypes.c_int64: (-2**63, 2**63 - 1), ctypes.c_uint64: (0, 2**64 - 1),
            ctypes.c_size_t: (0, 2**(8 * ctypes.sizeof(ctypes.c_size_t)) - 1)}


def _int(v, name: str, minimum: int | None = None, ctype=ctypes.c_int32) -> int:
    """`v` as an int from `minimum` (default: the least value of `ctype`) to the largest value of
    `ctype`; TypeError for a non-integer (bool included), ValueError when out of range. Ranges
    narrower than the C type's are the library's to check (it names them in its message)."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an int, not {type(v).__name__}")
    low, high = _C_RANGE[ctype]
    low = low if minimum is None else minimum
    if not low <= v <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {v}")
    return int(v)


def _needed(call) -> int:
    """The output size a call needs: runs call(buffer=None, capacity=0, needed) and returns
    `needed`. The library checks its arguments before the capacity, so a bad argument raises
    here, before anything is allocated."""
    needed = ctypes.c_size_t(0)
    status = call(None, 0, ctypes.byref(needed))
    if status != _lib.BUFFER_TOO_SMALL:
        check(status)
        raise Error(_lib.INTERNAL, "the library accepted an empty output buffer")
    return needed.value


def _is_paths(images) -> bool:
    if isinstance(images, (str, os.PathLike)):
        return True
    if isinstance(images, np.ndarray):
        return False
    return isinstance(images, (list, tuple)) and any(isinstance(p, (str, os.PathLike)) for p in images)


# ---- model ---------------------------------------------------------------------------------

class Model:
    """A loaded CLIP model. Thread-safe: several threads may encode with one model at once, and
    close() may be called while they do (the model is freed when the last call returns; calls
    started after close() raise ValueError). While finetune() updates the model, other threads'
    calls on it raise RuntimeError."""

    def __init__(self, path, activation: str | None = None, num_threads: int | None = None):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be None, 'quick_gelu' or 'gelu', not {activation!r}")
        threads = 0 if num_threads is None else _int(num_threads, "num_threads", 1)
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be str or os.PathLike, not {type(path).__name__}")
        options = _lib.cleanclip_model_options()
        check(lib.cleanclip_model_default_options(ctypes.byref(options), ctypes.sizeof(options)))
        options.activation = _ACTIVATIONS[activation]
        options.num_threads = threads
        self._handle = ModelHandle(os.fsencode(path), options)
        info = _lib.cleanclip_model_info(struct_size=ctypes.sizeof(_lib.cleanclip_model_info))
        with self._handle.use() as ptr:
            check(lib.cleanclip_model_get_info(ptr, ctypes.byref(info)))
        self.info = {
            "architecture": info.architecture.decode(),
            "embed_dim": info.embed_dim,
            "image_size": info.image_size,
            "context_length": info.context_length,
            "vocab_size": info.vocab_size,
            "logit_scale": float(info.logit_scale),
            "temperature": float(info.temperature),
            "activation": "gelu" if info.activation == _lib.ACTIVATION_GELU else "quick_gelu",
        }
        #: True when the file did not say which activation it uses and QuickGELU was assumed
        #: (right for OpenAI and CleanCLIP weights; open_clip's laion2b / DataComp weights need
        #: activation="gelu"). A warning says so once, at load.
        self.activation_assumed = bool(info.activation_assumed)
        if self.activation_assumed:
            warnings.warn(f"{os.fspath(path)} does not say which activation it uses; assuming quick_gelu (OpenAI and "
                          "CleanCLIP weights). open_clip's laion2b / DataComp weights use GELU: pass activation='gelu' "
                          "for those.", UserWarning, stacklevel=2)
        self.embed_dim = info.embed_dim
        self.image_size = info.image_size
        self.context_length = info.context_length

    def save(self, path, format: str | None = None, dtype: str | None = None) -> None:
        """Writes the model atomically. format: "safetensors", "cleanclip-pt" (CleanCLIP's torch
        checkpoint: epoch, name, state_dict, optimizer with an empty AdamW state) or "hf" (a Hugging
        Face CLIPModel directory, ViT only); None infers it from `path` as `cleanclip convert`
        does (.pt/.pth -> cleanclip-pt, an existing directory or no extension -> hf, else
        safetensors). dtype: "f32" (None) or "f16" (rounded to nearest even)."""
        if format not in _SAVE_FORMATS:
            raise ValueError(f"format must be None, 'safetensors', 'cleanclip-pt' or 'hf', not {format!r}")
        if dtype not in _SAVE_DTYPES:
            raise ValueError(f"dtype must be None, 'f32' or 'f16', not {dtype!r}")
        with self._handle.use() as ptr:
            check(lib.cleanclip_model_save(ptr, _path(path, "path"), _SAVE_FORMATS[format], _SAVE_DTYPES[dtype]))

    def close(self) -> None:
        """Frees the model (also done when the object is collected): at once, or when the last
        call in flight on it returns. Calls made after close() raise ValueError."""
        self._handle.close()

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"cleanclip.Model({self.info['architecture']}, embed_dim={self.embed_dim})"

    def _output(self, n: int) -> np.ndarray:
        return np.empty((n, self.embed_dim), dtype=np.float32)

    def _call(self, fn, n: int, *args, normalize: bool) -> np.ndarray:
        out = self._output(n)
        with self._handle.use() as ptr:
            check(fn(ptr, *args, n, 1 if normalize else 0, _ptr(out, ctypes.c_float), out.size, None))
        return out

    def encode_text(self, texts, normalize: bool = False) -> np.ndarray:
        """Captions (a string or list of strings) -> float32 (n, E), tokenized with CLIP's BPE.
        normalize=True scales every row to unit L2 norm; the default (False) returns the model's
        raw embeddings, as `cleanclip embed` without --normalize and open_clip's encode_text do."""
        arr, n = _c_strings(_text_list(texts, "texts"), "texts")
        return self._call(lib.cleanclip_encode_texts, n, arr, normalize=normalize)

    def encode_tokens(self, tokens, normalize: bool = False) -> np.ndarray:
        """Token ids, integer (n, context_length) -> float32 (n, E) (normalize: as for encode_text)."""
        t = np.asarray(tokens)
        if not np.issubdtype(t.dtype, np.integer):
            raise TypeError(f"tokens must be an integer array, got dtype {t.dtype}")
        if t.ndim != 2 or t.shape[1] != self.context_length:
            raise ValueError(f"tokens must have shape (n, {self.context_length}), got {t.shape}")
        if t.size and (t.min() < np.iinfo(np.int32).min or t.max() > np.iinfo(np.int32).max):
            raise ValueError("token ids do not fit in int32")
        t = np.ascontiguousarray(t, dtype=np.int32)
        return self._call(lib.cleanclip_encode_tokens, t.shape[0], _ptr(t, ctypes.c_int32), normalize=normalize)

    def encode_pixels(self, pixels, normalize: bool = False) -> np.ndarray:
        """Preprocessed images, float (n, 3, S, S) with S = info["image_size"] -> float32 (n, E)
        (normalize: as for encode_text)."""
        p = np.asarray(pixels)
        if not np.issubdtype(p.dtype, np.floating):
            raise TypeError(f"pixels must be a float32 array, got dtype {p.dtype}")
        s = self.image_size
        if p.ndim != 4 or p.shape[1:] != (3, s, s):
            raise ValueError(f"pixels must have shape (n, 3, {s}, {s}), got {p.shape}")
        p = np.ascontiguousarray(p, dtype=np.float32)
        return self._call(lib.cleanclip_encode_pixels, p.shape[0], _ptr(p, ctypes.c_float), normalize=normalize)

    def encode_images(self, images, normalize: bool = False) -> np.ndarray:
        """Image files (a path or list of paths) or uint8 RGB arrays (n, H, W, 3) -> float32 (n, E).
        Images are preprocessed in the library as CLIP does (bicubic resize, centre crop).
        normalize: as for encode_text (default False: raw embeddings, as `cleanclip embed`)."""
        if _is_paths(images):
            arr, n = _c_strings(_path_list(images, "images"), "images")
            return self._call(lib.cleanclip_encode_image_files, n, arr, normalize=normalize)
        if isinstance(images, (list, tuple)) and not images:
            arr, n = _c_strings([], "images")  # the library reports the empty list
            return self._call(lib.cleanclip_encode_image_files, 0, arr, normalize=normalize)
        a = _rgb8(images, "images")
        n, h, w, _ = a.shape
        out = self._output(n)
        with self._handle.use() as ptr:
            check(lib.cleanclip_encode_rgb8(ptr, _ptr(a, ctypes.c_uint8), n, w, h, 1 if normalize else 0,
                                            _ptr(out, ctypes.c_float), out.size, None))
        return out

    def classifier(self, classnames, templates=("{}",)) -> "Classifier":
        """A zero-shot classifier over `classnames`, each put into every template ("a photo of a {}.")."""
        return Classifier(self, classnames, templates)


class Classifier:
    """Zero-shot classifier: class embedding = normalised mean of the normalised template embeddings."""

    def __init__(self, model: Model, classnames, templates):
        if not isinstance(model, Model):
            raise TypeError(f"model must be a cleanclip.Model, not {type(model).__name__}")
        self.classnames = _text_list(classnames, "classnames")
        self.templates = _text_list(templates, "templates")
        names, nc = _c_strings(self.classnames, "classnames")
        temps, nt = _c_strings(self.templates, "templates")
        self._model = model
        self._handle = ClassifierHandle(model._handle, names, nc, temps, nt)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "Classifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def class_embeddings(self) -> np.ndarray:
        """float32 (classes, E), unit-norm rows."""
        out = np.empty((len(self.classnames), self._model.embed_dim), dtype=np.float32)
        with self._handle.use() as ptr:
            check(lib.cleanclip_classifier_class_embeddings(ptr, _ptr(out, ctypes.c_float), out.size, None))
        return out

    def classify(self, images) -> tuple[np.ndarray, np.ndarray]:
        """Image paths or uint8 (n, H, W, 3) -> (best class index int64 (n,), probabilities float32 (n, classes))."""
        c = len(self.classnames)
        if _is_paths(images):
            arr, n = _c_strings(_path_list(images, "images"), "images")
            idx, prob = np.empty(n, np.int32), np.empty((n, c), np.float32)
            with self._handle.use() as ptr:
                check(lib.cleanclip_classifier_classify_files(ptr, arr, n, _ptr(idx, ctypes.c_int32),
                                                              _ptr(prob, ctypes.c_float), prob.size, None))
        elif isinstance(images, (list, tuple)) and not images:
            raise ValueError("images is empty")
        else:
            a = _rgb8(images, "images")
            n, h, w, _ = a.shape
            idx, prob = np.empty(n, np.int32), np.empty((n, c), np.float32)
            with self._handle.use() as ptr:
                check(lib.cleanclip_classifier_classify_rgb8(ptr, _ptr(a, ctypes.c_uint8), n, w, h,
                                                             _ptr(idx, ctypes.c_int32), _ptr(prob, ctypes.c_float),
                                                             prob.size, None))
        return idx.astype(np.int64), prob

    def classify_embeddings(self, embeddings) -> tuple[np.ndarray, np.ndarray]:
        """Image embeddings float (n, E) -> (indices, probabilities) as classify."""
        e = np.asarray(embeddings)
        if not np.issubdtype(e.dtype, np.floating):
            raise TypeError(f"embeddings must be a float32 array, got dtype {e.dtype}")
        if e.ndim != 2 or e.shape[1] != self._model.embed_dim:
            raise ValueError(f"embeddings must have shape (n, {self._model.embed_dim}), got {e.shape}")
        e = np.ascontiguousarray(e, dtype=np.float32)
        n, c = e.shape[0], len(self.classnames)
        idx, prob = np.empty(n, np.int32), np.empty((n, c), np.float32)
        with self._handle.use() as ptr:
            check(lib.cleanclip_classifier_classify_embeddings(ptr, _ptr(e, ctypes.c_float), n,
                                                               _ptr(idx, ctypes.c_int32), _ptr(prob, ctypes.c_float),
                                                               prob.size, None))
        return idx.astype(np.int64), prob


# ---- functions -----------------------------------------------------------------------------

def load(path, **options) -> Model:
    """Loads a checkpoint (.safetensors, or a Hugging Face directory).
    Options: activation=None | "quick_gelu" | "gelu", num_threads=int (process-wide)."""
    unknown = set(options) - {"activation", "num_threads"}
    if unknown:
        raise TypeError(f"unknown option(s) {', '.join(sorted(unknown))}; known: activation, num_threads")
    return Model(path, **options)


def tokenize(texts, context_length: int = 77, truncate: bool = True) -> np.ndarray:
    """CLIP BPE token ids, int32 (n, context_length): [start, ids..., end, 0...]."""
    arr, n = _c_strings(_text_list(texts, "texts"), "texts")
    ctx = _int(context_length, "context_length")

    def call(out, capacity, needed):
        return lib.cleanclip_tokenize(arr, n, ctx, 1 if truncate else 0, out, capacity, needed)

    out = np.empty(_needed(call), dtype=np.int32).reshape(n, ctx)  # the library checks ctx and n first
    check(call(_ptr(out, ctypes.c_int32), out.size, None))
    return out


def preprocess(image, size: int = 224) -> np.ndarray:
    """CLIP preprocessing of an image file or a uint8 (H, W, 3) array -> float32 (3, size, size)."""
    size = _int(size, "size")
    if isinstance(image, (str, os.PathLike)):
        path = os.fsencode(image)

        def call(out, capacity, needed):
            return lib.cleanclip_preprocess_file(path, size, out, capacity, needed)
    else:
        a = np.asarray(image)
        if a.dtype != np.uint8:
            raise TypeError(f"image must be a path or a uint8 RGB array, got dtype {a.dtype}")
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"image must have shape (height, width, 3), got {a.shape}")
        a = np.ascontiguousarray(a)

        def call(out, capacity, needed):
            return lib.cleanclip_preprocess_rgb8(_ptr(a, ctypes.c_uint8), a.shape[1], a.shape[0], size, out, capacity,
                                                 needed)
    out = np.empty(_needed(call), dtype=np.float32).reshape(3, size, size)  # the library checks size first
    check(call(_ptr(out, ctypes.c_float), out.size, None))
    return out


def zero_shot(model: Model, images, classnames, templates=("{}",)) -> tuple[np.ndarray, np.ndarray]:
    """Classifies images (paths or uint8 (n, H, W, 3)) against class names put into templates.
    Returns (indices int64 (n,), probabilities float32 (n, classes)); probabilities are
    softmax(temperature * cosine similarity)."""
    with Classifier(model, classnames, templates) as classifier:
        return classifier.classify(images)


def set_num_threads(n: int) -> None:
    """Worker threads for every model (process-wide; set before encoding)."""
    check(lib.cleanclip_set_num_threads(_int(n, "n")))


def get_num_threads() -> int:
    return lib.cleanclip_get_num_threads()


def blas_info(measure_seconds: float = 0.0) -> dict:
    """The BLAS kernel running the matrix products and how it was chosen.

    Returns {"kernel": "Cooperlake", "description": "OpenBLAS 0.3.21 (...), kernel ..., chosen
    from CPU features"}; with measure_seconds > 0 also "sgemm_gflops", measured for that long.
    """
    info = {"kernel": lib.cleanclip_blas_kernel().decode(), "description": lib.cleanclip_blas_description().decode()}
    if measure_seconds:
        gflops = ctypes.c_double()
        check(lib.cleanclip_blas_measure_gflops(float(measure_seconds), ctypes.byref(gflops)))
        info["sgemm_gflops"] = gflops.value
    return info


# ---- the method: finetuning, evaluation, poisoning, scoring -------------------------------

class _Progress:
    """A ctypes progress callback around a Python callable receiving a dict; returning False
    cancels. An exception raised by the callable cancels the call and is re-raised after it.
    The ctypes function object lives as long as this object (keep it for the whole call)."""

    def __init__(self, fn):
        if fn is not None and not callable(fn):
            raise TypeError(f"progress must be callable or None, not {type(fn).__name__}")
        self.fn = fn
        self.error = None
        self.c_fn = _lib.progress_fn(self._call) if fn is not None else _lib.progress_fn()  # NULL

    def _call(self, p, _user_data):
        try:
            return 1 if self.fn(_progress_dict(p.contents)) is False else 0
        except BaseException as e:  # noqa: BLE001 - re-raised by check()
            self.error = e
            return 1

    def check(self, status: int) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        check(status)


def _progress_dict(p: _lib.cleanclip_progress) -> dict:
    out = {}
    for name, _ in _lib.cleanclip_progress._fields_[1:]:
        f = getattr(_lib.cleanclip_progress, name)
        if f.offset + f.size > p.struct_size:  # an older library: the field does not exist
            continue
        v = getattr(p, name)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, float) and v != v:
            v = None
        out[name] = v
    return out


def _model_handle(model) -> ModelHandle:
    if not isinstance(model, Model):
        raise TypeError(f"model must be a cleanclip.Model, not {type(model).__name__}")
    return model._handle


def _path(p, name: str, optional: bool = False):
    if p is None and optional:
        return None
    if not isinstance(p, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), not {type(p).__name__}")
    return os.fsencode(p)


def _text(s, name: str, optional: bool = True):
    if s is None and optional:
        return None
    if not isinstance(s, str):
        raise TypeError(f"{name} must be a string, not {type(s).__name__}")
    if "\0" in s:
        raise ValueError(f"{name} contains a NUL character")
    return s.encode("utf-8")


def _options(struct, default_fn):
    o = struct()
    check(default_fn(ctypes.byref(o), ctypes.sizeof(o)))
    return o


def _text_result(call) -> str:
    """Runs call(buffer, capacity, needed) twice: first with no buffer to learn the size (the
    library checks it before doing any work), then with a buffer of that size."""
    buf = ctypes.create_string_buffer(_needed(call))
    check(call(buf, len(buf), None))
    return buf.value.decode("utf-8")


def finetune(model: Model, train_csv, *, inmodal: bool = True, lr: float = 1e-5, batch_size: int = 64,
             epochs: int = 10, warmup_steps: int = 50, weight_decay: float = 0.1, clip_weight: float = 1.0,
             inmodal_weight: float = 1.0, max_grad_norm: float | None = None, seed: int = 0,
             image_key: str = "image", caption_key: str = "caption", out=None, resume: bool = False,
             wordnet_dir=None, progress=None, checkpoint=None) -> list[dict]:
    """CleanCLIP finetuning of `model` in place on an image-caption CSV (columns `image_key`,
    `caption_key`; image paths relative to the CSV). inmodal=False: multimodal loss only.
    Training starts from `model`'s weights. out: a .safetensors path written after every epoch
    (with the optimizer state next to it), as `cleanclip finetune --out`; resume=True continues the
    run saved there. checkpoint: the former name of `out`, deprecated (DeprecationWarning): for the
    CLI and CleanCLIP, --checkpoint names the starting point, not the output.
    progress: called with a dict (phase "step" after every step, "epoch" after every epoch; keys
    epoch, step counts, loss, clip_loss, inmodal_loss, lr, seconds, eta_seconds, ...); returning
    False cancels (raises cleanclip.Cancelled).
    Returns the per-epoch summaries of this call (phase "epoch" dicts).
    While it runs, calls on the model from other threads raise RuntimeError (calls from the
    progress callback are allowed); it raises RuntimeError when other calls on the model are in
    flight. The model is back in inference state afterwards, also after an error or cancel.

    Data-parallel: run the same script under an MPI launcher (`mpirun -np N python train.py`,
    `srun`) and every rank's call joins one data-parallel job, as CleanCLIP's distributed training:
    batch_size is the global batch (divisible by N), each rank encodes its B/N pairs of every batch,
    the loss is over the all-gathered global batch, gradients are averaged over ranks, and rank 0
    alone writes `out` (resumable with any N). It needs libcleanclip_mpi.so next to the library or
    in $CLEANCLIP_MPI_PLUGIN (scripts/build_mpi_plugin.sh); without it the call raises before
    training. If one rank raises, end the job (os._exit(1), or mpi4py's COMM_WORLD.Abort()): the
    other ranks wait in their next collective. See include/cleanclip.h."""
    handle = _model_handle(model)
    if checkpoint is not None:
        if out is not None:
            raise TypeError("give out= only (checkpoint= is its deprecated name)")
        warnings.warn("finetune(checkpoint=) is deprecated: the output path is now out= (as `cleanclip finetune "
                      "--out`; --checkpoint is an input there and in CleanCLIP)", DeprecationWarning, stacklevel=2)
        out = checkpoint
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, not {type(progress).__name__}")
    o = _options(_lib.cleanclip_finetune_options, lib.cleanclip_finetune_default_options)
    o.inmodal = 1 if inmodal else 0
    o.batch_size = _int(batch_size, "batch_size", 1)
    o.epochs = _int(epochs, "epochs", 1)
    o.warmup_steps = _int(warmup_steps, "warmup_steps", 0)
    o.lr, o.weight_decay = float(lr), float(weight_decay)
    o.clip_weight, o.inmodal_weight = float(clip_weight), float(inmodal_weight)
    o.max_grad_norm = 0.0 if max_grad_norm is None else float(max_grad_norm)
    o.seed = _int(seed, "seed", 0, ctypes.c_uint64)
    o.wordnet_dir = _path(wordnet_dir, "wordnet_dir", optional=True)
    epochs_done = []

    def on_event(p):
        if p["phase"] == "epoch":
            epochs_done.append(p)
        return progress(p) if progress is not None else True

    cb = _Progress(on_event)
    args = (_path(train_csv, "train_csv"), _text(image_key, "image_key"), _text(caption_key, "caption_key"),
            ctypes.byref(o), _path(out, "out", optional=True), 1 if resume else 0, cb.c_fn, None)
    with handle.exclusive() as ptr:
        cb.check(lib.cleanclip_finetune(ptr, *args))
    return epochs_done


def _evaluate_options(classes, trigger, target, templates, location, patch_size, seed, batch_size, image_column,
                      label_column):
    o = _options(_lib.cleanclip_evaluate_options, lib.cleanclip_evaluate_default_options)
    if isinstance(classes, os.PathLike) or (isinstance(classes, str) and os.path.isfile(classes)):
        o.classes_file = os.fsencode(classes)
    else:
        o.classes = _text(classes, "classes", optional=False)
    o.templates_file = _path(templates, "templates", optional=True)
    o.trigger = _text(trigger, "trigger")
    o.target = _text(None if target is None else str(target), "target")
    o.location = _text(location, "location")
    o.patch_size = _int(patch_size, "patch_size", 1)
    o.seed = _int(seed, "seed", 0, ctypes.c_uint64)
    o.batch_size = _int(batch_size, "batch_size", 1)
    o.image_column = _text(image_column, "image_column")
    o.label_column = _text(label_column, "label_column")
    return o


def evaluate(model: Model, eval_csv, classes="imagenet", trigger: str | None = None, target: str | None = None, *,
             templates=None, location: str = "random", patch_size: int = 16, seed: int = 0, batch_size: int = 64,
             image_column: str = "image", label_column: str = "label", progress=None) -> dict:
    """Zero-shot evaluation on a labelled image CSV. classes: "imagenet", "cifar10", "cifar100" or
    a file with one class per line (templates: a file with one "{}" template per line; default
    OpenAI's 80). With trigger ("random", "yellow", "blended", "SIG", "warped", "wanet") and
    target, also the attack success rate. Returns the report as a dict (clean_accuracy,
    top5_accuracy, n_images, asr, per_class_asr, ...). progress: as for finetune ("clean" /
    "triggered" phases, images done)."""
    return _evaluation_report(lib.cleanclip_evaluate, model, eval_csv, classes, trigger, target, templates, location,
                              patch_size, seed, batch_size, image_column, label_column, progress)


def score_trigger(model: Model, eval_csv, trigger: str, target: str, classes="imagenet", *, templates=None,
                  location: str = "random", patch_size: int = 16, seed: int = 0, batch_size: int = 64,
                  image_column: str = "image", label_column: str = "label", progress=None) -> dict:
    """How strongly `trigger` pulls the images of `eval_csv` toward `target`: the evaluate()
    report, with mean_similarity_shift."""
    return _evaluation_report(lib.cleanclip_score_trigger, model, eval_csv, classes, trigger, target, templates, location,
                              patch_size, seed, batch_size, image_column, label_column, progress)


def _evaluation_report(c_function, model, eval_csv, classes, trigger, target, templates, location, patch_size, seed,
                       batch_size, image_column, label_column, progress) -> dict:
    """Runs cleanclip_evaluate or cleanclip_score_trigger (same options, same JSON report)."""
    handle = _model_handle(model)
    o = _evaluate_options(classes, trigger, target, templates, location, patch_size, seed, batch_size, image_column,
                          label_column)
    path = _path(eval_csv, "eval_csv")
    cb = _Progress(progress)

    def call(buf, capacity, needed):
        with handle.use() as ptr:
            status = c_function(ptr, path, ctypes.byref(o), cb.c_fn, None, buf, capacity, needed)
        if status not in (_lib.OK, _lib.BUFFER_TOO_SMALL):
            cb.check(status)
        return status

    return json.loads(_text_result(call))


def poison(csv, target: str, count: int, *, trigger: str = "random", location: str = "random", patch_size: int = 16,
           seed: int = 0, label_consistent: bool = False, size_train_data: int | None = None, output_dir=None,
           output_name: str | None = None, image_column: str = "image", caption_column: str = "caption") -> str:
    """Poisons `count` rows of an image-caption CSV (trigger on the image, caption "a photo of a
    <target>." unless label_consistent) and writes the images and a new CSV (image, caption,
    is_backdoor) into output_dir (default: the CSV's folder). Returns the new CSV's path."""
    o = _options(_lib.cleanclip_poison_options, lib.cleanclip_poison_default_options)
    o.trigger = _text(trigger, "trigger")
    o.location = _text(location, "location")
    o.patch_size = _int(patch_size, "patch_size", 1)
    o.seed = _int(seed, "seed", 0, ctypes.c_uint64)
    o.label_consistent = 1 if label_consistent else 0
    o.size_train_data = 0 if size_train_data is None else _int(size_train_data, "size_train_data", 1, ctypes.c_int64)
    o.image_column = _text(image_column, "image_column")
    o.caption_column = _text(caption_column, "caption_column")
    o.output_name = _text(output_name, "output_name")
    args = (_path(csv, "csv"), _text(target, "target", optional=False), _int(count, "count", 0, ctypes.c_size_t),
            _path(output_dir, "output_dir", optional=True), ctypes.byref(o))
    return _text_result(lambda buf, capacity, needed: lib.cleanclip_poison(*args, buf, capacity, needed))


_SCORES = ("k_distance", "slof", "dao")


def score_samples(model: Model, csv, k: int = 16, out_csv=None, *, image_column: str = "image",
                  backdoor_column: str = "is_backdoor", batch_size: int = 64, progress=None) -> dict:
    """Backdoor-sample scores of every row of an image CSV from its image embeddings: a dict with
    float32 arrays "k_distance", "slof", "dao" (one value per row; higher = more suspicious) and
    "auroc" ({score: AUROC} when the CSV marks poisoned rows in `backdoor_column`, else None).
    out_csv: also write them as a CSV."""
    handle = _model_handle(model)
    o = _options(_lib.cleanclip_score_samples_options, lib.cleanclip_score_samples_default_options)
    o.k = _int(k, "k", 1)
    o.batch_size = _int(batch_size, "batch_size", 1)
    o.image_column = _text(image_column, "image_column")
    o.backdoor_column = _text(backdoor_column, "backdoor_column")
    path, out_path = _path(csv, "csv"), _path(out_csv, "out_csv", optional=True)
    cb = _Progress(progress)
    needed = ctypes.c_size_t(0)
    dummy = np.empty(1, np.float32)
    with handle.use() as ptr:
        # The row count is checked before any image is encoded: ask for it with a 0 capacity.
        status = lib.cleanclip_score_samples(ptr, path, ctypes.byref(o), None, cb.c_fn, None,
                                             _ptr(dummy, ctypes.c_float), None, None, 0, ctypes.byref(needed), None)
        if status != _lib.BUFFER_TOO_SMALL:
            check(status)
        n = needed.value
        out = {name: np.empty(n, np.float32) for name in _SCORES}
        auroc = (ctypes.c_double * 3)()
        cb.check(lib.cleanclip_score_samples(ptr, path, ctypes.byref(o), out_path, cb.c_fn, None,
                                             *(_ptr(out[name], ctypes.c_float) for name in _SCORES), n, None, auroc))
    out["auroc"] = None if auroc[0] != auroc[0] else dict(zip(_SCORES, list(auroc)))
    return out


def sample_scores(embeddings, k: int = 16) -> dict:
    """k-distance, SLOF and DAO of every row of float (n, d) embeddings (n >= k + 2): a dict of
    float32 arrays of length n."""
    e = np.asarray(embeddings)
    if not np.issubdtype(e.dtype, np.floating):
        raise TypeError(f"embeddings must be a float32 array, got dtype {e.dtype}")
    if e.ndim != 2:
        raise ValueError(f"embeddings must have shape (n, d), got {e.shape}")
    e = np.ascontiguousarray(e, dtype=np.float32)
    n, d = e.shape
    k = _int(k, "k", 1)
    out = {name: np.empty(n, np.float32) for name in _SCORES}
    check(lib.cleanclip_sample_scores(_ptr(e, ctypes.c_float), n, d, k,
                                      *(_ptr(out[name], ctypes.c_float) for name in _SCORES), n, None))
    return out
