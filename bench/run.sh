#!/usr/bin/env bash
# `make bench`: every benchmarked figure (targets: bench/collect.py) in one run, each printed against its target, and a
# machine-readable results JSON (BENCH_OUT, default build/bench/results.json); bench/report.py
# turns that JSON into BENCHMARKS.md's table.
#
# Environment: BENCH_GB (default 2: the main set, GiB, rounded up to whole layers),
# BENCH_GB_LARGE (default 6: the second size for the peak-RSS comparison; 0 skips it),
# BENCH_HIDDEN (default 4096), BENCH_G1_CONFIG (default configs/bench-grok1.json),
# BENCH_THREADS (default nproc), BENCH_REPS (default 3: rounds of the main-size timings, median
# reported), BENCH_DIR (scratch, default build/bench/work; needs about
# 3x BENCH_GB_LARGE free), BENCH_BUILD (default build/bench), BENCH_SKIP_PY=1 skips the Python
# baseline, BENCH_SKIP_MICRO=1 the Google Benchmark codecs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${BENCH_BUILD:-$ROOT/build/bench}
GB=${BENCH_GB:-2}; GB_LARGE=${BENCH_GB_LARGE:-6}
THREADS=${BENCH_THREADS:-$(nproc)}
REPS=${BENCH_REPS:-3}
W=${BENCH_DIR:-$B/work}
OUT=${BENCH_OUT:-$B/results.json}
H=${BENCH_HIDDEN:-4096}; V=32768
G1_CONFIG=${BENCH_G1_CONFIG:-$ROOT/configs/bench-grok1.json}
log() { echo "[bench $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)] $*" >&2; }

# Release build with the microbenchmarks. -Werror off here only: GCC 12 -O3 reports a false
# -Wrestrict inside std::string (the ci preset's -O2 build keeps -Werror).
log "build (Release, G2_BENCH=ON) in $B"
if [ ! -f "$B/CMakeCache.txt" ]; then
  cmake -S "$ROOT" -B "$B" -DCMAKE_BUILD_TYPE=Release -DG2_BENCH=ON -DG2_WERROR=OFF -DG2_CUDA=OFF >/dev/null
fi
cmake --build "$B" -j "$(nproc)" --target g2convert g2synth bench_codecs bench_quant bench_layer >/dev/null
BIN=$B/bin
PY=""
if [ -z "${BENCH_SKIP_PY:-}" ]; then PY=$(bash "$ROOT/scripts/setup-python.sh" "$B" | tail -1); fi

layers_for() {  # GiB -> whole layers of convert_synth_hf.py's set: 2 bytes x (32 H^2 + 2048 H) per
  # layer (q, o H^2; k, v 1024 H; dense FFN 6 H^2; 8 experts 24 H^2) + embedding and lm_head
  python3 -c "import math; print(max(1, math.ceil(($1 * 2**30 - 4 * $V * $H) / (2 * (32 * $H**2 + 2048 * $H)))))"
}
rm -rf "$W"; mkdir -p "$W"
RES=$W/results.tsv; : >"$RES"
avail_gb() { df -P "$W" | awk 'NR==2 {print int($4 / 1048576)}'; }
need=$(python3 -c "import math; print(math.ceil(max($GB, $GB_LARGE) * 3 + 2))")
if [ "$(avail_gb)" -lt "$need" ]; then echo "bench: need ~${need} GiB free in $W, have $(avail_gb)" >&2; exit 2; fi

# measure LABEL BYTES CMD...: wall seconds, peak RSS (KiB) and the load average, one TSV row.
measure() {
  local label=$1 bytes=$2; shift 2
  sync
  local load0; load0=$(cut -d' ' -f1 /proc/loadavg)
  if ! /usr/bin/time -v "$@" >"$W/out.$label" 2>"$W/time.$label"; then
    log "$label failed:"; tail -5 "$W/time.$label" >&2; return 1
  fi
  local secs rss
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$W/time.$label")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$W/time.$label")
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$W/time.$label")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$secs" "$rss" "$bytes" "$load0" "$cpu" >>"$RES"
  log "$label: ${secs} s, peak RSS $((rss / 1024)) MiB, $((bytes / 1048576)) MiB"
}
dir_bytes() { du -sb "$1" | cut -f1; }

make_tp8() {  # GiB, dir
  local L; L=$(layers_for "$1")
  log "synthesise a ${1} GiB-class Grok-2 set: hidden $H, $L layers, vocab $V"
  python3 "$ROOT/bench/convert_synth_hf.py" "$2.hf" "$H" "$L" "$V"
  "$BIN/g2convert" "$2.hf" "$2" --tp 8 --layout tp --threads "$THREADS" >/dev/null 2>&1
  rm -rf "$2.hf"
}

# --- main size: cp, reshard, FP8, Python, layer forward
make_tp8 "$GB" "$W/tp8"
S=$(dir_bytes "$W/tp8")
# REPS rounds, each cp then the conversions, so every ratio compares commands run under the same
# conditions; collect.py reports each label's median round (the disk and the load both vary).
for rep in $(seq "$REPS"); do
  log "round $rep of $REPS"
  measure cp "$S" sh -c "cp -r '$W/tp8' '$W/cp' && sync"
  rm -rf "$W/cp"
  measure reshard "$S" "$BIN/g2convert" "$W/tp8" "$W/tp4" --tp 4 --threads "$THREADS"
  rm -rf "$W/tp4"
  measure fp8_block "$S" "$BIN/g2convert" "$W/tp8" "$W/fp8" --tp 8 --dtype fp8 --fp8-scale block --fp8-block 128 --threads "$THREADS"
  rm -rf "$W/fp8"
  if [ -n "$PY" ]; then
    measure python_reshard "$S" "$PY" "$ROOT/bench/python_reshard.py" "$W/tp8" "$W/py4" 4
    rm -rf "$W/py4"
  fi
done
log "layer forward (CPU) for 1, 8, 128 tokens"
# The runtime's default (each weight's pages dropped after use, faulted back by the next rep),
# then the steady state with the pages kept mapped (bench_layer --keep-mapped).
"$BIN/bench_layer" "$W/tp8" "" 1 8 128 >"$W/layer.jsonl"
"$BIN/bench_layer" --keep-mapped "$W/tp8" "" 1 8 128 >>"$W/layer.jsonl"

# --- Grok-1 JAX int8 -> Grok-2 BF16 upgrade (configs/bench-grok1.json)
log "synthesise a Grok-1 JAX set ($(basename "$G1_CONFIG"))"
"$BIN/g2synth" --config "$G1_CONFIG" --format grok1-jax --out "$W/g1" >/dev/null
G1=$(dir_bytes "$W/g1")
for rep in $(seq "$REPS"); do
  rm -rf "$W/g1up"
  measure upgrade "$G1" "$BIN/g2convert" "$W/g1" "$W/g1up" --to grok2 --tp 8 --threads "$THREADS"
done
G1OUT=$(dir_bytes "$W/g1up")
rm -rf "$W/g1" "$W/g1up"
rm -rf "$W/tp8"

# --- second size: peak RSS of the same reshard
if [ "$GB_LARGE" != 0 ]; then
  make_tp8 "$GB_LARGE" "$W/tp8L"
  SL=$(dir_bytes "$W/tp8L")
  measure reshard_large "$SL" "$BIN/g2convert" "$W/tp8L" "$W/tp4L" --tp 4 --threads "$THREADS"
  rm -rf "$W/tp8L" "$W/tp4L"
fi

# --- codec microbenchmarks (Google Benchmark, GB/s)
if [ -z "${BENCH_SKIP_MICRO:-}" ]; then
  log "codec microbenchmarks"
  for b in bench_codecs bench_quant; do
    "$BIN/$b" --benchmark_format=json >"$W/$b.json"
  done
fi

python3 "$ROOT/bench/collect.py" "$RES" "$W/layer.jsonl" "$W/bench_codecs.json,$W/bench_quant.json" "$G1OUT" "$THREADS" "$W" >"$OUT"
python3 "$ROOT/bench/report.py" --text "$OUT"
log "results: $OUT (BENCHMARKS.md: python3 bench/report.py --markdown $OUT)"
