#!/usr/bin/env bash
# Build the libFuzzer targets (tests/fuzz/fuzz_*.cc) with clang + ASan/UBSan in build/fuzz and
# run each for FUZZ_SECONDS (default 60). Not part of `make test`; run it as `make fuzz`.
#
#   FUZZ_SECONDS=300 scripts/fuzz.sh            # longer runs
#   scripts/fuzz.sh fuzz_safetensors_header     # one target
#
# New inputs that found coverage accumulate in build/fuzz/corpus/<target>; a crash leaves
# crash-* in the current directory and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
BUILD=${FUZZ_BUILD:-build/fuzz}
JOBS=${JOBS:-2}

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: clang++ not found; install clang (Debian: apt-get install clang)" >&2
  exit 1
fi
if [ $# -gt 0 ]; then
  targets="$*"
else
  targets=$(cd tests/fuzz && ls fuzz_*.cc | sed 's/\.cc$//')
fi

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DG2_FUZZ=ON -DG2_SANITIZE="address;undefined" -DG2_CUDA=OFF -DG2_TESTS=OFF -DG2_WERROR=OFF \
  -DCMAKE_CXX_FLAGS=-Wno-unknown-warning-option >/dev/null
# shellcheck disable=SC2086
cmake --build "$BUILD" -j "$JOBS" --target $targets

for t in $targets; do
  corpus="$BUILD/corpus/$t"
  mkdir -p "$corpus"
  seeds=()
  [ -d "tests/fuzz/corpus/$t" ] && seeds=("tests/fuzz/corpus/$t")
  echo "== $t: ${FUZZ_SECONDS}s"
  "$BUILD/fuzz/$t" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$corpus" "${seeds[@]}"
done
echo "fuzz.sh: all targets ran ${FUZZ_SECONDS}s without a crash"
