"""PEP 517 build backend of the cleanclip Python package: builds libcleanclip.so and the
`cleanclip-cli` tool with SwiftPM from the repository this package sits in, and ships them in a
platform wheel (`py3-none-<platform>`), as llama-cpp-python's backend does with CMake.

    pip install ./bindings/python          # runs swift build; `pip install -v` shows its output

Steps of build_wheel:
  1. `swift build -c release --scratch-path <scratch> --product cleanclip` (and `cleanclip-cli`),
     the same command as `make build`, so a tree already built by make is only checked, not rebuilt.
     <scratch> is $CLEANCLIP_BUILD_DIR (relative to the repository) or the repository's `.build`.
  2. Relink both products with the Swift runtime and Foundation linked statically
     (`swiftc ... -static-stdlib`), into a temporary folder, from the object files of step 1: the
     link command is SwiftPM's own, read from its build manifest (<scratch>/release.yaml), with
     `-static-stdlib` added. The build folder keeps its dynamically linked products (the Swift
     example and the package test link against them). What is left dynamic is the C library,
     libstdc++, libgcc_s, libm, libjpeg and libpng16 (system packages); OpenBLAS is opened at run
     time (see Sources/CKernels). Debug sections are stripped.
  3. Write the wheel: the Python files, cleanclip/libcleanclip.so, cleanclip/bin/cleanclip-cli, a
     `cleanclip` console script that runs the tool, and metadata whose version is the C library's
     (read from include/cleanclip.h, so the two cannot differ).

An sdist is not offered: the package is built from the Swift package around it, which an sdist of
bindings/python would not contain. build_editable installs a path to bindings/python and builds
nothing; the package then finds the repository's build (.build/release) by itself.

Standard library only, so pip needs nothing from an index to run it.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11: pyproject.toml's build-system requires tomli there
    import tomli as tomllib

PACKAGE = "cleanclip"
PROJECT = Path(__file__).resolve().parents[1]  # bindings/python
PRODUCTS = {"cleanclip": "libcleanclip.so", "cleanclip-cli": "cleanclip-cli"}
# Where each product goes in the wheel, relative to the package folder.
WHEEL_PATHS = {"cleanclip": "libcleanclip.so", "cleanclip-cli": "bin/cleanclip-cli"}


class BuildError(RuntimeError):
    pass


def _log(message: str) -> None:
    print(f"cleanclip build: {message}", file=sys.stderr, flush=True)


# ---- the repository and its version --------------------------------------------------------

def repository() -> Path:
    """The Swift package this Python package sits in (bindings/python -> the repository root)."""
    root = PROJECT.parents[1]
    if not (root / "Package.swift").is_file() or not (root / "include" / "cleanclip.h").is_file():
        raise BuildError(f"{PROJECT} is not inside the cleanclip repository (no Package.swift and include/cleanclip.h "
                         f"at {root}): the wheel is built from the Swift package, so install from a checkout "
                         "(`pip install ./bindings/python`)")
    return root


def library_version(root: Path) -> str:
    """CLEANCLIP_VERSION_MAJOR.MINOR.PATCH from include/cleanclip.h."""
    header = (root / "include" / "cleanclip.h").read_text()
    parts = []
    for name in ("MAJOR", "MINOR", "PATCH"):
        m = re.search(rf"^#define CLEANCLIP_VERSION_{name} (\d+)\s*$", header, re.M)
        if not m:
            raise BuildError(f"no CLEANCLIP_VERSION_{name} in include/cleanclip.h")
        parts.append(m.group(1))
    return ".".join(parts)


def scratch_path(root: Path) -> Path:
    build = os.environ.get("CLEANCLIP_BUILD_DIR") or ".build"
    return Path(build) if os.path.isabs(build) else root / build


# ---- building -------------------------------------------------------------------------------

def _run(args: list[str], cwd: Path) -> None:
    _log("$ " + " ".join(args))
    # Output goes to stderr: stdout of a PEP 517 hook is the frontend's.
    result = subprocess.run(args, cwd=cwd, stdout=sys.stderr, stderr=sys.stderr)
    if result.returncode != 0:
        raise BuildError(f"{args[0]} exited with status {result.returncode}")


def swift_build(root: Path, scratch: Path) -> None:
    swift = shutil.which("swift")
    if swift is None:
        raise BuildError("`swift` is not on PATH: building the wheel needs the Swift toolchain (6.0 or later); "
                         "see the repository's README, Set-up")
    for product in PRODUCTS:
        _run([swift, "build", "-c", "release", "--scratch-path", str(scratch), "--product", product], root)


def link_commands(scratch: Path) -> dict[str, list[str]]:
    """SwiftPM's link command of each product, from its llbuild manifest: the block whose
    `outputs` is the product alone carries the command as a JSON list in `args`."""
    manifest = scratch / "release.yaml"
    if not manifest.is_file():
        raise BuildError(f"no SwiftPM build manifest at {manifest}")
    wanted = {name: f"/release/{file}" for name, file in PRODUCTS.items()}
    found: dict[str, list[str]] = {}
    outputs = None
    for line in manifest.read_text().splitlines():
        line = line.strip()
        if line.startswith("outputs: "):
            outputs = json.loads(line[len("outputs: "):])
        elif line.startswith("args: ") and outputs is not None and len(outputs) == 1:
            for name, suffix in wanted.items():
                if outputs[0].endswith(suffix):
                    args = json.loads(line[len("args: "):])
                    if "-o" in args and args[args.index("-o") + 1] == outputs[0]:
                        found[name] = args
            outputs = None
        elif not line:
            outputs = None
    missing = sorted(set(PRODUCTS) - set(found))
    if missing:
        raise BuildError(f"no link command for {', '.join(missing)} in {manifest} (has SwiftPM's manifest format "
                         "changed?)")
    return found


# Archives of the toolchain's static Foundation. The objects were compiled for the shared runtime,
# whose autolink entries name Foundation, FoundationEssentials and FoundationInternationalization
# but not what those shared libraries bring themselves (ICU, CoreFoundation, the C shims): linked
# statically, those must be named. A group, since they refer to each other; members nothing needs
# are not linked.
STATIC_FOUNDATION = ["libFoundation.a", "libFoundationEssentials.a", "libFoundationInternationalization.a",
                     "lib_FoundationICU.a", "lib_FoundationCShims.a", "lib_FoundationCollections.a",
                     "libCoreFoundation.a", "libswiftSynchronization.a"]


def relink_static(command: list[str], out: Path, root: Path) -> None:
    """Runs SwiftPM's link command with the output moved to `out` and the Swift runtime,
    Foundation and its ICU linked statically (`-static-stdlib`, plus Foundation's archives).
    `--no-undefined` turns a symbol left unresolved into a link error, not a failure at import."""
    args = list(command)
    args[args.index("-o") + 1] = str(out)
    static_dir = Path(args[0]).resolve().parents[1] / "lib" / "swift_static" / sys.platform
    if not (static_dir / "libswiftCore.a").is_file():
        raise BuildError(f"no static Swift runtime in {static_dir} (the toolchain's swift_static folder)")
    group = ["--start-group", *(str(static_dir / a) for a in STATIC_FOUNDATION if (static_dir / a).is_file()),
             "--end-group", "--no-undefined"]
    args += ["-static-stdlib", *(x for flag in group for x in ("-Xlinker", flag))]
    _run(args, root)
    strip = shutil.which("strip")
    if strip:
        _run([strip, "--strip-debug", str(out)], root)


def dynamic_swift_dependencies(path: Path) -> list[str]:
    """NEEDED entries of `path` that belong to the Swift toolchain (none when linked statically)."""
    readelf = shutil.which("readelf")
    if readelf is None:
        return []
    out = subprocess.run([readelf, "-d", str(path)], capture_output=True, text=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out)
    swift = ("libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime", "libicu")
    return [n for n in needed if n.startswith(swift)]


def build_products(stage: Path) -> dict[str, Path]:
    """Builds and relinks both products into `stage`; returns {product: path}."""
    root = repository()
    scratch = scratch_path(root)
    swift_build(root, scratch)
    commands = link_commands(scratch)
    built = {}
    for name, file in PRODUCTS.items():
        out = stage / file
        relink_static(commands[name], out, root)
        left = dynamic_swift_dependencies(out)
        if left:
            raise BuildError(f"{file} still needs {', '.join(left)} after linking with -static-stdlib")
        built[name] = out
    return built


# ---- the wheel ------------------------------------------------------------------------------

def _project() -> dict:
    with open(PROJECT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def platform_tag() -> str:
    """This machine's platform as a wheel tag: linux_x86_64, linux_aarch64, ..."""
    return re.sub(r"[^A-Za-z0-9]", "_", sysconfig.get_platform())


def metadata(version: str) -> str:
    p = _project()
    lines = ["Metadata-Version: 2.1", f"Name: {p['name']}", f"Version: {version}", f"Summary: {p['description']}",
             f"Requires-Python: {p['requires-python']}"]
    if "license" in p:
        lines.append(f"License: {p['license']['text']}")
    lines += [f"Requires-Dist: {d}" for d in p.get("dependencies", [])]
    for extra, deps in p.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines += [f"Requires-Dist: {d} ; extra == \"{extra}\"" for d in deps]
    readme = (PROJECT / p["readme"]).read_text() if "readme" in p else ""
    if readme:
        lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + readme


def entry_points() -> str:
    scripts = _project().get("scripts", {})
    return "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items()) if scripts else ""


class _Wheel:
    """A wheel being written: files plus a RECORD of their hashes (PEP 427)."""

    def __init__(self, path: Path, dist_info: str):
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self.dist_info = dist_info
        self.records: list[tuple[str, str, str]] = []

    def add(self, name: str, data: bytes, executable: bool = False) -> None:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible
        info.compress_type = zipfile.ZIP_DEFLATED
        # A regular file's mode: installers (pip) keep the executable bit only with the type bits.
        info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        self.records.append((name, f"sha256={digest}", str(len(data))))

    def close(self) -> None:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(self.records)
        writer.writerow((f"{self.dist_info}/RECORD", "", ""))
        info = zipfile.ZipInfo(f"{self.dist_info}/RECORD", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = (stat.S_IFREG | 0o644) << 16
        self.zip.writestr(info, out.getvalue())
        self.zip.close()


def _write_wheel(wheel_directory: str, tag: str, files: dict[str, tuple[bytes, bool]], version: str,
                 pure: bool) -> str:
    name = _project()["name"]
    dist_info = f"{name}-{version}.dist-info"
    filename = f"{name}-{version}-{tag}.whl"
    wheel = _Wheel(Path(wheel_directory) / filename, dist_info)
    for arcname, (data, executable) in sorted(files.items()):
        wheel.add(arcname, data, executable)
    wheel.add(f"{dist_info}/METADATA", metadata(version).encode())
    wheel.add(f"{dist_info}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: cleanclip_build\n"
                                     f"Root-Is-Purelib: {'true' if pure else 'false'}\nTag: {tag}\n").encode())
    if entry_points():
        wheel.add(f"{dist_info}/entry_points.txt", entry_points().encode())
    wheel.add(f"{dist_info}/top_level.txt", f"{PACKAGE}\n".encode())
    # The licence, with the third-party notices of what the binaries link statically (PEP 639's place).
    wheel.add(f"{dist_info}/licenses/LICENSE", (repository() / "LICENSE").read_bytes())
    wheel.close()
    return filename


def _python_files() -> dict[str, tuple[bytes, bool]]:
    """The package's own files (sources and py.typed); a libcleanclip.so or bin/ left in the
    source folder by hand is not taken: the wheel gets the ones built here."""
    files = {}
    for path in sorted((PROJECT / PACKAGE).iterdir()):
        if path.is_file() and (path.suffix == ".py" or path.name == "py.typed"):
            files[f"{PACKAGE}/{path.name}"] = (path.read_bytes(), False)
    return files


# ---- PEP 517 / 660 hooks --------------------------------------------------------------------

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    root = repository()
    version = library_version(root)
    files = _python_files()
    with tempfile.TemporaryDirectory(prefix="cleanclip-wheel-") as stage:
        for name, path in build_products(Path(stage)).items():
            files[f"{PACKAGE}/{WHEEL_PATHS[name]}"] = (path.read_bytes(), True)
    filename = _write_wheel(wheel_directory, f"py3-none-{platform_tag()}", files, version, pure=False)
    _log(f"wrote {filename}")
    return filename


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """A wheel holding only a .pth file that puts bindings/python on sys.path: the package then
    loads the repository's own build (.build/release/libcleanclip.so, `make build`)."""
    version = library_version(repository())
    files = {f"_{PACKAGE}_editable.pth": (f"{PROJECT}\n".encode(), False)}
    return _write_wheel(wheel_directory, "py3-none-any", files, version, pure=True)


def build_sdist(sdist_directory, config_settings=None):
    raise BuildError("no sdist: the package is built from the Swift package it sits in; build a wheel from the "
                     "repository instead (`pip wheel ./bindings/python` or `pip install ./bindings/python`)")
