#!/usr/bin/env bash
# Frames per second of each analytic on vtest.avi on one core (taskset), frames read in place
# from a kept ring. Two rates per analytic: wall (first to last event, start-up excluded) and CPU
# (frames / user+sys seconds of the worker: what one free core would do on a shared machine).
# Usage: workers/measure_fps.sh [build/release/bin/framering] [FRAMES]
set -euo pipefail
BIN=${1:-build/release/bin/framering}
N=${2:-120}
RING=fps$$
VTEST=/usr/share/doc/opencv-doc/examples/data/vtest.avi
trap 'rm -f /dev/shm/framering.$RING /dev/shm/framering.$RING.reader.*' EXIT
"$BIN" ingest --ring "$RING" --source "$VTEST" --slots "$N" --max-frames "$N" --keep \
  --metrics-addr 0 --log-level warn
/usr/bin/python3 - "$BIN" "$RING" "$N" "${CORE:-0}" <<'PY'
import json, os, subprocess, sys, tempfile
bin_, ring, n, core = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
for analytic in ("checksum", "motion", "tamper", "people"):
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as ev:
        p = subprocess.Popen(["taskset", "-c", core, bin_, "worker", "--ring", ring, "--analytic",
                              analytic, "--mode", "every", "--max-frames", str(n), "--events",
                              ev.name, "--metrics-addr", "0", "--log-level", "warn"])
        _, status, usage = os.wait4(p.pid, 0)
        assert status == 0, f"{analytic} worker failed"
        events = [json.loads(line) for line in open(ev.name)]
    times = sorted({e["wall_time_ns"] for e in events if e["kind"] == analytic} or
                   {e["wall_time_ns"] for e in events})
    wall = (n - 1) / ((times[-1] - times[0]) / 1e9) if len(times) == n else float("nan")
    cpu = n / (usage.ru_utime + usage.ru_stime)
    extra = ""
    if analytic == "people":
        extra = f"; people in {sum(1 for e in events if e['boxes'])} of {len(events)} frames"
    print(f"{analytic:9s} {n} frames: {wall:7.1f} fps wall, {cpu:7.1f} fps per CPU second{extra}")
PY
