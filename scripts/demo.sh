#!/usr/bin/env bash
# `make demo`: the main job of g2kit on the golden Grok-1 tiny checkpoint.
#   1. synthesize it (g2synth; reused when it is already there with the recorded digest)
#   2. upgrade it to the Grok-2 layout at TP8 in FP8 (g2convert --to grok2)
#   3. show what was written (g2inspect)
#   4. prove the conversion computes the same model, layer by layer (g2diff), merged and
#      rank by rank as a TP8 server would run it, and against the public JAX reference.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$SRC" && cd "${1:-build}" && pwd)   # absolute or relative to the repository
BIN=$BUILD/bin
W=$BUILD/demo
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
GOLDEN=$SRC/testdata/golden
row=$(grep -E '^\| *grok1-tiny *\|' "$GOLDEN/README.md" | head -1)
read -r _ CFG FMT _ SEED DIGEST <<<"$(echo "$row" | awk -F'|' '{for (i = 2; i <= 7; i++) { gsub(/[ `]/, "", $i); printf "%s ", $i } print ""}')"

B='' N=''
if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; fi  # bold titles on a terminal only
title() { printf '\n%s== %s%s\n$ %s\n' "$B" "$1" "$N" "$2"; }
digest() { "$BIN/g2inspect" "$1" --digests | awk '/^model xxh3_128/ {print $3}'; }
t0=$(date +%s)

title "1. Grok-1 tiny checkpoint (JAX pickles, int8 weights)" \
  "g2synth --config $CFG --format $FMT --seed $SEED --out $W/grok1-tiny"
if [ -d "$W/grok1-tiny/ckpt-0" ] && [ "$(digest "$W/grok1-tiny")" = "$DIGEST" ]; then
  echo "reusing $W/grok1-tiny (model digest $DIGEST)"
else
  "$BIN/g2synth" --config "$SRC/$CFG" --format "$FMT" --seed "$SEED" --out "$W/grok1-tiny" --force
  echo "model digest $(digest "$W/grok1-tiny") (testdata/golden/README.md records $DIGEST)"
fi

title "2. Upgrade to the Grok-2 layout, TP8, FP8 (128x128 block scales by default; 8x8 here for a tiny model)" \
  "g2convert $W/grok1-tiny $W/grok2-fp8-tp8 --to grok2 --dtype fp8 --fp8-block 8 --tp 8 --layout tp"
rm -rf "$W/grok2-fp8-tp8"
# per-file progress lines filtered out; the summary and the quantisation report stay
"$BIN/g2convert" "$W/grok1-tiny" "$W/grok2-fp8-tp8" --to grok2 --dtype fp8 --fp8-block 8 --tp 8 --layout tp \
  2>&1 | grep -v '^g2convert: \[[0-9]*/'

title "3. What was written" "g2inspect $W/grok2-fp8-tp8"
# the header, a few tensor rows, the totals (the full table lists all 125 tensors)
"$BIN/g2inspect" "$W/grok2-fp8-tp8" | awk '
  /^name / { table = 1; print; next }
  table && /^$/ { printf "  ... (%d more tensors)\n", n - 6; table = 0 }
  table { if (++n <= 6) print; next }
  { print }'
ls "$W/grok2-fp8-tp8" | sed -n '1p;2p;3p;$p' | sed '3a\  ...'

echo "integrity (g2convert's manifest, every tensor read, no NaN/Inf):"
"$BIN/g2inspect" "$W/grok2-fp8-tp8" --verify | tail -1

title "4. Parity: the FP8 Grok-2 set against the int8 Grok-1 source, layer by layer" \
  "g2diff $W/grok1-tiny $W/grok2-fp8-tp8"
rc=0
"$BIN/g2diff" -q "$W/grok1-tiny" "$W/grok2-fp8-tp8" || rc=$?

title "5. ... executed rank by rank, as 8 GPUs would serve it (all-reduces in a fixed order)" \
  "g2diff $W/grok1-tiny $W/grok2-fp8-tp8 --tp-exec"
"$BIN/g2diff" -q "$W/grok1-tiny" "$W/grok2-fp8-tp8" --tp-exec || rc=$?

title "6. The source against the public xai-org/grok-1 JAX reference (bf16 reference precision)" \
  "OPENBLAS_CORETYPE=Haswell g2diff $W/grok1-tiny --mode reference --reference testdata/golden/grok1-tiny.jax.safetensors.zst"
# OpenBLAS's Haswell kernel sums in the order of XLA's CPU dots that made the golden data; its
# AVX-512 kernels do not (libmodel/README.md, "Precision modes"), so the kernel is pinned here.
OPENBLAS_CORETYPE=Haswell "$BIN/g2diff" -q "$W/grok1-tiny" --mode reference --reference "$GOLDEN/grok1-tiny.jax.safetensors.zst" || rc=$?

echo
if [ "$rc" = 0 ]; then
  echo "demo: parity holds at every layer ($(($(date +%s) - t0)) s). Files: $W"
else
  echo "demo: PARITY FAILED (g2diff exit $rc)"
fi
exit "$rc"
