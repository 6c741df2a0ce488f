#!/usr/bin/env bash
# Build every libFuzzer target (tests/fuzz/<name>.cc) with clang and run each for
# FUZZ_SECONDS (default 60) from its seed corpus (tests/fuzz/corpus/<name>/, copied into
# build/fuzz so new inputs never land in the repo). Exits non-zero on the first crash;
# the crashing input is left in build/fuzz/artifacts/.
#
#   scripts/fuzz.sh [target ...]        FUZZ_SECONDS=10 scripts/fuzz.sh fuzz_unpickle
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
B=build/fuzz
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (Debian: apt-get install clang)" >&2; exit 1; }
CC=clang CXX=clang++ cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DG2_FUZZ=ON -DG2_CUDA=OFF >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/*.cc; do targets+=("$(basename "$f" .cc)"); done
fi
cmake --build "$B" -j "${JOBS:-2}" --target "${targets[@]}"
mkdir -p "$B/artifacts"
for t in "${targets[@]}"; do
  corpus="$B/corpus/$t"
  mkdir -p "$corpus"
  [ -d "tests/fuzz/corpus/$t" ] && cp -n "tests/fuzz/corpus/$t"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz.sh: $t for ${SECONDS_EACH}s"
  "$B/fuzz/$t" -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 \
      -artifact_prefix="$B/artifacts/$t-" "$corpus"
done
