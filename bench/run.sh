#!/usr/bin/env bash
# `make bench`: every benchmark figure in one run, each printed against its target, and a
# machine-readable results JSON (BENCH_OUT, default build/bench-release/results.json); bench/report.py
# turns that JSON into BENCHMARKS.md's tables.
#
# Two parts. The small sets (hidden 4096, BENCH_GB / BENCH_GB_LARGE GiB) and the real geometry:
# one layer of configs/grok-2.json (release-style TP8, ~11.8 GB BF16) and one of
# configs/grok-1.json (JAX int8, ~7.6 GB), made by g2synth, timed against `cp -r` + `sync` of
# the same bytes, the Python peers (numpy, and torch from the SGLang venv) and, for Grok-2, the
# forward of that layer at 1032 tokens (g2diff's default prompt) against OpenBLAS sgemm.
# The real geometry needs ~36 GiB free in BENCH_DIR (a set, one output and its copy at a time) plus
# ~6 GiB for the torch venv, and about 25 minutes on an idle 2-core machine.
#
# Environment: BENCH_SMALL=0 skips the small sets, BENCH_REAL=0 the real geometry,
# BENCH_REAL_G2=0 / BENCH_REAL_G1=0 one of its two models, BENCH_REAL_REPS (default 3: rounds
# of each real-geometry timing, median reported), BENCH_SKIP_TORCH=1 the torch peer,
# BENCH_SKIP_FORWARD=1 the 1032-token forward; BENCH_TORCH_BUILD (default build: where
# scripts/setup-sglang-venv.sh keeps the torch venv, shared with make test); BENCH_REAL_G2_CONFIG / BENCH_REAL_G1_CONFIG
# replace configs/grok-2.json / grok-1.json (a tiny config tries the plumbing in a minute; its
# digests then differ from the recorded ones). BENCH_GB (default 2: the main set, GiB, rounded up to whole layers),
# BENCH_GB_LARGE (default 6: the second size for the peak-RSS comparison; 0 skips it),
# BENCH_HIDDEN (default 4096), BENCH_G1_CONFIG (default configs/bench-grok1.json),
# BENCH_THREADS (default nproc), BENCH_REPS (default 3: rounds of the main-size timings, median
# reported), BENCH_DIR (scratch, default build/bench-release/work; needs about
# 3x BENCH_GB_LARGE free), BENCH_BUILD (default build/bench-release), BENCH_SKIP_PY=1 skips the Python
# baseline, BENCH_SKIP_MICRO=1 the Google Benchmark codecs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# Not build/bench: that is the main build's binary folder for bench/ (bench_layer_gpu, when CUDA
# is found), and each regeneration of the main build rewrote its Makefile over this build's.
B=${BENCH_BUILD:-$ROOT/build/bench-release}
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
cmake --build "$B" -j "$(nproc)" --target g2convert g2synth g2diff bench_codecs bench_quant bench_layer bench_sgemm >/dev/null
BIN=$B/bin
PY=""
if [ -z "${BENCH_SKIP_PY:-}" ]; then PY=$(bash "$ROOT/scripts/setup-python.sh" "$B" | tail -1); fi

layers_for() {  # GiB -> whole layers of convert_synth_hf.py's set: 2 bytes x (32 H^2 + 2048 H) per
  # layer (q, o H^2; k, v 1024 H; dense FFN 6 H^2; 8 experts 24 H^2) + embedding and lm_head
  python3 -c "import math; print(max(1, math.ceil(($1 * 2**30 - 4 * $V * $H) / (2 * (32 * $H**2 + 2048 * $H)))))"
}
SMALL=${BENCH_SMALL:-1}; REAL=${BENCH_REAL:-1}
REAL_G2=$([ "$REAL" != 0 ] && echo "${BENCH_REAL_G2:-1}" || echo 0)
REAL_G1=$([ "$REAL" != 0 ] && echo "${BENCH_REAL_G1:-1}" || echo 0)
REAL_REPS=${BENCH_REAL_REPS:-3}
rm -rf "$W"; mkdir -p "$W"
RES=$W/results.tsv; : >"$RES"
REAL_JSON=$W/real.json; echo '{}' >"$REAL_JSON"
avail_gb() { df -P "$W" | awk 'NR==2 {print int($4 / 1048576)}'; }
need=$(python3 -c "import math; print(max(math.ceil(max($GB, $GB_LARGE) * 3 + 2) * ($SMALL != 0), 36 if $REAL_G1 != 0 else 26 * ($REAL_G2 != 0)))")
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

# real_json KEY VALUE_JSON: one entry of $W/real.json (collect.py reads it)
real_json() { python3 - "$REAL_JSON" "$1" "$2" <<'PY'
import json, sys
p, k, v = sys.argv[1:4]
d = json.load(open(p)); d[k] = json.loads(v); json.dump(d, open(p, "w"), indent=1)
PY
}
# digests LABEL DIR: the XXH3-128 of every tensor file g2convert wrote (its manifest), kept so
# collect.py can compare them with the ones main recorded (bench/results/real-digests.json)
digests() { real_json "digests_$1" "$(python3 -c "import json, sys; m = json.load(open(sys.argv[1])); print(json.dumps({f['path']: f['xxh3_128'] for f in m['files'] if f['path'].endswith('.safetensors')}))" "$2/g2manifest.json")"; }

if [ "$SMALL" != 0 ]; then
# --- main size: cp, reshard, FP8, Python, layer forward
make_tp8 "$GB" "$W/tp8"
S=$(dir_bytes "$W/tp8")
# REPS rounds, each cp then the conversions, so every ratio compares commands run under the same
# conditions; collect.py reports each label's median round (the disk and the load both vary).
for rep in $(seq "$REPS"); do
  log "round $rep of $REPS"
  measure cp "$S" sh -c "cp -r '$W/tp8' '$W/cp' && sync"
  rm -rf "$W/cp"
  measure reshard "$S" "$BIN/g2convert" "$W/tp8" "$W/tp4" --tp 4 --layout tp --threads "$THREADS"
  rm -rf "$W/tp4"
  measure fp8_block "$S" "$BIN/g2convert" "$W/tp8" "$W/fp8" --tp 8 --layout tp --dtype fp8 --fp8-scale block --fp8-block 128 --threads "$THREADS"
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
  measure upgrade "$G1" "$BIN/g2convert" "$W/g1" "$W/g1up" --to grok2 --tp 8 --layout tp --threads "$THREADS"
done
G1OUT=$(dir_bytes "$W/g1up")
rm -rf "$W/g1" "$W/g1up"
rm -rf "$W/tp8"

# --- second size: peak RSS of the same reshard
if [ "$GB_LARGE" != 0 ]; then
  make_tp8 "$GB_LARGE" "$W/tp8L"
  SL=$(dir_bytes "$W/tp8L")
  measure reshard_large "$SL" "$BIN/g2convert" "$W/tp8L" "$W/tp4L" --tp 4 --layout tp --threads "$THREADS"
  rm -rf "$W/tp8L" "$W/tp4L"
fi

fi  # SMALL

# --- real geometry: one layer of configs/grok-2.json and of configs/grok-1.json
TORCH_PY=""
if [ "$REAL" != 0 ] && [ -z "${BENCH_SKIP_TORCH:-}" ]; then
  # the SGLang loader tests' venv (make test's build/venv-sglang), made once: ~6 GiB
  TV=${BENCH_TORCH_BUILD:-$ROOT/build}
  if [ -f "$ROOT/scripts/setup-sglang-venv.sh" ]; then
    log "torch venv (scripts/setup-sglang-venv.sh $TV)"
    TORCH_PY=$(bash "$ROOT/scripts/setup-sglang-venv.sh" "$TV" | tail -1) || TORCH_PY=""
  fi
  [ -n "$TORCH_PY" ] || log "no torch venv: the torch peer rows are skipped"
fi
one_layer() {  # CONFIG OUT: the config with num_hidden_layers 1
  python3 -c "import json, sys; c = json.load(open(sys.argv[1])); c['num_hidden_layers'] = 1; json.dump(c, open(sys.argv[2], 'w'), indent=2)" "$1" "$2"
}
if [ "$REAL_G2" != 0 ]; then
  one_layer "${BENCH_REAL_G2_CONFIG:-$ROOT/configs/grok-2.json}" "$W/grok-2-L1.json"
  log "synthesise one layer of configs/grok-2.json, TP8 release style"
  measure real_synth_g2 0 "$BIN/g2synth" --config "$W/grok-2-L1.json" --format grok2-tp --tp 8 --seed 0 --out "$W/r2"
  S2=$(dir_bytes "$W/r2")  # (collect.py gives the synth rows the bytes of their set's cp)
  for rep in $(seq "$REAL_REPS"); do
    log "real geometry (Grok-2 layer) round $rep of $REAL_REPS"
    measure real_cp "$S2" sh -c "cp -r '$W/r2' '$W/cp' && sync"
    rm -rf "$W/cp"
    measure real_reshard "$S2" "$BIN/g2convert" "$W/r2" "$W/r2tp4" --tp 4 --layout tp --threads "$THREADS"
    [ "$rep" = 1 ] && digests real_reshard "$W/r2tp4"
    rm -rf "$W/r2tp4"
    measure real_fp8_block "$S2" "$BIN/g2convert" "$W/r2" "$W/r2fp8" --tp 8 --layout tp --dtype fp8 --fp8-scale block --fp8-block 128 --threads "$THREADS"
    [ "$rep" = 1 ] && digests real_fp8_block "$W/r2fp8"
    rm -rf "$W/r2fp8"
    if [ -n "$PY" ]; then
      measure real_numpy_reshard "$S2" "$PY" "$ROOT/bench/python_reshard.py" "$W/r2" "$W/py4" 4
      rm -rf "$W/py4"
    fi
    if [ -n "$TORCH_PY" ]; then
      measure real_torch_reshard "$S2" "$TORCH_PY" "$ROOT/bench/torch_peer.py" reshard "$W/r2" "$W/pt4" 4
      rm -rf "$W/pt4"
      measure real_torch_fp8_block "$S2" "$TORCH_PY" "$ROOT/bench/torch_peer.py" fp8 "$W/r2" "$W/pt8" 128
      rm -rf "$W/pt8"
    fi
  done
  if [ -z "${BENCH_SKIP_FORWARD:-}" ]; then
    log "forward of the Grok-2 layer at g2diff's default prompt, and OpenBLAS sgemm"
    "$BIN/bench_sgemm" >"$W/sgemm.json"
    # g2diff prints each layer's time ("layer 1/1: X ms", embedding + the layer, logits apart)
    measure real_forward 0 "$BIN/g2diff" "$W/r2" --record "$W/acts.safetensors"
    ms=$(sed -n 's/.*layer 1\/1: \([0-9.]*\) ms.*/\1/p' "$W/time.real_forward" | tail -1)
    real_json forward "{\"layer_seconds\": $(python3 -c "print(${ms:-0} / 1000)"), \"config\": $(cat "$W/grok-2-L1.json"), \"sgemm\": $(cat "$W/sgemm.json"), \"tokens\": $(python3 -c "import json; c = json.load(open('$W/grok-2-L1.json')); print(max(16, c.get('attn_temperature_len', 0) + 8))")}"
    rm -f "$W/acts.safetensors"
  fi
  rm -rf "$W/r2"
fi
if [ "$REAL_G1" != 0 ]; then
  one_layer "${BENCH_REAL_G1_CONFIG:-$ROOT/configs/grok-1.json}" "$W/grok-1-L1.json"
  log "synthesise one layer of configs/grok-1.json, JAX int8"
  measure real_synth_g1 0 "$BIN/g2synth" --config "$W/grok-1-L1.json" --format grok1-jax --seed 0 --out "$W/r1"
  S1=$(dir_bytes "$W/r1")
  for rep in $(seq "$REAL_REPS"); do
    log "real geometry (Grok-1 layer) round $rep of $REAL_REPS"
    measure real_g1_cp "$S1" sh -c "cp -r '$W/r1' '$W/cp' && sync"
    rm -rf "$W/cp"
    measure real_upgrade "$S1" "$BIN/g2convert" "$W/r1" "$W/r1up" --to grok2 --tp 8 --layout rank --threads "$THREADS"
    [ "$rep" = 1 ] && { digests real_upgrade "$W/r1up"; real_json upgrade_out_bytes "$(dir_bytes "$W/r1up")"; }
    # and a measured cp of the upgrade's own output, beside the source's cp scaled by bytes: write
    # throughput here is not linear in the bytes written (bench/NOTES.md "Not met")
    measure real_g1_out_cp "$(dir_bytes "$W/r1up")" sh -c "cp -r '$W/r1up' '$W/cp' && sync"
    rm -rf "$W/cp" "$W/r1up"
  done
  rm -rf "$W/r1"
fi

# --- codec microbenchmarks (Google Benchmark, GB/s)
if [ -z "${BENCH_SKIP_MICRO:-}" ]; then
  log "codec microbenchmarks"
  for b in bench_codecs bench_quant; do
    "$BIN/$b" --benchmark_format=json >"$W/$b.json"
  done
fi

python3 "$ROOT/bench/collect.py" "$RES" "$W/layer.jsonl" "$W/bench_codecs.json,$W/bench_quant.json" "${G1OUT:-0}" "$THREADS" "$W" \
  "$REAL_JSON" "$ROOT/bench/results/real-digests.json" >"$OUT"
python3 "$ROOT/bench/report.py" --text "$OUT"
log "results: $OUT (BENCHMARKS.md: python3 bench/report.py --markdown $OUT)"
