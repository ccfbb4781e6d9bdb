#!/usr/bin/env bash
# Prints the Debian packages that provide the shared libraries BINARY links directly
# (its ELF NEEDED entries), one per line, sorted. deploy/Dockerfile's runtime stage installs
# exactly these (apt adds their dependencies), so the image carries runtime libraries only,
# never -dev packages, and follows whatever the build links.
set -euo pipefail
bin=${1:?usage: runtime-packages.sh BINARY}
[ -x "$bin" ] || { echo "runtime-packages.sh: $bin is not an executable: build it first" >&2; exit 2; }
declare -A path_of
while read -r soname _ path _; do
  [ -n "${path:-}" ] && [ "${path#/}" != "$path" ] && path_of[$soname]=$path
done < <(ldd "$bin" | awk '$2 == "=>" {print $1, $2, $3}')
objdump -p "$bin" | awk '$1 == "NEEDED" {print $2}' | while read -r soname; do
  path=${path_of[$soname]:-}
  [ -n "$path" ] || { echo "runtime-packages.sh: $bin needs $soname, which ldd cannot find" >&2; exit 3; }
  real=$(readlink -f "$path")
  # usrmerge: dpkg may record the file under /lib or under /usr/lib.
  pkg=$(dpkg -S "$real" 2>/dev/null || dpkg -S "${real#/usr}" 2>/dev/null || dpkg -S "/usr$real" 2>/dev/null) || {
    echo "runtime-packages.sh: no Debian package owns $real ($soname)" >&2
    exit 3
  }
  echo "${pkg%%:*}"
done | sort -u
