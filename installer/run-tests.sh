#!/usr/bin/env bash
# Command (b) of the README: installs everything, builds, and runs all tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash installer/build.sh
BUILD_DIR=${ANOMALYLENS_BUILD_DIR:-build}

# Benchmarks carry the "bench" label and run only through the bench target.
ctest --test-dir "$BUILD_DIR" --output-on-failure --label-exclude bench -j 2
