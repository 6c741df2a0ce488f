#!/usr/bin/env bash
# `make package`: the .deb and the relocatable tarball from an already built BUILD folder
# (cmake/package.cmake says what they hold), into BUILD/packages/. Prints the two paths.
# Reruns are quick when nothing changed; safe to run concurrently (the package tests do).
#
#   scripts/package.sh [BUILD]      (default build/)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$SRC" && cd "${1:-build}" && pwd)
OUT=$BUILD/packages
mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
deb=$(ls "$OUT"/g2kit_"$version"_*.deb 2>/dev/null | head -1 || true)
tgz=$OUT/g2kit-$version-linux-$(uname -m).tar.gz
# Up to date: both exist and nothing they are made of is newer (tools, configs, docs, cpack setup).
if [ -n "$deb" ] && [ -f "$tgz" ] && [ -f "$OUT/.stamp" ] &&
   [ -z "$(find "$BUILD/bin" "$BUILD/bin-cpu" "$SRC/configs" "$SRC/README.md" "$SRC/MIGRATION.md" "$SRC/cmake" \
              "$BUILD/CPackConfig.cmake" "$BUILD/g2kitCPackOptions.cmake" \
              -newer "$OUT/.stamp" -print -quit 2>/dev/null)" ]; then
  echo "$deb"; echo "$tgz"; exit 0
fi
touch "$OUT/.stamp.new"
(cd "$BUILD" && cpack --config CPackConfig.cmake >"$OUT/cpack.log" 2>&1) || { cat "$OUT/cpack.log" >&2; exit 1; }
mv "$OUT/.stamp.new" "$OUT/.stamp"
deb=$(ls "$OUT"/g2kit_"$version"_*.deb | head -1)
echo "$deb"; echo "$tgz"
