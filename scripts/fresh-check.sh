#!/usr/bin/env bash
# `make fresh-check`: the README's two commands as a new user types them, on a minimal Debian 12.
#
# A debootstrap'ed bookworm root (minbase) gets nothing but make, git and ca-certificates, a clone
# of the *committed* HEAD, and then runs `make test` and `make demo DEMO_SECONDS=20`. It fails if
# either fails. A green CI on a full development machine can hide a missing install step; this
# cannot. The debootstrap base is cached (FRESH_CACHE) so a rerun costs the build and tests only;
# every run starts from a pristine copy of it. Needs root (mount, chroot, unshare).
#
# Env: FRESH_CACHE (default /var/cache/framering-fresh), FRESH_ROOT (default /tmp/framering-fresh),
#      FRESH_LOGS (default /tmp/fresh-logs), FRESH_DEMO_SECONDS (default 20), FRESH_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$PWD
cache=${FRESH_CACHE:-/var/cache/framering-fresh}
root=${FRESH_ROOT:-/tmp/framering-fresh}
logs=${FRESH_LOGS:-/tmp/fresh-logs}
demo_seconds=${FRESH_DEMO_SECONDS:-20}
base=$cache/bookworm-minbase

die() { echo "fresh-check: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, mount, chroot); run it as root or with sudo"
mkdir -p "$logs" "$cache"

# The mirror this machine's apt already uses (deb822 or one-line format).
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list(.d); apt must be configured"

if [ ! -x "$base/bin/bash" ]; then
  command -v debootstrap >/dev/null || {
    echo "fresh-check: installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >"$logs/debootstrap-install.log" 2>&1 ||
      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap \
          >"$logs/debootstrap-install.log" 2>&1; } || die "cannot install debootstrap (log $logs/debootstrap-install.log)"
  }
  echo "fresh-check: debootstrap --variant=minbase bookworm from $mirror (cached in $base)"
  rm -rf "$base.tmp"
  debootstrap --variant=minbase bookworm "$base.tmp" "$mirror" >"$logs/debootstrap.log" 2>&1 ||
    die "debootstrap failed (log $logs/debootstrap.log)"
  mv "$base.tmp" "$base"
fi

grep -q " $root[/ ]" /proc/mounts && die "something is still mounted under $root; unmount it first"
rm -rf "$root"
cp -a "$base" "$root"
# The chroot's apt uses the same mirror as this machine.
rm -f "$root/etc/apt/sources.list"
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" \
  >"$root/etc/apt/sources.list"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
git clone -q --no-local "$project" "$root/root/project"
git -C "$root/root/project" checkout -q "$(git rev-parse HEAD)"
echo "fresh-check: testing commit $(git rev-parse --short HEAD) in $root (logs in $logs)"

# Everything that mounts runs in a private mount namespace: whatever happens, the mounts die with
# it, and the trap removes the copied root.
# FRESH_KEEP=1 keeps the root for a post-mortem (chroot into it).
[ -n "${FRESH_KEEP:-}" ] || trap 'rm -rf "$root"' EXIT
set +e
unshare -m --propagation private bash -s "$root" "$logs" "$demo_seconds" <<'IN'
set -u
root=$1 logs=$2 demo_seconds=$3
# `/` of the chroot must be a mount point, as on a real machine (tests run `unshare -m`).
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o size=4g,mode=1777 tmpfs "$root/dev/shm"
mount -t sysfs sys "$root/sys" 2>/dev/null || true
in_root() { chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 /bin/bash -c "$1"; }
in_root 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q make git ca-certificates' \
  >"$logs/base.log" 2>&1 || { echo "fresh-check: installing make/git/ca-certificates failed (log $logs/base.log)"; exit 2; }
start=$(date +%s)
in_root 'cd /root/project && make test' >"$logs/test.log" 2>&1; t=$?
echo "fresh-check: make test: exit $t in $(( $(date +%s) - start )) s (log $logs/test.log)"
tail -n 5 "$logs/test.log" | sed 's/^/  | /'
# A failure's own lines too (pytest's assertion lines, ctest's failed tests): the console is
# often all that is left of a run on another machine.
[ "$t" -eq 0 ] || grep -E '^(E  |FAILED |ERROR )|\*\*\*Failed|\(Failed\)|Exception' "$logs/test.log" |
  head -n 80 | sed 's/^/  ! /'
start=$(date +%s)
in_root "cd /root/project && timeout 900 make demo DEMO_SECONDS=$demo_seconds" >"$logs/demo.log" 2>&1; d=$?
echo "fresh-check: make demo DEMO_SECONDS=$demo_seconds: exit $d in $(( $(date +%s) - start )) s (log $logs/demo.log)"
tail -n 8 "$logs/demo.log" | sed 's/^/  | /'
[ "$t" -eq 0 ] && [ "$d" -eq 0 ]
IN
rc=$?
if [ "$rc" -eq 0 ]; then echo "fresh-check: OK (both README commands exit 0 on a minimal Debian 12)"; else
  echo "fresh-check: FAILED (logs in $logs)"; fi
exit "$rc"
