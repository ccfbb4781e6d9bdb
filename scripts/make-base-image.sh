#!/usr/bin/env bash
# Provides the base images deploy/Dockerfile and deploy/camera-sim/Dockerfile start FROM,
# docker.io/library/debian:bookworm and :bookworm-slim, to podman on a machine without a
# reachable registry. Where the images exist, it does nothing; where a pull works, it pulls.
# Otherwise it builds them as Debian's official images are built: a `debootstrap
# --variant=minbase bookworm` root from the mirror apt already uses, apt caches and lists
# removed; the slim variant also drops documentation, manuals and translations. Needs root.
#
# Env: FRAMERING_BASE_CACHE (default /var/cache/framering-fresh; its bookworm-minbase is reused
#      and never modified), FRAMERING_BASE_WORK (default /var/tmp/framering-base).
set -euo pipefail
die() { echo "make-base-image: $*" >&2; exit 2; }
full=docker.io/library/debian:bookworm
slim=docker.io/library/debian:bookworm-slim
if podman image exists "$full" && podman image exists "$slim"; then
  exit 0
fi
for ref in "$full" "$slim"; do
  podman image exists "$ref" || timeout 60 podman pull -q "$ref" >/dev/null 2>&1 || true
done
if podman image exists "$full" && podman image exists "$slim"; then
  echo "make-base-image: pulled $full and $slim"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap); run it as root or with sudo"

cache=${FRAMERING_BASE_CACHE:-/var/cache/framering-fresh}
work=${FRAMERING_BASE_WORK:-/var/tmp/framering-base}
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || die "no Debian mirror in /etc/apt/sources.list(.d); configure apt first"
security=$(awk '/^URIs:/ && /security/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$security" ] || security=${mirror%/debian}/debian-security

rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
root=$work/root
if [ -x "$cache/bookworm-minbase/bin/bash" ]; then
  echo "make-base-image: copying the debootstrap root cached in $cache/bookworm-minbase"
  cp -a "$cache/bookworm-minbase" "$root"
else
  command -v debootstrap >/dev/null || die "debootstrap is missing: run scripts/container-setup.sh"
  echo "make-base-image: debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { cat "$work/debootstrap.log" >&2; die "debootstrap failed"; }
fi

# As in the official image: one deb822 source list (release, updates, security), no caches.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
  "$root"/var/log/* "$root"/tmp/* "$root"/root/.bash_history "$root/etc/resolv.conf"
: >"$root/etc/hostname"
# As Docker's Debian images: apt keeps no downloaded packages and no package caches.
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT

tar -C "$root" --numeric-owner -c . | podman import -q \
  --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$full" >/dev/null
echo "make-base-image: imported $full"

# Slim: as debian:bookworm-slim, without docs, manuals and translations (and dpkg keeps them out).
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
DPKG
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/groff/* "$root"/usr/share/info/* \
  "$root"/usr/share/lintian/* "$root"/usr/share/linda/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
tar -C "$root" --numeric-owner -c . | podman import -q \
  --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  - "$slim" >/dev/null
echo "make-base-image: imported $slim"
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep 'debian:bookworm'
