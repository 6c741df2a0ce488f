#!/usr/bin/env bash
# scripts/gpu-prefix.sh BUNDLE PREFIX: turns a bundle from scripts/gpu-bundle.sh into a private
# install prefix a CMake build can use without root, network or the system's packages:
#   1. checks the machine against the bundle's MANIFEST (architecture, glibc version, sha256);
#   2. unpacks every .deb into PREFIX (`dpkg -x`; without dpkg, or with
#      GPU_PREFIX_UNPACK=python, a .deb is an `ar` archive holding data.tar.*, which Python's
#      tarfile unpacks);
#   3. points the pkg-config files at PREFIX (they say prefix=/usr);
#   4. builds GoogleTest from the bundled sources with this machine's compiler, into PREFIX;
#   5. writes PREFIX/g2-env.sh (LD_LIBRARY_PATH, PKG_CONFIG_LIBDIR: source it before building
#      or running) and PREFIX/g2-cmake-args (one CMake argument per line).
# Idempotent: a second run with the same bundle only checks (PREFIX/.complete).
# Used by scripts/gpu-check.sh (step deps) and tests/cli/gpu_bundle.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "gpu-prefix: $*" >&2; exit 2; }
[ $# -eq 2 ] || die "usage: scripts/gpu-prefix.sh BUNDLE PREFIX"
BUNDLE=$(cd "$1" 2>/dev/null && pwd) || die "no bundle folder $1 (make one with scripts/gpu-bundle.sh on a machine with apt)"
mkdir -p "$2"
P=$(cd "$2" && pwd)
M="$BUNDLE/MANIFEST"
[ -f "$M" ] || die "$BUNDLE has no MANIFEST: not a bundle from scripts/gpu-bundle.sh"
PY=${PYTHON:-python3}

field() { awk -v k="$1" '$1 == k { print $2; exit }' "$M"; }
ARCH=$(field arch)
MULTIARCH=$(field multiarch)
NEED_GLIBC=$(field glibc)
case "$(uname -m)" in
  x86_64) HERE=amd64 ;;
  aarch64) HERE=arm64 ;;
  *) HERE=$(uname -m) ;;
esac
[ "$HERE" = "$ARCH" ] || die "the bundle holds $ARCH packages, this machine is $HERE: make the bundle on an $HERE Debian machine"
HAVE_GLIBC=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
if [ "$NEED_GLIBC" != unknown ] && [ -n "$HAVE_GLIBC" ] &&
   [ "$(printf '%s\n%s\n' "$NEED_GLIBC" "$HAVE_GLIBC" | sort -V | head -1)" != "$NEED_GLIBC" ]; then
  die "the bundle's libraries need glibc >= $NEED_GLIBC, this machine has $HAVE_GLIBC: make the bundle on an older Debian/Ubuntu"
fi

STAMP=$(sha256sum "$M" | cut -d' ' -f1)
if [ -f "$P/.complete" ] && [ "$(cat "$P/.complete")" = "$STAMP" ]; then
  echo "gpu-prefix: $P is ready (bundle unchanged)"
  exit 0
fi

# 1-2. verify and unpack
while read -r kind file size sha; do
  [ "$kind" = deb ] || continue
  f="$BUNDLE/debs/$file"
  [ -f "$f" ] || die "the bundle lacks $file (listed in its MANIFEST)"
  [ "$(stat -c %s "$f")" = "$size" ] && [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$sha" ] ||
    die "$file does not match the MANIFEST (size or sha256): copy the bundle again"
  if command -v dpkg >/dev/null && [ "${GPU_PREFIX_UNPACK:-}" != python ]; then
    dpkg -x "$f" "$P"
  else
    "$PY" - "$f" "$P" <<'PYEOF'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
assert data[:8] == b"!<arch>\n", deb + ": not an ar archive"
pos = 8
while pos < len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith("data.tar"):
        # the bundle is sha256-checked against its MANIFEST: keep links as dpkg -x would
        kw = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
        with tarfile.open(fileobj=io.BytesIO(body)) as t:
            t.extractall(dest, **kw)
        break
else:
    sys.exit(deb + ": no data.tar member")
PYEOF
  fi
done <"$M"

# 3. pkg-config files: prefix=/usr -> the private prefix
LIBDIR="$P/usr/lib/$MULTIARCH"
for pc in $(find "$P/usr" -name '*.pc'); do
  sed -i "s|^prefix=/usr\$|prefix=$P/usr|; s|^libdir=/usr/|libdir=$P/usr/|; s|^includedir=/usr/|includedir=$P/usr/|" "$pc"
done

# 4. GoogleTest from source (gtest only; gmock is not used)
SRC="$P/usr/src/googletest"
[ -f "$SRC/CMakeLists.txt" ] || die "the bundle has no GoogleTest sources (package googletest)"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S "$SRC" -B "$P/build-gtest" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_GMOCK=OFF -DINSTALL_GTEST=ON \
  -DCMAKE_INSTALL_PREFIX="$P/usr" -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_POSITION_INDEPENDENT_CODE=ON >"$P/gtest-build.log" 2>&1 ||
  { tail -20 "$P/gtest-build.log" >&2; die "configuring GoogleTest failed (log: $P/gtest-build.log)"; }
cmake --build "$P/build-gtest" -j "$(nproc)" >>"$P/gtest-build.log" 2>&1 &&
  cmake --install "$P/build-gtest" >>"$P/gtest-build.log" 2>&1 ||
  { tail -20 "$P/gtest-build.log" >&2; die "building GoogleTest failed (log: $P/gtest-build.log)"; }
rm -rf "$P/build-gtest"

# 5. how to use it
PKGCONF=$(command -v pkg-config || command -v pkgconf || echo "$P/usr/bin/pkgconf")
cat >"$P/g2-env.sh" <<EOF
# Written by scripts/gpu-prefix.sh: the bundle's shared libraries (OpenBLAS needs libgfortran)
# and only its pkg-config files.
export LD_LIBRARY_PATH="$LIBDIR:$LIBDIR/openblas-pthread\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export PKG_CONFIG_LIBDIR="$LIBDIR/pkgconfig:$P/usr/share/pkgconfig"
EOF
cat >"$P/g2-cmake-args" <<EOF
-DCMAKE_PREFIX_PATH=$P/usr
-DCMAKE_LIBRARY_PATH=$LIBDIR/openblas-pthread
-DPKG_CONFIG_EXECUTABLE=$PKGCONF
EOF
echo "$STAMP" >"$P/.complete"
echo "gpu-prefix: $P ready ($(grep -c '^deb ' "$M") packages unpacked, GoogleTest built; source $P/g2-env.sh)"
