#!/usr/bin/env bash
# Builds libcleanclip.so (release) and tests the C ABI, the examples and the Python package:
#   1. test inputs made with numpy (bindings/python/tests/fixtures.py)
#   2. the C example (plain cc against include/) and the C test under AddressSanitizer
#   3. the Swift example (swiftc against the package's modules)
#   4. pytest (Python API, struct layouts, parity, cross-language identity, Python examples)
#
# Environment: CLEANCLIP_BUILD_DIR  SwiftPM scratch path (default .build)
#              PYTHON               interpreter for pytest (default python3; needs numpy and pytest)
#              SKIP_BUILD=1         reuse an existing build
#              VALGRIND=1           also run the C test under valgrind (slow)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${CLEANCLIP_BUILD_DIR:-.build}
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
PYTHON=${PYTHON:-python3}
LIBDIR=$BUILD_DIR/release
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cleanclip-bindings.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/out" "$WORK/bin"

step() { printf '\n== %s\n' "$*"; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    step "swift build -c release --scratch-path $BUILD_DIR --product cleanclip"
    swift build -c release --scratch-path "$BUILD_DIR" --product cleanclip
fi
test -f "$LIBDIR/libcleanclip.so" || { echo "no $LIBDIR/libcleanclip.so" >&2; exit 1; }

step "libcleanclip.so does not link OpenBLAS (it is loaded at run time, after choosing its kernel)"
if readelf -d "$LIBDIR/libcleanclip.so" | grep -i 'NEEDED.*blas'; then
    echo "libcleanclip.so links a BLAS: OpenBLAS would choose its kernel before the library could" >&2; exit 1
fi

step "test inputs"
"$PYTHON" bindings/python/tests/fixtures.py "$WORK/fx"

step "C example (cc, -Wall -Wextra -Werror -pedantic)"
cc -std=c11 -Wall -Wextra -Werror -pedantic -I include examples/c/zero_shot.c \
    -L "$LIBDIR" -lcleanclip -Wl,-rpath,"$LIBDIR" -o "$WORK/bin/zero_shot"
"$WORK/bin/zero_shot" "$WORK/fx/text_model.safetensors" "$WORK"/fx/images/*.png

step "C test under AddressSanitizer"
# The test program is instrumented; libcleanclip.so and the Swift runtime are not, but ASan's
# malloc/free interposition still catches invalid and double frees, and overflows of the
# heap blocks our C code hands over. Leak detection is off: the Swift runtime, Foundation
# and libdispatch keep process-lifetime allocations (metadata caches, the thread-local error
# key, worker threads) that LeakSanitizer reports as leaks although they are not ours.
clang -fuse-ld=lld -std=c11 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined -fno-omit-frame-pointer \
    -I include -DMODELS_DIR="\"$ROOT/Tests/Fixtures/models\"" examples/c/tests/test_cabi.c \
    -L "$LIBDIR" -lcleanclip -Wl,-rpath,"$LIBDIR" -lpthread -lm -o "$WORK/bin/test_cabi"
ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$WORK/bin/test_cabi" "$WORK/fx" "$WORK/out"

if [ "${VALGRIND:-0}" = 1 ]; then
    step "C test under valgrind (memcheck of the whole process, library included; about a minute)"
    # valgrind 3.19 cannot read the DWARF 5 that Swift 6 emits, so it runs against a copy of the
    # library without debug info. Leak checking is off for the reason given above.
    mkdir -p "$WORK/vglib" "$WORK/out.valgrind"
    cp "$LIBDIR/libcleanclip.so" "$WORK/vglib/" && strip --strip-debug "$WORK/vglib/libcleanclip.so"
    cc -std=c11 -g -O1 -I include -DMODELS_DIR="\"$ROOT/Tests/Fixtures/models\"" examples/c/tests/test_cabi.c \
        -L "$WORK/vglib" -lcleanclip -Wl,-rpath,"$WORK/vglib" -lpthread -lm -o "$WORK/bin/test_cabi_plain"
    valgrind -q --error-exitcode=99 --leak-check=no --suppressions=examples/c/tests/valgrind.supp \
        "$WORK/bin/test_cabi_plain" "$WORK/fx" "$WORK/out.valgrind"
fi

step "Swift example (swiftc against the package's modules)"
swiftc -O examples/swift/main.swift -o "$WORK/bin/clip_example" \
    -I "$LIBDIR/Modules" -I Sources/CZlib -Xcc -fmodule-map-file="$LIBDIR/CKernels.build/module.modulemap" \
    -Xcc -fmodule-map-file="$LIBDIR/CImageCodecs.build/module.modulemap" \
    -Xcc -fmodule-map-file="$LIBDIR/CVocab.build/module.modulemap" \
    -L "$LIBDIR" -lcleanclip -Xlinker -rpath -Xlinker "$LIBDIR"
"$WORK/bin/clip_example" "$WORK/fx/text_model.safetensors" "$WORK"/fx/images/*.png --dump "$WORK/out"

step "pytest bindings/python/tests"
CLEANCLIP_LIB="$LIBDIR/libcleanclip.so" CLEANCLIP_CROSS_DIR="$WORK/out" \
    "$PYTHON" -m pytest -q -p no:cacheprovider bindings/python/tests

step "all binding tests passed"
