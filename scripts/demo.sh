#!/usr/bin/env bash
# `make demo`: runs the main job. Until `framering run` exists, a ring smoke: a writer and stat.
set -euo pipefail
bin=${1:?usage: demo.sh BIN CONFIG}
config=${2:-config/demo.yaml}
seconds=${FRAMERING_DEMO_SECONDS:-}
args=(run "$config")
if [ -n "$seconds" ]; then args+=(--duration "$seconds"); fi
exec "$bin" "${args[@]}"
