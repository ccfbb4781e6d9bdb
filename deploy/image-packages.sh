#!/usr/bin/env bash
# Prints the Debian packages deploy/Dockerfile's build stage installs: every package of
# scripts/debian-packages.txt (the list `make deps` installs) except lines marked
# "not-in-image" (host tools that Debian's archive lacks). One list, so they cannot drift.
set -euo pipefail
list=${1:-"$(dirname "$0")/../scripts/debian-packages.txt"}
grep -v '^\s*#' "$list" | grep -v 'not-in-image' | awk 'NF{print $1}'
