#!/usr/bin/env bash
# Copies the shared libraries BINARY loads at run time under the root directory DEST, where
# Debian keeps them (DEST/usr/lib/<multiarch>/), except those the base image already has.
# deploy/Dockerfile's runtime stage copies DEST onto its root. Each library is stored under the
# name the loader asks for (ldd's left column): a few differ from their SONAME (libavdevice
# needs libsndio.so.7.0, whose SONAME is libsndio.so.7), so the loader must find them by file
# name in a default directory, not through ld.so.cache.
#
# Why libraries and not packages: Debian's library packages depend on far more than the binary
# loads. libopencv-core406 depends on libglx0, which pulls mesa's libgl1-mesa-dri and libllvm15
# (140 MB) although framering never opens a GL context; libavdevice59 pulls libavfilter8 with
# flite voices, libplacebo and SDL. The loader's view (ldd: the ELF NEEDED closure) is what runs.
#
# BASE_PACKAGES: a file listing the packages the runtime stage's base image has (one per line,
# `dpkg-query -W -f '${Package}\n'` on that image); libraries they own are not copied.
# Options: --with-avdevice also copies libavdevice (which ingest dlopen()s for the `testsrc:`
# source, ingest/src/video_input.cpp) and its closure.
set -euo pipefail
usage() { echo "usage: runtime-libs.sh [--with-avdevice] BINARY BASE_PACKAGES DEST_ROOT" >&2; exit 2; }
avdevice=0
[ "${1:-}" = --with-avdevice ] && { avdevice=1; shift; }
[ $# -eq 3 ] || usage
bin=$1 base=$2 dest=$3
[ -x "$bin" ] || { echo "runtime-libs.sh: $bin is not an executable: build it first" >&2; exit 2; }
[ -r "$base" ] || { echo "runtime-libs.sh: cannot read the base package list $base" >&2; exit 2; }

objects=("$bin")
if [ "$avdevice" = 1 ]; then
  avformat=$(objdump -p "$bin" | awk '$1 == "NEEDED" && $2 ~ /^libavformat\.so\./ {print $2}')
  [ -n "$avformat" ] || { echo "runtime-libs.sh: $bin does not link libavformat" >&2; exit 3; }
  soname="libavdevice.so.${avformat##*.so.}"
  # awk reads to the end (no early exit): ldconfig would die of SIGPIPE and fail the pipeline.
  path=$(ldconfig -p | awk -v s="$soname" '$1 == s && $NF ~ /^\// && !seen {print $NF; seen = 1}')
  [ -n "$path" ] || { echo "runtime-libs.sh: $soname (for testsrc:) is not installed" >&2; exit 3; }
  objects+=("$path")
fi

# soname -> path, for the whole closure.
declare -A path_of
for obj in "${objects[@]}"; do
  while read -r soname arrow path _; do
    [ "$arrow" = "=>" ] || continue
    [ "$path" = "not" ] && { echo "runtime-libs.sh: $obj needs $soname, which is not found" >&2; exit 3; }
    path_of[$soname]=$path
  done < <(ldd "$obj")
  [ "$obj" = "$bin" ] || path_of[$(objdump -p "$obj" | awk '$1 == "SONAME" {print $2}')]=$obj
done

# Owner package of each library (one dpkg call; usrmerge: ask for /lib and /usr/lib spellings).
queries=()
for soname in "${!path_of[@]}"; do
  real=$(readlink -f "${path_of[$soname]}")
  queries+=("$real" "${real#/usr}")
done
declare -A owner
while IFS= read -r line; do
  owner[${line#*: }]=${line%%:*}
done < <(dpkg -S "${queries[@]}" 2>/dev/null || true)
declare -A in_base
while read -r pkg; do in_base[${pkg%%:*}]=1; done <"$base"

copied=0
for soname in $(printf '%s\n' "${!path_of[@]}" | sort); do
  real=$(readlink -f "${path_of[$soname]}")
  pkg=${owner[$real]:-${owner[${real#/usr}]:-}}
  [ -n "$pkg" ] || { echo "runtime-libs.sh: no Debian package owns $real ($soname)" >&2; exit 3; }
  pkg=${pkg%%:*}
  [ -n "${in_base[$pkg]:-}" ] && continue
  # The directory the loader found it in (libblas.so.3 is an alternatives link in
  # /usr/lib/<multiarch>/ to a file in .../blas/, a directory the loader does not search).
  dir=$(readlink -f "$(dirname "${path_of[$soname]}")")
  mkdir -p "$dest$dir"
  cp -L "$real" "$dest$dir/$soname"
  echo "$dir/$soname $pkg"
  copied=$((copied + 1))
done
echo "runtime-libs.sh: copied $copied libraries to $dest" >&2
