"""The ctypes layer mirrors include/cleanclip.h: struct sizes and offsets as the library reports
them, every header function declared, the version in step."""
import ctypes
import re
from pathlib import Path

import pytest

import cleanclip
from cleanclip import _lib

HEADER = Path(__file__).resolve().parents[3] / "include" / "cleanclip.h"


@pytest.mark.parametrize("name", sorted(_lib.STRUCTS))
def test_struct_layout_matches_library(name):
    mirror = _lib.STRUCTS[name]
    size, n = ctypes.c_size_t(), ctypes.c_size_t()
    cleanclip.check(_lib.lib.cleanclip_struct_layout(name.encode(), ctypes.byref(size), ctypes.byref(n)))
    assert ctypes.sizeof(mirror) == size.value
    assert [f[0] for f in mirror._fields_] == [field(name, i)[0] for i in range(n.value)]
    for i in range(n.value):
        fname, offset, fsize = field(name, i)
        assert getattr(mirror, fname).offset == offset, fname
        assert getattr(mirror, fname).size == fsize, fname


def field(struct, i):
    name, offset, size = ctypes.c_char_p(), ctypes.c_size_t(), ctypes.c_size_t()
    cleanclip.check(_lib.lib.cleanclip_struct_field(struct.encode(), i, ctypes.byref(name), ctypes.byref(offset),
                                                    ctypes.byref(size)))
    return name.value.decode(), offset.value, size.value


def test_every_struct_in_the_header_is_mirrored():
    structs = set(re.findall(r"typedef struct (cleanclip_\w+) \{", HEADER.read_text()))
    assert structs == set(_lib.STRUCTS)


def test_every_header_function_is_declared():
    text = HEADER.read_text()
    declared = set(re.findall(r"^[a-z_ 0-9*]*?\b(cleanclip_\w+)\(", text, re.M))
    assert declared == set(_lib.FUNCTIONS), declared ^ set(_lib.FUNCTIONS)
    for name in declared:
        fn = getattr(_lib.lib, name)
        assert fn.argtypes is not None or _lib.FUNCTIONS[name][1] == [], name


def test_header_enums_match():
    text = HEADER.read_text()
    for name, value in re.findall(r"CLEANCLIP_([A-Z_]+) = (\d+),?", text):
        assert getattr(_lib, name) == int(value), name
        if not name.startswith("ACTIVATION_"):
            assert _lib.lib.cleanclip_status_name(int(value)).decode() == "CLEANCLIP_" + name


def test_version():
    text = HEADER.read_text()
    major, minor, patch = (int(re.search(rf"CLEANCLIP_VERSION_{k} (\d+)", text).group(1))
                           for k in ("MAJOR", "MINOR", "PATCH"))
    assert (major, minor, patch) == (_lib.VERSION_MAJOR, _lib.VERSION_MINOR, _lib.VERSION_PATCH)
    assert _lib.lib.cleanclip_version() == _lib.VERSION
    assert cleanclip.library_version == cleanclip.version == f"{major}.{minor}.{patch}"


def test_struct_size_rules():
    """Older (smaller) structs are accepted; larger ones from a newer header are rejected."""
    o = _lib.cleanclip_model_options()
    assert _lib.lib.cleanclip_model_default_options(ctypes.byref(o), ctypes.sizeof(o) + 8) == _lib.INVALID_ARGUMENT
    assert "newer than libcleanclip" in _lib.lib.cleanclip_last_error().decode()
    assert _lib.lib.cleanclip_model_default_options(ctypes.byref(o), 12) == _lib.OK
    assert o.struct_size == 12
