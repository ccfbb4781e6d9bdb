#!/usr/bin/env bash
# Prints the Debian packages that provide the shared libraries BINARY links directly
# (its ELF NEEDED entries, plus the ones it dlopen()s), one per line, sorted. deploy/Dockerfile's runtime stage installs
# exactly these (apt adds their dependencies), so the image carries runtime libraries only,
# never -dev packages, and follows whatever the build links.
set -euo pipefail
bin=${1:?usage: runtime-packages.sh BINARY}
[ -x "$bin" ] || { echo "runtime-packages.sh: $bin is not an executable: build it first" >&2; exit 2; }
declare -A path_of
while read -r soname path; do
  path_of[$soname]=$(readlink -f "$path")
done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}')
mapfile -t needed < <(objdump -p "$bin" | awk '$1 == "NEEDED" {print $2}')
# Libraries the binary dlopen()s on demand (ingest/src/video_input.cpp: libavdevice for the
# `testsrc:` source) are not NEEDED entries; the image must carry them all the same.
# libavdevice has the same major version as the libavformat the binary links (one FFmpeg).
avformat=$(printf '%s\n' "${needed[@]}" | grep -m1 '^libavformat\.so\.' || true)
[ -n "$avformat" ] || { echo "runtime-packages.sh: $bin does not link libavformat" >&2; exit 3; }
for soname in "libavdevice.so.${avformat##*.so.}"; do
  # awk reads to the end (no early exit): ldconfig would die of SIGPIPE and fail the pipeline.
  path=$(ldconfig -p | awk -v s="$soname" '$1 == s && $NF ~ /^\// && !seen {print $NF; seen = 1}')
  [ -n "$path" ] && path_of[$soname]=$(readlink -f "$path")
  needed+=("$soname")
done
# One dpkg query for all libraries (it is slow to start). With usrmerge, dpkg may record a
# library under /lib or under /usr/lib, so ask for both spellings.
queries=()
for soname in "${needed[@]}"; do
  path=${path_of[$soname]:-}
  [ -n "$path" ] || { echo "runtime-packages.sh: $bin needs $soname, which ldd cannot find" >&2; exit 3; }
  queries+=("$path" "${path#/usr}" "/usr${path#/usr}")
done
declare -A owner
while IFS= read -r line; do
  owner[${line#*: }]=${line%%:*}
done < <(dpkg -S "${queries[@]}" 2>/dev/null || true)
for soname in "${needed[@]}"; do
  path=${path_of[$soname]}
  pkg=${owner[$path]:-${owner[${path#/usr}]:-${owner[/usr${path#/usr}]:-}}}
  [ -n "$pkg" ] || { echo "runtime-packages.sh: no Debian package owns $path ($soname)" >&2; exit 3; }
  echo "$pkg"
done | sort -u
