#!/bin/sh
# The release image's configuration: `cmake --preset minimal` (BUILD_TESTING=OFF,
# FRAMERING_BUILD_BENCH=OFF, and find_package(GTest|benchmark) disabled so any use of them fails
# the configure) must build and install `framering` without GoogleTest, Google Benchmark or
# ZeroMQ. Checks that none of them was looked up, installs into a temporary prefix and runs the
# installed binary. Exit 0 when all holds, 1 otherwise. CI runs it (`make minimal-check`).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=build/minimal
cmake --preset minimal >/dev/null
for dep in GTest_DIR benchmark_DIR ZMQ_FOUND; do
  if grep -q "^$dep" "$BUILD/CMakeCache.txt"; then
    echo "check-minimal-build: the minimal configuration looked up $dep; it must not" >&2
    exit 1
  fi
done
cmake --build --preset minimal
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$BUILD" --prefix "$prefix" >/dev/null
version=$("$prefix/bin/framering" --version)
"$prefix/bin/framering" ingest --help >/dev/null
echo "check-minimal-build: ok: $prefix/bin/framering --version = $version (no GTest, benchmark, ZeroMQ)"
