#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian/Ubuntu machine, only where it is missing:
#   libopenblas-dev (BLAS), libjpeg-dev + libpng-dev + zlib1g-dev (images, archives),
#   wordnet-base (EDA text augmentation), python3 numpy + pytest (Python binding tests),
#   chromium (renders the demo report headless in the report test);
#   libopenmpi-dev + openmpi-bin (optional data-parallel runs: mpicc builds the MPI plugin).
# Runs apt-get as root, or through sudo when not root. Safe to run repeatedly.
set -euo pipefail

packages=(libopenblas-dev libjpeg-dev libpng-dev zlib1g-dev wordnet-base python3 gcc chromium libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    if [[ $(id -u) -eq 0 ]]; then sudo=(); else sudo=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null; then
    echo "setup: the Swift toolchain (6.0 or later) is required and not on PATH" >&2
    exit 1
fi

# The Python binding's tests need numpy and pytest in the python3 that runs them.
if ! python3 -c "import numpy, pytest" 2>/dev/null; then
    echo "setup: installing numpy and pytest for python3"
    python3 -m pip install -q numpy pytest
fi
