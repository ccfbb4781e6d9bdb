#!/usr/bin/env bash
# `make demo`: the main job, `framering run CONFIG` (the README's pipeline: ingest, workers,
# events, metrics and preview). FRAMERING_DEMO_SECONDS=N (`make demo DEMO_SECONDS=N`) stops it
# after N seconds; otherwise it runs until Ctrl-C.
set -euo pipefail
bin=${1:?usage: demo.sh BIN CONFIG}
config=${2:-config/demo.yaml}
seconds=${FRAMERING_DEMO_SECONDS:-}
args=(run "$config")
if [ -n "$seconds" ]; then args+=(--duration "$seconds"); fi
exec "$bin" "${args[@]}"
