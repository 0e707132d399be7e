#!/usr/bin/env bash
# `pip install ./bindings/python` into a fresh venv, then the installed package used from outside
# the source tree with no CLEANCLIP_*, LD_LIBRARY_PATH or PYTHONPATH set:
#   1. the install runs the package's build backend for real: swift build (incremental: with the
#      same scratch path as `make build`, an up-to-date tree is only checked) and the static relink
#   2. the wheel is tagged for this platform (py3-none-linux_x86_64 here) and holds libcleanclip.so and cleanclip-cli, which
#      need no Swift toolchain library (readelf NEEDED, RUNPATH)
#   3. the package loads its bundled library; __version__ = the library's = the wheel's
#   4. examples/python/zero_shot.py and embed_folder.py run against the installed package
#   5. the `cleanclip` console script runs the bundled tool, and `cleanclip embed` gives what
#      Model.encode_images gives by default (raw embeddings), and with --normalize normalize=True
#   6. as root: zero_shot.py and `cleanclip embed` again with the Swift toolchain's folder hidden by an empty tmpfs in a
#      private mount namespace (other processes keep seeing it)
#
# Environment: CLEANCLIP_BUILD_DIR  SwiftPM scratch path the backend builds in (default .build)
#              PYTHON               interpreter that makes the venv (default python3)
# numpy comes from the package index (pip's own PIP_INDEX_URL / PIP_FIND_LINKS / PIP_NO_INDEX
# apply for an offline mirror); the backend itself needs nothing from an index.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${CLEANCLIP_BUILD_DIR:-.build}
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cleanclip-pip.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { echo "test_pip_install: $*" >&2; exit 1; }

step "fresh venv"
"$PYTHON" -m venv "$WORK/venv"
VPY=$WORK/venv/bin/python

step "pip install ./bindings/python (the build backend: swift build in $BUILD_DIR, static relink)"
start=$SECONDS
CLEANCLIP_BUILD_DIR=$BUILD_DIR "$VPY" -m pip install -q ./bindings/python
echo "installed in $((SECONDS - start)) s"

# From here on: no variable that could point at the build, and a working folder outside the tree.
clean_env=(env -u LD_LIBRARY_PATH -u CLEANCLIP_LIB -u CLEANCLIP_BUILD_DIR -u PYTHONPATH -u CLEANCLIP_CROSS_DIR)
cd "$WORK"

step "the installed package loads its own library, which needs no Swift toolchain library"
site=$("${clean_env[@]}" "$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
platform=$("$VPY" -c 'import re, sysconfig; print(re.sub(r"[^A-Za-z0-9]", "_", sysconfig.get_platform()))')
grep -qx "Tag: py3-none-$platform" "$site"/cleanclip-*.dist-info/WHEEL || {
    cat "$site"/cleanclip-*.dist-info/WHEEL; fail "the wheel is not tagged py3-none-$platform"; }
echo "wheel tag py3-none-$platform"
LIB=$site/cleanclip/libcleanclip.so
CLI=$site/cleanclip/bin/cleanclip-cli
for f in "$LIB" "$CLI"; do
    [ -f "$f" ] || fail "$f is not in the wheel"
    needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    echo "$(basename "$f") NEEDED: $needed"
    if echo "$needed" | grep -Eq 'libswift|Foundation|libdispatch|libBlocksRuntime|libicu'; then
        fail "$(basename "$f") needs a Swift toolchain library: $needed"
    fi
    if readelf -d "$f" | grep -E 'R(UN)?PATH' | grep -v '\[\$ORIGIN\]'; then
        fail "$(basename "$f") has a search path other than \$ORIGIN"
    fi
    if ldd "$f" | grep -q 'not found'; then ldd "$f"; fail "$(basename "$f") has unresolved libraries"; fi
done
"${clean_env[@]}" "$VPY" - "$LIB" <<'EOF'
import importlib.metadata, os, sys
import cleanclip
from cleanclip import _lib
assert os.path.samefile(_lib.path, sys.argv[1]), (_lib.path, sys.argv[1])
v = _lib.lib.cleanclip_version()
assert cleanclip.__version__ == cleanclip.library_version == f"{v // 10000}.{v // 100 % 100}.{v % 100}"
assert importlib.metadata.version("cleanclip") == cleanclip.__version__
files = importlib.metadata.files("cleanclip")
assert any(str(f) == "cleanclip/py.typed" for f in files)
assert any(str(f).endswith(".dist-info/licenses/LICENSE") for f in files), "the wheel carries no LICENSE"
print(f"cleanclip {cleanclip.__version__} from {_lib.path}; BLAS: {cleanclip.blas_info()['kernel']}")
EOF

step "test inputs"
"${clean_env[@]}" "$VPY" "$ROOT/bindings/python/tests/fixtures.py" "$WORK/fx" >/dev/null
MODEL=$WORK/fx/text_model.safetensors
IMAGES=("$WORK"/fx/images/*.png)

step "examples/python/zero_shot.py"
out=$("${clean_env[@]}" "$VPY" "$ROOT/examples/python/zero_shot.py" "$MODEL" "${IMAGES[@]}")
echo "$out"
echo "$out" | grep -q "zero-shot (4 classes x 3 templates)" || fail "zero_shot.py printed no predictions"

step "examples/python/embed_folder.py"
"${clean_env[@]}" "$VPY" "$ROOT/examples/python/embed_folder.py" "$MODEL" "$WORK/fx/images" "$WORK/emb.npy"

step "the cleanclip console script runs the bundled tool; its embed defaults agree with Python's"
help=$("${clean_env[@]}" "$WORK/venv/bin/cleanclip" --help)
echo "$help" | sed -n 1,2p
echo "$help" | grep -q "SUBCOMMANDS" || fail "cleanclip --help printed no subcommands"
"${clean_env[@]}" "$WORK/venv/bin/cleanclip" embed --model "$MODEL" --images "${IMAGES[@]}" --out-image "$WORK/raw.npy"
"${clean_env[@]}" "$WORK/venv/bin/cleanclip" embed --model "$MODEL" --images "${IMAGES[@]}" --out-image "$WORK/unit.npy" \
    --normalize
"${clean_env[@]}" "$VPY" - "$MODEL" "$WORK" "${IMAGES[@]}" <<'EOF'
import sys
import numpy as np
import cleanclip
model_path, work, images = sys.argv[1], sys.argv[2], sys.argv[3:]
with cleanclip.load(model_path) as m:
    raw, unit = m.encode_images(images), m.encode_images(images, normalize=True)
np.testing.assert_allclose(np.load(f"{work}/raw.npy"), raw, atol=1e-5)    # both unnormalised by default
np.testing.assert_allclose(np.load(f"{work}/unit.npy"), unit, atol=1e-5)
np.testing.assert_allclose(np.load(f"{work}/emb.npy"), unit, atol=1e-6)   # embed_folder.py: unit rows
assert not np.allclose(np.linalg.norm(raw, axis=1), 1, atol=1e-3)
print("cleanclip embed == Model.encode_images, with and without normalisation")
EOF

step "with the Swift toolchain hidden (a private mount namespace; needs root and unshare)"
toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")
case $toolchain in
    /|/usr|/usr/local) echo "skipped: the toolchain is installed in $toolchain, which cannot be hidden alone" ;;
    *)
        if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
            "${clean_env[@]}" unshare -m sh -c 'mount -t tmpfs none "$1" && shift && "$@"' sh "$toolchain" \
                "$VPY" "$ROOT/examples/python/zero_shot.py" "$MODEL" "${IMAGES[0]}" | tail -2
            "${clean_env[@]}" unshare -m sh -c 'mount -t tmpfs none "$1" && shift && "$@"' sh "$toolchain" \
                "$WORK/venv/bin/cleanclip" embed --model "$MODEL" --images "${IMAGES[0]}" --out-image "$WORK/hidden.npy"
            echo "ran without $toolchain"
        else
            echo "skipped: not root, or no unshare"
        fi ;;
esac

step "pip install passed"
