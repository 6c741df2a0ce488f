#!/usr/bin/env bash
# scripts/gpu-bundle.sh and scripts/gpu-prefix.sh: the bundle fits its limit (and the limit
# is enforced), its MANIFEST is checked, and a CMake configure pointed only at the unpacked
# prefix (CMAKE_FIND_ROOT_PATH in ONLY mode: nothing may come from the system) finds every
# dependency there: nlohmann/json, CLI11, zstd, xxhash, OpenBLAS + cblas.h, GoogleTest built
# from the bundled sources. Both unpackers are exercised (dpkg -x, and the Python one for
# machines without dpkg). Needs apt's package lists and the network, as `make deps` does;
# without package lists it exits 77 (ctest: skipped).
set -euo pipefail
: "${G2_SOURCE_DIR:?}"
S=$G2_SOURCE_DIR
W=$(mktemp -d "${TMPDIR:-/tmp}/gpu-bundle-test.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
if ! command -v apt-get >/dev/null || ! apt-get download --print-uris googletest >/dev/null 2>&1; then
  echo "no apt package lists here (apt-get update): the bundle cannot be fetched"
  exit 77
fi

bash "$S/scripts/gpu-bundle.sh" "$W/bundle" >"$W/b.txt" 2>&1 || { cat "$W/b.txt"; fail "gpu-bundle.sh failed"; }
MIB=$(( $(du -sb "$W/bundle" | cut -f1) / 1048576 ))
[ "$MIB" -le 60 ] || fail "the bundle is $MIB MiB, over 60"
for f in arch multiarch glibc; do grep -q "^$f " "$W/bundle/MANIFEST" || fail "MANIFEST has no $f line"; done
[ "$(grep -c '^deb ' "$W/bundle/MANIFEST")" = "$(ls "$W/bundle/debs" | wc -l)" ] || fail "MANIFEST and debs/ disagree"
ls "$W/bundle/debs" | grep -q '^googletest_' || fail "no GoogleTest sources"
! ls "$W/bundle/debs" | grep -q '^libgtest-dev_' || fail "the prebuilt libgtest-dev must not travel"
# the limit is enforced, and a failed run leaves no partial bundle
GPU_BUNDLE_LIMIT_MIB=1 bash "$S/scripts/gpu-bundle.sh" "$W/small" >"$W/s.txt" 2>&1 && fail "a 1 MiB limit was not enforced"
grep -q "over the limit of 1 MiB" "$W/s.txt" || { cat "$W/s.txt"; fail "no limit message"; }
[ ! -e "$W/small" ] || fail "an over-limit bundle was left behind"

# a corrupted .deb is refused before anything is unpacked
cp -r "$W/bundle" "$W/bad"
f=$(ls "$W/bad/debs" | head -1)
printf 'x' >>"$W/bad/debs/$f"
bash "$S/scripts/gpu-prefix.sh" "$W/bad" "$W/badp" >"$W/p.txt" 2>&1 && fail "a corrupted bundle was accepted"
grep -q "$f does not match the MANIFEST" "$W/p.txt" || { cat "$W/p.txt"; fail "no sha message"; }

# the prefix (Python unpacker), then the dependency lookup confined to it
GPU_PREFIX_UNPACK=python bash "$S/scripts/gpu-prefix.sh" "$W/bundle" "$W/p" >"$W/p.txt" 2>&1 || { cat "$W/p.txt"; fail "gpu-prefix.sh failed"; }
bash "$S/scripts/gpu-prefix.sh" "$W/bundle" "$W/p" | grep -q "is ready (bundle unchanged)" || fail "a second run should only check"
(
  . "$W/p/g2-env.sh"
  mapfile -t args <"$W/p/g2-cmake-args"
  cmake -S "$S" -B "$W/build" -DG2_CUDA=OFF -DCMAKE_BUILD_TYPE=Release "${args[@]}" -DCMAKE_FIND_ROOT_PATH="$W/p" \
    -DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY \
    -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER >"$W/cfg.txt" 2>&1
) || { cat "$W/cfg.txt"; fail "configuring against the prefix failed"; }
C=$W/build/CMakeCache.txt
for v in nlohmann_json_DIR CLI11_DIR GTest_DIR BLAS_openblas_LIBRARY G2_CBLAS_INCLUDE pkgcfg_lib_ZSTD_zstd \
         pkgcfg_lib_XXHASH_xxhash; do
  grep -q "^$v:[A-Z]*=$W/p/" "$C" || fail "$v was not found in the prefix: $(grep "^$v:" "$C")"
done
grep -q "^ZSTD_INCLUDE_DIRS:INTERNAL=$W/p/" "$C" || fail "zstd headers not from the prefix"
[ -f "$W/p/usr/lib/libgtest.a" ] && [ -f "$W/p/usr/lib/libgtest_main.a" ] || fail "GoogleTest was not built"
echo "gpu_bundle: ok ($MIB MiB)"
