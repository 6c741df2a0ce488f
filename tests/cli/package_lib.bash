# Shared prelude of the package tests (sourced): builds the packages of `make package` when
# they are missing or older than the tools (scripts/package.sh), a scratch folder, fail().
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
BUILD=$(cd "$G2_BIN_DIR/.." && pwd)
T=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$T"' EXIT
NAME=$(basename "$0" .sh)
fail() { echo "$NAME: FAIL: $*"; exit 1; }
out=$(bash "$G2_SOURCE_DIR/scripts/package.sh" "$BUILD") || fail "scripts/package.sh failed"
mapfile -t PACKAGES <<<"$out"
DEB=${PACKAGES[0]}
TGZ=${PACKAGES[1]}
VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$BUILD/CMakeCache.txt")
TOOLS="g2convert g2diff g2inspect g2synth"
# The sonames a tool asks for (readelf: no loader involved).
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
