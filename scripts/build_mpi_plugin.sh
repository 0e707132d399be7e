#!/usr/bin/env bash
# Builds the optional MPI plugin, libcleanclip_mpi.so, into the given folder (default
# .build/release), next to the cleanclip executable and libcleanclip.so, where the library looks
# for it when started under mpirun/srun. Needs an MPI compiler wrapper (mpicc; Open MPI:
# apt-get install libopenmpi-dev openmpi-bin, which scripts/setup.sh does). Without mpicc it says so
# and exits 0: everything else builds and runs as a single process.
set -euo pipefail
out=${1:-.build/release}
here=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v "${MPICC:-mpicc}" >/dev/null; then
    echo "build_mpi_plugin: no mpicc on PATH; skipping libcleanclip_mpi.so (data-parallel runs need it)" >&2
    exit 0
fi
mkdir -p "$out"
"${MPICC:-mpicc}" -O2 -shared -fPIC -Wall -o "$out/libcleanclip_mpi.so" "$here/plugins/mpi/cleanclip_mpi.c"
echo "build_mpi_plugin: $out/libcleanclip_mpi.so"
