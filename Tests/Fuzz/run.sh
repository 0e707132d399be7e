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
# Environment: FUZZ_BUILD   SwiftPM scratch path (default .build-fuzz)
#              FUZZ_RSS_MB  memory limit of a target, MB (default 4096)
#              SKIP_BUILD=1 reuse an existing build
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
shift || true
BUILD=${FUZZ_BUILD:-.build-fuzz}
RSS_MB=${FUZZ_RSS_MB:-4096}
if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    TARGETS=()
    for d in Tests/Fuzz/Sources/fuzz-*; do TARGETS+=("${d##*/fuzz-}"); done
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    swift build -c release --package-path Tests/Fuzz --scratch-path "$BUILD" --sanitize=fuzzer --sanitize=address
fi

mkdir -p "$BUILD/logs"
failed=()
printf '%-12s %8s %10s %8s  %s\n' target cpu_s execs crashes log
for t in "${TARGETS[@]}"; do
    corpus="$BUILD/corpus/$t" artifacts="$BUILD/artifacts/$t" scratch="$BUILD/tmp/$t" log="$BUILD/logs/$t.log"
    rm -rf "$scratch"
    mkdir -p "$corpus" "$artifacts" "$scratch"
    dict=()
    [ -f "Tests/Fuzz/dictionaries/$t.dict" ] && dict=(-dict="Tests/Fuzz/dictionaries/$t.dict")
    rc=0
    # -timeout: one input taking a minute is a hang. Leaks are crashes too, but for those in
    # lsan.supp. libFuzzer handles crashes itself, without Swift's backtracer.
    TMPDIR="$scratch" LSAN_OPTIONS="suppressions=$PWD/Tests/Fuzz/lsan.supp" SWIFT_BACKTRACE=enable=no \
        /usr/bin/time -f '%U %S' -o "$BUILD/logs/$t.time" \
        "$BUILD/release/fuzz-$t" -max_total_time="$SECONDS_EACH" -rss_limit_mb="$RSS_MB" -timeout=60 \
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
