#!/usr/bin/env bash
# Builds the libFuzzer targets (Tests/Fuzz, AddressSanitizer) and runs each for a while.
#
#   Tests/Fuzz/run.sh [SECONDS] [TARGET...]    default: 60 seconds each, every target
#
# Each target starts from its committed seeds, Tests/Fuzz/corpus/<target> (which also hold the
# inputs of crashes once found, as regression-*), and from what earlier runs here found
# ($FUZZ_BUILD/corpus/<target>, where new inputs go). A crash or hang stops that target, leaves
# its input in $FUZZ_BUILD/artifacts/<target>/ and makes the script fail. Reproduce one with
#   $FUZZ_BUILD/release/fuzz-<target> <input file>
#
# Environment: FUZZ_BUILD    SwiftPM scratch path (default .build-fuzz)
#              FUZZ_RSS_MB   memory limit of a target, MB (default 4096)
#              FUZZ_TIMEOUT  seconds one input may take before it counts as a hang (default 60)
#              FUZZ_TMP      where the targets write their input files (default /dev/shm when
#                            writable: the library's atomic writes fsync, nearly free on tmpfs)
#              SKIP_BUILD=1  reuse an existing build
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
shift || true
BUILD=${FUZZ_BUILD:-.build-fuzz}
RSS_MB=${FUZZ_RSS_MB:-4096}
TIMEOUT=${FUZZ_TIMEOUT:-60}
if [ -z "${FUZZ_TMP:-}" ]; then
    if [ -d /dev/shm ] && [ -w /dev/shm ]; then FUZZ_TMP=/dev/shm; else FUZZ_TMP=$BUILD/tmp; fi
fi
if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    TARGETS=()
    for d in Tests/Fuzz/Sources/fuzz-*; do TARGETS+=("${d##*/fuzz-}"); done
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    # --sanitize makes SwiftPM link libFuzzer's main. It passes -sanitize=fuzzer and
    # -sanitize=address as two flags, though, and swiftc keeps only the last: without the
    # combined flag after them, the library would get no coverage instrumentation.
    for t in "${TARGETS[@]}"; do
        swift build -c release --package-path Tests/Fuzz --scratch-path "$BUILD" --product "fuzz-$t" \
            --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
    done
fi

mkdir -p "$BUILD/logs"
failed=()
printf '%-12s %8s %10s %8s  %s\n' target cpu_s execs crashes log
for t in "${TARGETS[@]}"; do
    corpus="$BUILD/corpus/$t" artifacts="$BUILD/artifacts/$t" scratch="$FUZZ_TMP/cleanclip-fuzz-$t-$$" log="$BUILD/logs/$t.log"
    rm -rf "$scratch"
    mkdir -p "$corpus" "$artifacts" "$scratch"
    dict=()
    [ -f "Tests/Fuzz/dictionaries/$t.dict" ] && dict=(-dict="Tests/Fuzz/dictionaries/$t.dict")
    rc=0
    # Leaks are crashes too, but for those in lsan.supp. libFuzzer handles crashes itself,
    # without Swift's backtracer.
    TMPDIR="$scratch" LSAN_OPTIONS="suppressions=$PWD/Tests/Fuzz/lsan.supp" SWIFT_BACKTRACE=enable=no \
        /usr/bin/time -f '%U %S' -o "$BUILD/logs/$t.time" \
        "$BUILD/release/fuzz-$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb="$RSS_MB" -timeout="$TIMEOUT" \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
        "$corpus" "Tests/Fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
    rm -rf "$scratch"
    cpu=$(tail -n 1 "$BUILD/logs/$t.time" | awk '{ printf "%.0f", $1 + $2 }')
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    crashes=0
    if [ "$rc" != 0 ]; then
        crashes=1
        failed+=("$t")
    fi
    printf '%-12s %8s %10s %8s  %s\n' "$t" "$cpu" "${execs:-?}" "$crashes" "$log"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found crashes in: ${failed[*]} (inputs under $BUILD/artifacts/, logs under $BUILD/logs/)" >&2
    exit 1
fi
