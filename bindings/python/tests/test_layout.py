"""The ctypes layer mirrors include/cleanclip.h: struct sizes and offsets as the C compiler lays
them out and as the library reports them, every header function declared, the constants and the
version in step."""
import ctypes
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import cleanclip
from cleanclip import _lib

ROOT = Path(__file__).resolve().parents[3]
HEADER = ROOT / "include" / "cleanclip.h"
sys.path.insert(0, str(ROOT / "scripts"))
import gen_layouts  # noqa: E402


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
    header = gen_layouts.parse(HEADER.read_text())
    for enum in header.enums.values():
        for c in enum.constants:
            assert getattr(_lib, c.name) == c.value, c.name
            if enum.name in ("cleanclip_status", "cleanclip_extended_code"):  # the others are option values
                assert _lib.lib.cleanclip_status_name(c.value).decode() == "CLEANCLIP_" + c.name
                assert _lib.lib.cleanclip_errstr(c.value).decode() == c.doc


def test_struct_layout_matches_the_c_compiler(tmp_path):
    """sizeof and offsetof as a C compiler lays the header's structs out, against the ctypes
    mirrors (and so against the generator's arithmetic)."""
    structs = gen_layouts.parse(HEADER.read_text()).structs
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <cleanclip.h>", "int main(void) {"]
    for s in structs:
        lines.append(f'    printf("{s.name} %zu\\n", sizeof({s.name}));')
        for f in s.fields:
            lines.append(f'    printf("{s.name}.{f.name} %zu %zu\\n", offsetof({s.name}, {f.name}), '
                         f'sizeof((({s.name} *)0)->{f.name}));')
    lines += ["    return 0;", "}"]
    (tmp_path / "layout.c").write_text("\n".join(lines) + "\n")
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert cc, "no C compiler (cc, gcc or clang) on PATH"
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", "-I", str(HEADER.parent), str(tmp_path / "layout.c"),
                    "-o", str(tmp_path / "layout")], check=True)
    out = subprocess.run([str(tmp_path / "layout")], check=True, capture_output=True, text=True).stdout.split("\n")
    compiled = dict(line.split(" ", 1) for line in out if line)
    assert {s.name for s in structs} == set(_lib.STRUCTS)
    for s in structs:
        mirror = _lib.STRUCTS[s.name]
        assert int(compiled[s.name]) == ctypes.sizeof(mirror) == s.size, s.name
        assert [f.name for f in s.fields] == [f[0] for f in mirror._fields_], s.name
        for f in s.fields:
            offset, size = map(int, compiled[f"{s.name}.{f.name}"].split())
            assert (offset, size) == (getattr(mirror, f.name).offset, getattr(mirror, f.name).size), f"{s.name}.{f.name}"


def test_version():
    text = HEADER.read_text()
    major, minor, patch = (int(re.search(rf"CLEANCLIP_VERSION_{k} (\d+)", text).group(1))
                           for k in ("MAJOR", "MINOR", "PATCH"))
    assert (major, minor, patch) == (_lib.VERSION_MAJOR, _lib.VERSION_MINOR, _lib.VERSION_PATCH)
    assert _lib.lib.cleanclip_version() == _lib.VERSION
    assert cleanclip.library_version == cleanclip.version == f"{major}.{minor}.{patch}"
    # __version__ is the C library's: the wheel's version is read from the same header.
    v = _lib.lib.cleanclip_version()
    assert cleanclip.__version__ == cleanclip.library_version == f"{v // 10000}.{v // 100 % 100}.{v % 100}"


def test_struct_size_rules():
    """Older (smaller) structs are accepted; larger ones from a newer header are rejected."""
    o = _lib.cleanclip_model_options()
    assert _lib.lib.cleanclip_model_default_options(ctypes.byref(o), ctypes.sizeof(o) + 8) == _lib.INVALID_ARGUMENT
    assert "newer than libcleanclip" in _lib.lib.cleanclip_last_error().decode()
    assert _lib.lib.cleanclip_extended_status() == _lib.INVALID_ARGUMENT_STRUCT_SIZE
    assert _lib.lib.cleanclip_model_default_options(ctypes.byref(o), 12) == _lib.OK
    assert o.struct_size == 12


def test_library_search_order(monkeypatch, tmp_path):
    """$CLEANCLIP_LIB first, then the copy next to the package (the wheel's), then only in a source
    tree the repository's build; an installed package never guesses a repository around it."""
    monkeypatch.setenv("CLEANCLIP_LIB", str(tmp_path / "lib.so"))
    monkeypatch.delenv("CLEANCLIP_BUILD_DIR", raising=False)
    paths = _lib.candidate_paths()
    package = Path(_lib.__file__).resolve().parent
    assert paths[:2] == [tmp_path / "lib.so", package / "libcleanclip.so"]
    repo = _lib.source_tree_root()
    if (package.parents[2] / "Package.swift").is_file() and package.parents[1].name == "bindings":
        assert repo == package.parents[2] and paths[2:] == [repo / ".build" / "release" / "libcleanclip.so"]
    else:
        assert repo is None and len(paths) == 2
