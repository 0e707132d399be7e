"""Layer 1: ctypes declarations mirroring include/cleanclip.h one-to-one.

Every exported function has its argtypes and restype declared here. The structs and constants
come from _structs.py, generated from the header by scripts/gen_layouts.py; the tests compare
their sizes and offsets with the C compiler's and the library's own report
(cleanclip_struct_layout / cleanclip_struct_field). Nothing here raises on a failed status; see
_handles.py for that.
"""
from __future__ import annotations

import ctypes
import os
from ctypes import CFUNCTYPE, POINTER, c_char_p, c_double, c_float, c_int, c_int32, c_size_t, c_uint8, c_uint32, c_void_p
from pathlib import Path

# The header's version, constants (OK, IO_ERROR, IO_ERROR_NOT_FOUND, ACTIVATION_GELU, ...) and a
# ctypes.Structure per struct, with STRUCTS by name: generated from include/cleanclip.h.
from ._structs import *  # noqa: F401,F403

# int (*cleanclip_progress_fn)(const cleanclip_progress *, void *user_data)
progress_fn = CFUNCTYPE(c_int, POINTER(cleanclip_progress), c_void_p)

model_p = c_void_p  # cleanclip_model *
classifier_p = c_void_p  # cleanclip_classifier *
c_str_array = POINTER(c_char_p)  # const char *const *
float_p = POINTER(c_float)
int32_p = POINTER(c_int32)
uint8_p = POINTER(c_uint8)
size_p = POINTER(c_size_t)

# name: (restype, argtypes), in header order.
FUNCTIONS = {
    "cleanclip_version": (c_uint32, []),
    "cleanclip_version_string": (c_char_p, []),
    "cleanclip_status_name": (c_char_p, [c_int]),
    "cleanclip_errstr": (c_char_p, [c_int]),
    "cleanclip_last_error": (c_char_p, []),
    "cleanclip_extended_status": (c_int, []),
    "cleanclip_set_num_threads": (c_int, [c_int32]),
    "cleanclip_get_num_threads": (c_int32, []),
    "cleanclip_blas_kernel": (c_char_p, []),
    "cleanclip_blas_description": (c_char_p, []),
    "cleanclip_blas_measure_gflops": (c_int, [c_double, POINTER(c_double)]),
    "cleanclip_model_default_options": (c_int, [POINTER(cleanclip_model_options), c_size_t]),
    "cleanclip_model_load": (c_int, [c_char_p, POINTER(cleanclip_model_options), POINTER(model_p)]),
    "cleanclip_model_free": (None, [model_p]),
    "cleanclip_model_get_info": (c_int, [model_p, POINTER(cleanclip_model_info)]),
    "cleanclip_model_save": (c_int, [model_p, c_char_p, c_int32, c_int32]),
    "cleanclip_tokenize": (c_int, [c_str_array, c_size_t, c_int32, c_int, int32_p, c_size_t, size_p]),
    "cleanclip_preprocess_file": (c_int, [c_char_p, c_int32, float_p, c_size_t, size_p]),
    "cleanclip_preprocess_rgb8": (c_int, [uint8_p, c_size_t, c_size_t, c_int32, float_p, c_size_t, size_p]),
    "cleanclip_encode_tokens": (c_int, [model_p, int32_p, c_size_t, c_int, float_p, c_size_t, size_p]),
    "cleanclip_encode_texts": (c_int, [model_p, c_str_array, c_size_t, c_int, float_p, c_size_t, size_p]),
    "cleanclip_encode_pixels": (c_int, [model_p, float_p, c_size_t, c_int, float_p, c_size_t, size_p]),
    "cleanclip_encode_image_files": (c_int, [model_p, c_str_array, c_size_t, c_int, float_p, c_size_t, size_p]),
    "cleanclip_encode_rgb8": (c_int, [model_p, uint8_p, c_size_t, c_size_t, c_size_t, c_int, float_p, c_size_t,
                                      size_p]),
    "cleanclip_classifier_create": (c_int, [model_p, c_str_array, c_size_t, c_str_array, c_size_t,
                                            POINTER(classifier_p)]),
    "cleanclip_classifier_free": (None, [classifier_p]),
    "cleanclip_classifier_num_classes": (c_size_t, [classifier_p]),
    "cleanclip_classifier_class_embeddings": (c_int, [classifier_p, float_p, c_size_t, size_p]),
    "cleanclip_classifier_classify_embeddings": (c_int, [classifier_p, float_p, c_size_t, int32_p, float_p,
                                                         c_size_t, size_p]),
    "cleanclip_classifier_classify_files": (c_int, [classifier_p, c_str_array, c_size_t, int32_p, float_p,
                                                    c_size_t, size_p]),
    "cleanclip_classifier_classify_rgb8": (c_int, [classifier_p, uint8_p, c_size_t, c_size_t, c_size_t, int32_p,
                                                   float_p, c_size_t, size_p]),
    "cleanclip_zero_shot_files": (c_int, [model_p, c_str_array, c_size_t, c_str_array, c_size_t, c_str_array,
                                          c_size_t, int32_p, float_p, c_size_t, size_p]),
    "cleanclip_finetune_default_options": (c_int, [POINTER(cleanclip_finetune_options), c_size_t]),
    "cleanclip_finetune": (c_int, [model_p, c_char_p, c_char_p, c_char_p, POINTER(cleanclip_finetune_options), c_char_p,
                                   c_int, progress_fn, c_void_p]),
    "cleanclip_evaluate_default_options": (c_int, [POINTER(cleanclip_evaluate_options), c_size_t]),
    "cleanclip_evaluate": (c_int, [model_p, c_char_p, POINTER(cleanclip_evaluate_options), progress_fn, c_void_p,
                                   c_char_p, c_size_t, size_p]),
    "cleanclip_score_trigger": (c_int, [model_p, c_char_p, POINTER(cleanclip_evaluate_options), progress_fn, c_void_p,
                                        c_char_p, c_size_t, size_p]),
    "cleanclip_poison_default_options": (c_int, [POINTER(cleanclip_poison_options), c_size_t]),
    "cleanclip_poison": (c_int, [c_char_p, c_char_p, c_size_t, c_char_p, POINTER(cleanclip_poison_options), c_char_p,
                                 c_size_t, size_p]),
    "cleanclip_score_samples_default_options": (c_int, [POINTER(cleanclip_score_samples_options), c_size_t]),
    "cleanclip_score_samples": (c_int, [model_p, c_char_p, POINTER(cleanclip_score_samples_options), c_char_p,
                                        progress_fn, c_void_p, float_p, float_p, float_p, c_size_t, size_p,
                                        POINTER(c_double)]),
    "cleanclip_sample_scores": (c_int, [float_p, c_size_t, c_size_t, c_int32, float_p, float_p, float_p, c_size_t,
                                        size_p]),
    "cleanclip_struct_layout": (c_int, [c_char_p, size_p, size_p]),
    "cleanclip_struct_field": (c_int, [c_char_p, c_size_t, POINTER(c_char_p), size_p, size_p]),
}

LIBRARY_NAME = "libcleanclip.so"


def source_tree_root() -> Path | None:
    """The repository when this package is imported from its source tree (bindings/python on
    sys.path), else None: an installed package (site-packages) has no repository around it."""
    here = Path(__file__).resolve().parent
    if len(here.parents) < 3:
        return None
    repo = here.parents[2]
    if here.parent.name == "python" and here.parents[1].name == "bindings" and (repo / "Package.swift").is_file():
        return repo
    return None


def candidate_paths() -> list[Path]:
    """Where the library is looked for, in order: $CLEANCLIP_LIB (an explicit path wins), the copy
    shipped next to this file in the wheel, and in a source tree the repository's release build
    (<repo>/$CLEANCLIP_BUILD_DIR/release, then <repo>/.build/release). When none exists, the
    system's search for libcleanclip.so follows (LD_LIBRARY_PATH, the ldconfig cache)."""
    out = []
    env = os.environ.get("CLEANCLIP_LIB")
    if env:
        out.append(Path(env))
    out.append(Path(__file__).resolve().parent / LIBRARY_NAME)
    repo = source_tree_root()
    if repo is not None:
        build = os.environ.get("CLEANCLIP_BUILD_DIR")
        if build:
            out.append((Path(build) if os.path.isabs(build) else repo / build) / "release" / LIBRARY_NAME)
        out.append(repo / ".build" / "release" / LIBRARY_NAME)
    return out


def _load() -> ctypes.CDLL:
    env = os.environ.get("CLEANCLIP_LIB")
    if env and not Path(env).is_file():
        raise OSError(f"CLEANCLIP_LIB is set to {env!r}, which is not a file")
    tried = []
    for path in candidate_paths():
        if path.is_file():
            lib = ctypes.CDLL(str(path))
            break
        tried.append(str(path))
    else:
        try:  # the dynamic loader's own search: LD_LIBRARY_PATH, then the ldconfig cache
            lib = ctypes.CDLL(LIBRARY_NAME)
        except OSError:
            tried.append(f"{LIBRARY_NAME} on the loader's path (LD_LIBRARY_PATH, ldconfig)")
            raise OSError("libcleanclip.so not found; install the package with `pip install ./bindings/python` "
                          "(it builds and ships the library) or set CLEANCLIP_LIB to its path (looked in: "
                          + ", ".join(tried) + ")") from None
    for name, (restype, argtypes) in FUNCTIONS.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


lib = _load()
path = lib._name
