#!/usr/bin/env bash
# `make image`: builds framering:VERSION from deploy/Dockerfile and the camera simulator
# framering-camera-sim:VERSION from deploy/camera-sim, with docker where it is the engine, else
# with podman (set up by scripts/container-setup.sh: runtime, ulimits, local base images where
# no registry answers). Prints each build's time and each image's size.
#
# Env: ENGINE (docker|podman; default: podman if installed, else docker), IMAGE_TAG (default:
#      the project version), IMAGE_ARGS (extra build arguments, e.g. --build-arg FRAMERING_TESTSRC=0),
#      IMAGE_ONLY=framering|camera builds one of the two.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "image: $*" >&2; exit 2; }
version=$(sed -n 's/^project(framering VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
tag=${IMAGE_TAG:-$version}
engine=${ENGINE:-}
if [ -z "$engine" ]; then
  if command -v podman >/dev/null || [ "$(id -u)" -eq 0 ]; then engine=podman
  elif command -v docker >/dev/null; then engine=docker
  else die "neither podman nor docker is installed (as root, scripts/container-setup.sh installs podman)"
  fi
fi
build=()
case $engine in
  podman)
    # Root: install and configure podman, provide debian:bookworm locally; then never pull, and
    # let RUN steps use the host's network (apt reaches the mirror; no bridge needed).
    if [ "$(id -u)" -eq 0 ]; then ./scripts/container-setup.sh; fi
    command -v podman >/dev/null || die "podman is not installed: run scripts/container-setup.sh as root"
    # --format docker keeps HEALTHCHECK (the OCI image format has no such field).
    build=(podman build --pull=never --network host --format docker) ;;
  docker) build=(docker build) ;;
  *) die "ENGINE must be docker or podman, not '$engine'" ;;
esac

run_build() {  # NAME TAG DOCKERFILE CONTEXT [BUILD ARGS...]
  local start=$SECONDS
  echo "image: building $2 with $engine (log build/image-$1.log)"
  mkdir -p build
  # shellcheck disable=SC2086
  if ! "${build[@]}" ${IMAGE_ARGS:-} "${@:5}" -f "$3" -t "$2" "$4" >"build/image-$1.log" 2>&1; then
    tail -30 "build/image-$1.log" >&2
    die "building $2 failed (full log build/image-$1.log)"
  fi
  echo "image: built $2 in $((SECONDS - start)) s, size $($engine image inspect --format '{{.Size}}' "$2" | awk '{printf "%.0f MB", $1 / 1e6}')"
}
only=${IMAGE_ONLY:-}
# Docker's BuildKit reads deploy/Dockerfile.dockerignore by itself; podman is told.
ignore=()
[ "$engine" = podman ] && ignore=(--ignorefile deploy/Dockerfile.dockerignore)
if [ -z "$only" ] || [ "$only" = framering ]; then
  run_build framering "framering:$tag" deploy/Dockerfile . "${ignore[@]}"
fi
if [ -z "$only" ] || [ "$only" = camera ]; then
  run_build camera "framering-camera-sim:$tag" deploy/camera-sim/Dockerfile deploy/camera-sim
fi
