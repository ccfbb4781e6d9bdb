#!/usr/bin/env bash
# `make bench`: runs every benchmark (bench/run_all.py) into build/bench/results.json, then writes
# docs/benchmarks.md and docs/img/bench-*.png from it (bench/report.py).
#   scripts/bench.sh [BUILD_DIR]      QUICK=1 for one short repetition of each (cameras per box: about 20 min)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build/release}
for driver in bench_publish bench_fanout bench_wake bench_memory; do
  if [[ ! -x "$build_dir/bin/$driver" ]]; then
    echo "bench.sh: $build_dir/bin/$driver is missing; run \`make build\` first" >&2
    exit 2
  fi
done
quick=()
if [[ -n "${QUICK:-}" && "${QUICK}" != 0 ]]; then quick=(--quick); fi
/usr/bin/python3 bench/run_all.py --build-dir "$build_dir" "${quick[@]}"
/usr/bin/python3 bench/report.py --results build/bench/results.json --doc docs/benchmarks.md --readme README.md
