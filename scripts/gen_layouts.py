#!/usr/bin/env python3
"""Generates the C boundary's struct layouts and constants from include/cleanclip.h.

The header is the one source of truth for every struct, status code and enum the bindings
mirror. This script parses it (Python 3 standard library only) and writes:

  Sources/CABI/Layout+Generated.swift       status codes, version, one typed layout per struct
  bindings/python/cleanclip/_structs.py     the same constants and ctypes.Structure mirrors

    python3 scripts/gen_layouts.py                 rewrite both files in the repository
    python3 scripts/gen_layouts.py --output-dir D  write them under D instead (same relative paths)

Layouts are computed for LP64 (the header's stated target) with C's rules: each field at the
next multiple of its alignment, the struct padded to its largest alignment. The test suites
check them against the C compiler's offsetof (examples/c/tests/test_cabi.c, and
bindings/python/tests/test_layout.py), and that the committed files equal a fresh generation
(bindings/python/tests/test_generated.py).
"""
from __future__ import annotations

import argparse
import ast
import operator
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = Path("include/cleanclip.h")
SWIFT_OUT = Path("Sources/CABI/Layout+Generated.swift")
PYTHON_OUT = Path("bindings/python/cleanclip/_structs.py")


# C type -> (size, alignment, Swift type, ctypes type). LP64.
SCALARS = {
    "size_t": (8, 8, "Int", "c_size_t"),
    "int32_t": (4, 4, "Int32", "c_int32"),
    "uint32_t": (4, 4, "UInt32", "c_uint32"),
    "int64_t": (8, 8, "Int64", "c_int64"),
    "uint64_t": (8, 8, "UInt64", "c_uint64"),
    "int": (4, 4, "Int32", "c_int"),
    "float": (4, 4, "Float", "c_float"),
    "double": (8, 8, "Double", "c_double"),
    "const char *": (8, 8, "UnsafePointer<CChar>?", "c_char_p"),
}


@dataclass
class Field:
    name: str
    ctype: str  # a key of SCALARS, or "char" for a char array
    count: int | None  # the array length of `char name[count]`
    offset: int = 0

    @property
    def size(self) -> int:
        return self.count if self.count is not None else SCALARS[self.ctype][0]

    @property
    def alignment(self) -> int:
        return 1 if self.count is not None else SCALARS[self.ctype][1]

    @property
    def swift_type(self) -> str:
        return "CCharArray" if self.count is not None else SCALARS[self.ctype][2]

    @property
    def ctypes_type(self) -> str:
        return f"c_char * {self.count}" if self.count is not None else SCALARS[self.ctype][3]


@dataclass
class Struct:
    name: str
    fields: list[Field]
    size: int = 0


@dataclass
class Constant:
    name: str  # without the CLEANCLIP_ prefix
    value: int
    doc: str


@dataclass
class Enum:
    name: str
    constants: list[Constant]


@dataclass
class Header:
    version: tuple[int, int, int]
    enums: dict[str, Enum]
    structs: list[Struct]


class HeaderError(Exception):
    pass


def strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


OPERATORS = {ast.BitOr: operator.or_, ast.LShift: operator.lshift, ast.Add: operator.add}


def evaluate(expr: str, known: dict[str, int]) -> int:
    """An enum value: integer literals, earlier CLEANCLIP_ constants, | << + and parentheses
    (C and Python agree on these for non-negative integers)."""
    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id in known:
            return known[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in OPERATORS:
            return OPERATORS[type(node.op)](value(node.left), value(node.right))
        raise HeaderError(f"cannot evaluate enum value {expr!r}")
    return value(ast.parse(expr.strip(), mode="eval").body)


def parse_enums(text: str) -> dict[str, Enum]:
    enums: dict[str, Enum] = {}
    known: dict[str, int] = {}
    for m in re.finditer(r"typedef enum (cleanclip_\w+) \{(.*?)\} \1;", text, re.S):
        name, body = m.group(1), m.group(2)
        constants = []
        # One constant per entry: NAME = EXPR, /**< doc */ (the doc may span lines).
        for e in re.finditer(r"(CLEANCLIP_\w+)\s*=\s*([^,/]+?)\s*,?\s*/\*\*<(.*?)\*/", body, re.S):
            cname, expr, doc = e.group(1), e.group(2), " ".join(e.group(3).split())
            v = evaluate(expr, known)
            known[cname] = v
            constants.append(Constant(cname.removeprefix("CLEANCLIP_"), v, doc))
        declared = re.findall(r"\bCLEANCLIP_\w+\s*=", body)
        if len(declared) != len(constants):
            raise HeaderError(f"{name}: every constant needs a value and a /**< doc */ comment")
        enums[name] = Enum(name, constants)
    return enums


def parse_structs(text: str) -> list[Struct]:
    structs = []
    for m in re.finditer(r"typedef struct (cleanclip_\w+) \{(.*?)\} \1;", strip_comments(text), re.S):
        name, body = m.group(1), m.group(2)
        fields = []
        for decl in (d.strip() for d in body.split(";")):
            if not decl:
                continue
            d = re.fullmatch(r"(const char \*|[a-z0-9_]+)\s*(\w+)(?:\[(\d+)\])?", " ".join(decl.split()))
            if not d:
                raise HeaderError(f"{name}: cannot parse field {decl!r}")
            ctype, fname, count = d.group(1), d.group(2), d.group(3)
            if count is not None:
                if ctype != "char":
                    raise HeaderError(f"{name}.{fname}: only char arrays are supported")
                fields.append(Field(fname, "char", int(count)))
            elif ctype in SCALARS:
                fields.append(Field(fname, ctype, None))
            else:
                raise HeaderError(f"{name}.{fname}: unsupported type {ctype!r} (add it to SCALARS)")
        if not fields or fields[0].name != "struct_size" or fields[0].ctype != "size_t":
            raise HeaderError(f"{name}: the first field must be `size_t struct_size`")
        structs.append(lay_out(Struct(name, fields)))
    return structs


def lay_out(s: Struct) -> Struct:
    offset, align = 0, 1
    for f in s.fields:
        offset = -(-offset // f.alignment) * f.alignment
        f.offset = offset
        offset += f.size
        align = max(align, f.alignment)
    s.size = -(-offset // align) * align
    return s


def parse(text: str) -> Header:
    version = tuple(int(re.search(rf"#define CLEANCLIP_VERSION_{k} (\d+)", text).group(1))
                    for k in ("MAJOR", "MINOR", "PATCH"))
    enums = parse_enums(text)
    for needed in ("cleanclip_status", "cleanclip_extended_code", "cleanclip_activation"):
        if needed not in enums:
            raise HeaderError(f"no enum {needed} in the header")
    return Header(version, enums, parse_structs(text))


# ---- Swift ---------------------------------------------------------------------------------------

def camel(snake: str) -> str:
    parts = snake.lower().split("_")
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


def swift_type_name(struct: str) -> str:
    return "C" + "".join(p.capitalize() for p in struct.removeprefix("cleanclip_").split("_"))


SWIFT_KEYWORDS = {"internal", "default", "case", "return", "private", "public"}


def swift_case(name: str) -> str:
    c = camel(name)
    return f"`{c}`" if c in SWIFT_KEYWORDS else c


def swift_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def generate_swift(h: Header) -> str:
    statuses = h.enums["cleanclip_status"].constants + h.enums["cleanclip_extended_code"].constants
    primary = {c.value: c for c in h.enums["cleanclip_status"].constants}
    out = [
        "// Generated by scripts/gen_layouts.py from include/cleanclip.h: do not edit. After changing the",
        "// header, run `python3 scripts/gen_layouts.py`; the binding tests fail while this file is stale.",
        "",
        "/// The library's version (CLEANCLIP_VERSION_* in include/cleanclip.h).",
        "enum Version {",
        f"    static let major = {h.version[0]}, minor = {h.version[1]}, patch = {h.version[2]}",
        f"    static let string: StaticString = \"{h.version[0]}.{h.version[1]}.{h.version[2]}\"",
        "}",
        "",
        "/// Every code of `cleanclip_status` and `cleanclip_extended_code`. A primary status is what",
        "/// a function returns; an extended one refines it (primary | detail << 8) and is reported by",
        "/// `cleanclip_extended_status`.",
        "enum Status: Int32 {",
    ]
    out += [f"    case {swift_case(c.name)} = {c.value}" for c in statuses]
    out += ["", "    /// The primary status: the low 8 bits, what a function returns.", "    var primary: Status {",
            "        switch self {"]
    for c in statuses:
        if c.value & 0xFF not in primary:
            raise HeaderError(f"CLEANCLIP_{c.name}: its low 8 bits are not a cleanclip_status")
        out.append(f"        case .{camel(c.name)}: return .{camel(primary[c.value & 0xFF].name)}")
    out += ["        }", "    }", "", "    /// The constant's name in the header.", "    var name: StaticString {",
            "        switch self {"]
    out += [f"        case .{camel(c.name)}: return \"CLEANCLIP_{c.name}\"" for c in statuses]
    out += ["        }", "    }", "", "    /// The constant's description in the header (`cleanclip_errstr`).",
            "    var text: StaticString {", "        switch self {"]
    out += [f"        case .{camel(c.name)}: return {swift_string(c.doc)}" for c in statuses]
    out += ["        }", "    }", "}", ""]
    for s in h.structs:
        t = swift_type_name(s.name)
        out += [f"/// `{s.name}`: {s.size} bytes.", f"struct {t}: CStructLayout {{",
                f"    static let layout = CLayout(name: \"{s.name}\", size: {s.size}, fields: ["]
        out += [f"        CLayout.Field(name: \"{f.name}\", offset: {f.offset}, size: {f.size})," for f in s.fields]
        out += ["    ])"]
        out += [f"    let {f.name} = CField<{f.swift_type}>(name: \"{f.name}\", offset: {f.offset}, size: {f.size})"
                for f in s.fields]
        out += ["}", ""]
    out += ["extension CLayout {", "    /// Every struct of the header, for `cleanclip_struct_layout` and `cleanclip_struct_field`.",
            "    static let all = [" + ", ".join(f"{swift_type_name(s.name)}.layout" for s in h.structs) + "]", "}", ""]
    return "\n".join(out)


# ---- Python --------------------------------------------------------------------------------------

def generate_python(h: Header) -> str:
    used = sorted({f.ctypes_type.split(" ")[0] for s in h.structs for f in s.fields} | {"Structure"})
    out = [
        '"""Generated by scripts/gen_layouts.py from include/cleanclip.h: do not edit.',
        "",
        "The header's version, enum constants (without the CLEANCLIP_ prefix) and a ctypes.Structure",
        "mirror of every struct. After changing the header, run `python3 scripts/gen_layouts.py`;",
        'tests/test_generated.py fails while this file is stale."""',
        f"from ctypes import {', '.join(used)}",
        "",
        f"VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH = {h.version[0]}, {h.version[1]}, {h.version[2]}",
        "VERSION = VERSION_MAJOR * 10000 + VERSION_MINOR * 100 + VERSION_PATCH",
    ]
    for e in h.enums.values():
        out += ["", f"# {e.name}"]
        out += [f"{c.name} = {c.value}" for c in e.constants]
    out += ["", "# name -> value of every status, primary and extended", "STATUSES = {"]
    out += [f'    "CLEANCLIP_{c.name}": {c.value},'
            for c in h.enums["cleanclip_status"].constants + h.enums["cleanclip_extended_code"].constants]
    out += ["}"]
    for s in h.structs:
        out += ["", "", f"class {s.name}(Structure):", f'    """{s.size} bytes."""', "", "    _fields_ = ["]
        out += [f'        ("{f.name}", {f.ctypes_type}),' for f in s.fields]
        out += ["    ]"]
    out += ["", "", "STRUCTS = {c.__name__: c for c in (" + ", ".join(s.name for s in h.structs) + ")}", ""]
    return "\n".join(out)


def generate(root: Path) -> dict[Path, str]:
    h = parse((root / HEADER).read_text())
    return {SWIFT_OUT: generate_swift(h), PYTHON_OUT: generate_python(h)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output-dir", type=Path, default=ROOT, help="where to write (default: the repository)")
    args = ap.parse_args()
    try:
        files = generate(ROOT)
    except HeaderError as e:
        print(f"{HEADER}: {e}", file=sys.stderr)
        return 1
    for rel, text in files.items():
        path = args.output_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
