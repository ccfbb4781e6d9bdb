#!/usr/bin/env bash
# Makes this machine able to build and run framering's images with podman (`make image` and
# tests/deploy/test_containers.py call it; idempotent, needs root).
#
# 1. Installs Debian's podman, runc, uidmap, catatonit (podman's --init, which the tests and
#    compose use), the CNI dnsname plugin (compose's services find each other by name: the
#    ingest's rtsp://camera:8554) and debootstrap when missing (docker-compose comes with
#    `make deps`).
# 2. Writes /etc/containers/containers.conf.d/50-framering.conf: runc with cgroupfs (works on
#    cgroup v1 and v2 hosts, where crun and systemd cgroups may not), and default ulimits no
#    higher than a process may set without CAP_SYS_RESOURCE (podman otherwise raises
#    RLIMIT_NOFILE/NPROC for every container and fails where that capability is withheld).
# 3. Makes sure `docker.io/library/debian:bookworm` (and `-slim`) exist locally: pulled where a
#    registry answers, else built by scripts/make-base-image.sh from a debootstrap root.
#
# Env: FRAMERING_SKIP_BASE=1 skips step 3.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "container-setup: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "needs root (apt-get, /etc/containers); run it as root or with sudo"

missing=()
for p in podman runc uidmap catatonit golang-github-containernetworking-plugin-dnsname debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "container-setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}"; } ||
    die "cannot install ${missing[*]} with apt-get"
fi

conf=/etc/containers/containers.conf.d/50-framering.conf
mkdir -p "$(dirname "$conf")"
cat >"$conf.tmp" <<'CONF'
# Written by framering's scripts/container-setup.sh.
[containers]
# Podman's default raises RLIMIT_NOFILE/NPROC, which needs CAP_SYS_RESOURCE.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
if ! cmp -s "$conf.tmp" "$conf" 2>/dev/null; then
  mv "$conf.tmp" "$conf"
  echo "container-setup: wrote $conf"
else
  rm -f "$conf.tmp"
fi

[ -n "${FRAMERING_SKIP_BASE:-}" ] || ./scripts/make-base-image.sh
