#!/bin/sh
# `make fuzz`: bounded libFuzzer runs of every fuzz target (clang, the `fuzz` preset: ASan +
# UBSan + libFuzzer), SECONDS each (default 60). New inputs go to build/fuzz/corpus/<target>
# (seeded from tests/fuzz/corpus/<target>, which stays as committed); a crash leaves its input in
# build/fuzz/artifacts/<target>/ and makes the script exit 1. Prints one line per target:
# executions, new corpus units, crashes. Promote interesting inputs into tests/fuzz/corpus by hand.
set -u
SECONDS_EACH=${1:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$ROOT/build/fuzz
cd "$ROOT" || exit 2

targets="ring_header ring_reader packet_ring npy_header"
[ -d supervisor ] && targets="$targets run_config"

cmake --preset fuzz >/dev/null || exit 2
for t in $targets; do
  cmake --build --preset fuzz -j2 --target "fuzz_$t" >/dev/null || { echo "build of fuzz_$t failed"; exit 2; }
done

status=0
for t in $targets; do
  work=$BUILD/corpus/$t
  artifacts=$BUILD/artifacts/$t/
  mkdir -p "$work" "$artifacts"
  log=$BUILD/$t.log
  "$BUILD/bin/fuzz_$t" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$artifacts" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  units=$(find "$work" -type f | wc -l)
  crashes=$(find "$artifacts" -type f | wc -l)
  echo "fuzz_$t: ${SECONDS_EACH} s, ${execs:-?} executions, corpus $units units, $crashes crash(es), exit $rc (log: $log)"
  [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] && status=1
done
exit $status
