#!/usr/bin/env bash
# Installs the dependencies and builds AnomalyLens (Release, Ninja, ccache) into build/.
# Extra arguments go to CMake's configure step, e.g. -DTorch_DIR=/path/to/cuda/libtorch/share/cmake/Torch
set -euo pipefail
cd "$(dirname "$0")/.."

bash installer/install-deps.sh

BUILD_DIR=${ANOMALYLENS_BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
fi
start=$(date +%s)
cmake --build "$BUILD_DIR"
echo "build: finished in $(( $(date +%s) - start )) s"
