#!/usr/bin/env bash
# Data-parallel parity (issue 15): builds the MPI plugin next to the cleanclip tool and runs
# DataParallelTests, which launch `mpirun --allow-run-as-root --oversubscribe -np 2 cleanclip
# finetune` (CleanCLIP and MMCL-only, and a resume on another rank count) and compare each
# checkpoint with one process computing the same step on the global batch (AdamW moments within
# 1e-5 of their scale, weights within 1e-5, or 2 x the steps' summed lr where the gradient is
# rounding noise, after 3 steps).
#   CLEANCLIP_BUILD_DIR  the SwiftPM scratch path (default .build); CONFIG release (default) or debug
#   SKIP_BUILD=1         the tool and tests are already built (make test)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${CLEANCLIP_BUILD_DIR:-.build}
config=${CONFIG:-release}
if ! command -v mpicc >/dev/null || ! command -v mpirun >/dev/null; then
    echo "test_mpi: needs Open MPI (mpicc, mpirun): scripts/setup.sh installs libopenmpi-dev openmpi-bin" >&2
    exit 1
fi
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    nice -n 10 swift build -c "$config" --scratch-path "$build" --product cleanclip-cli
    nice -n 10 swift build -c "$config" --scratch-path "$build" --build-tests
fi
scripts/build_mpi_plugin.sh "$build/$config"
# One thread per rank: the two ranks share the machine's cores.
CLEANCLIP_REQUIRE_MPI=1 swift test -c "$config" --scratch-path "$build" --skip-build --filter DataParallelTests
