#!/usr/bin/env bash
# scripts/gpu-bundle.sh [DIR]: everything a bare GPU machine lacks to build and test g2kit,
# fetched here (a Debian machine with apt) into DIR (default gpu-bundle/, git-ignored), to
# travel next to a copy of the working tree; scripts/gpu-check.sh uses it there, offline.
#
# What: the Debian .deb files of the build dependencies (nlohmann/json, CLI11, zstd, xxhash, PCRE2, SentencePiece,
# OpenBLAS with its Fortran runtime, the GoogleTest *sources*, pkgconf), fetched with
# `apt-get download` (no install, no root needed) and unpacked on the GPU machine with
# `dpkg -x` (or a Python fallback where dpkg is missing) into a private prefix that CMake is
# pointed at (scripts/gpu-prefix.sh). Why .debs rather than prebuilt binaries: the GPU
# machine has its own compiler and CUDA 13, so the kit builds there exactly as CI builds
# here (same sources, same CMake, sm_90 kernels for the card present), and the bundle stays
# small (~14 MiB) because CUDA, cuBLAS and NCCL are not in it. GoogleTest travels as source
# and is compiled there: a static libgtest.a built by Debian's GCC 12 need not link with
# another compiler's libstdc++.
#
# The bundle must fit the 64 MiB that may travel with the tree: above GPU_BUNDLE_LIMIT_MIB
# (default 60) this script fails. MANIFEST records each package's version, size and sha256,
# the architecture and the newest glibc symbol version the shared libraries need (the GPU
# machine's glibc must be at least that; gpu-prefix.sh checks).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/gpu-bundle}
LIMIT_MIB=${GPU_BUNDLE_LIMIT_MIB:-60}
# Runtime libraries first, then headers / CMake configs, then tools. libgtest-dev is left out
# on purpose (prebuilt archive); `googletest` carries /usr/src/googletest.
PKGS=(libzstd1 libzstd-dev libxxhash0 libxxhash-dev libopenblas0-pthread libopenblas-pthread-dev libgfortran5
      libquadmath0 nlohmann-json3-dev libcli11-dev googletest pkgconf pkgconf-bin libpkgconf3
      libpcre2-dev libpcre2-8-0 libpcre2-16-0 libpcre2-32-0 libpcre2-posix3 libsentencepiece-dev libsentencepiece0)

die() { echo "gpu-bundle: $*" >&2; exit 1; }
command -v apt-get >/dev/null || die "needs apt-get (run it on a Debian/Ubuntu machine with network access)"
ARCH=$(dpkg --print-architecture)
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gpu-bundle.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/bundle/debs"
echo "gpu-bundle: apt-get download ${PKGS[*]}"
# apt-get download fetches the candidate version of each package (the one `make deps` installs).
# Run in a folder _apt can write to when root (otherwise apt warns and downloads unsandboxed).
(cd "$TMP/bundle/debs" && apt-get download -q "${PKGS[@]}" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
for p in "${PKGS[@]}"; do
  compgen -G "$TMP/bundle/debs/${p}_*.deb" >/dev/null || die "apt-get download did not fetch $p (run apt-get update?)"
done

# The newest GLIBC_x.y symbol version any shared object or program in the bundle needs.
GLIBC_NEED=unknown
if command -v objdump >/dev/null; then
  mkdir -p "$TMP/x"
  for d in "$TMP"/bundle/debs/*.deb; do dpkg -x "$d" "$TMP/x"; done
  # objdump fails on files that are not ELF (libpcre2-dev ships shell scripts under bin/): ignore those
  GLIBC_NEED=$({ find "$TMP/x" -type f \( -name '*.so*' -o -path '*/bin/*' \) -exec objdump -T {} + 2>/dev/null || true; } |
    grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
  GLIBC_NEED=${GLIBC_NEED:-unknown}
fi

{
  echo "# g2kit GPU bundle: Debian packages for scripts/gpu-prefix.sh (written by scripts/gpu-bundle.sh)"
  echo "arch $ARCH"
  echo "multiarch $MULTIARCH"
  echo "glibc $GLIBC_NEED"
  echo "source $(. /etc/os-release 2>/dev/null && echo "${ID:-?}-${VERSION_ID:-?}")"
  for d in "$TMP"/bundle/debs/*.deb; do
    echo "deb $(basename "$d") $(stat -c %s "$d") $(sha256sum "$d" | cut -d' ' -f1)"
  done
} >"$TMP/bundle/MANIFEST"

BYTES=$(du -sb "$TMP/bundle" | cut -f1)
MIB=$(( (BYTES + 1048575) / 1048576 ))
if [ "$MIB" -gt "$LIMIT_MIB" ]; then
  die "the bundle is $MIB MiB, over the limit of $LIMIT_MIB MiB (GPU_BUNDLE_LIMIT_MIB): it would not travel"
fi
rm -rf "$OUT.new"
mkdir -p "$(dirname "$OUT")"
mv "$TMP/bundle" "$OUT.new"
rm -rf "$OUT"
mv "$OUT.new" "$OUT"
echo "gpu-bundle: $OUT: ${#PKGS[@]} packages, $MIB MiB (limit $LIMIT_MIB), $ARCH, needs glibc >= $GLIBC_NEED"
