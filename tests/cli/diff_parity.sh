#!/usr/bin/env bash
# g2diff on reshards of one model: same dtype => exact parity merged, f32-order parity
# rank by rank; record / reference round trip (.zst); reports; usage errors exit 2.
set -euo pipefail
source "${G2_SOURCE_DIR:?G2_SOURCE_DIR is not set}/tests/cli/diff_lib.bash"
synth hf hf
synth tp8 tp 8
synth tp4 tp 4

expect_rc 0 "$G2DIFF" "$WORK/hf" "$WORK/tp8" -q --json "$WORK/r.json" --junit "$WORK/r.xml"
grep -q "tolerance exact" "$WORK/out.txt"
[ "$(json_get "$WORK/r.json" pass)" = "True" ]
grep -q '<testsuite name="g2diff" tests="3" failures="0"' "$WORK/r.xml"
expect_rc 0 "$G2DIFF" "$WORK/tp8" "$WORK/tp4" -q
expect_rc 0 "$G2DIFF" "$WORK/hf" "$WORK/tp8" --tp-exec -q
grep -q "tolerance f32" "$WORK/out.txt"
expect_rc 0 "$G2DIFF" "$WORK/hf" "$WORK/tp4" --tp-exec -q --layers 1
expect_rc 0 "$G2DIFF" "$WORK/hf" "$WORK/tp8" -q --mode reference --tokens 5,17,300,42,9,1000,7,3
# the older dequantized-copy path agrees with the fused one within f32 summation order
expect_rc 0 "$G2DIFF" "$WORK/hf" --record "$WORK/fused.safetensors" -q
expect_rc 0 "$G2DIFF" "$WORK/tp8" --reference "$WORK/fused.safetensors" --tolerance f32 --dequantized-weights -q

# FP8 conversions: bounded against the BF16 source, exact against its FP8 round trip
for scale in "block --fp8-block 32" tensor channel; do
  rm -rf "$WORK/fp8"
  "$G2_BIN_DIR/g2convert" "$WORK/tp8" "$WORK/fp8" --layout tp --dtype fp8 --fp8-scale $scale >/dev/null
  expect_rc 0 "$G2DIFF" "$WORK/tp8" "$WORK/fp8" -q
  grep -q "tolerance fp8" "$WORK/out.txt"
  expect_rc 0 "$G2DIFF" "$WORK/tp8" "$WORK/fp8" -q --fp8-exact
  grep -q "tolerance exact" "$WORK/out.txt"
done
# TP16 fully presharded (KV heads replicated), executed rank by rank
"$G2_BIN_DIR/g2convert" "$WORK/tp8" "$WORK/r16" --tp 16 --layout rank >/dev/null
expect_rc 0 "$G2DIFF" "$WORK/tp8" "$WORK/r16" -q
expect_rc 0 "$G2DIFF" "$WORK/tp8" "$WORK/r16" -q --tp-exec

# Grok-1 int8 -> Grok-2 bf16 upgrade
G1CFG="$G2_SOURCE_DIR/configs/grok-1-tiny.json"
"$G2_BIN_DIR/g2synth" --config "$G1CFG" --format grok1-jax --seed 0 --out "$WORK/g1" >/dev/null
"$G2_BIN_DIR/g2convert" "$WORK/g1" "$WORK/g1up" --to grok2 --config "$G1CFG" --tp 8 >/dev/null 2>&1
expect_rc 0 "$G2DIFF" "$WORK/g1" "$WORK/g1up" --config "$G1CFG" -q
grep -q "tolerance int8" "$WORK/out.txt"
expect_rc 0 "$G2DIFF" "$WORK/g1" "$WORK/g1up" --config "$G1CFG" -q --mode reference
# --fp8-exact against a Grok-1 A cannot be exact (the upgrade casts the embedding): refused
"$G2_BIN_DIR/g2convert" "$WORK/g1" "$WORK/g1fp8" --to grok2 --config "$G1CFG" --tp 8 --dtype fp8 --fp8-block 8 >/dev/null 2>&1
expect_rc 2 "$G2DIFF" "$WORK/g1" "$WORK/g1fp8" --config "$G1CFG" -q --fp8-exact
grep -q "is a Grok-1 checkpoint" "$WORK/out.txt"

# record, then verify the other layout against the recording (exact: same machine, same math)
expect_rc 0 "$G2DIFF" "$WORK/hf" --record "$WORK/acts.safetensors.zst" -q
expect_rc 0 "$G2DIFF" "$WORK/tp4" --reference "$WORK/acts.safetensors.zst" --tolerance exact -q

# usage and input errors
expect_rc 2 "$G2DIFF" "$WORK/hf"
expect_rc 2 "$G2DIFF" "$WORK/hf" "$WORK/nope" -q
expect_rc 2 "$G2DIFF" "$WORK/hf" "$WORK/tp8" --atol 1 -q
expect_rc 2 "$G2DIFF" "$WORK/hf" "$WORK/tp8" --layers 5 -q
expect_rc 2 "$G2DIFF" "$WORK/hf" "$WORK/tp8" --tokens 1,x -q
expect_rc 2 "$G2DIFF" "$WORK/hf" "$WORK/hf" --tp-exec -q
expect_rc 2 "$G2DIFF" "$WORK/hf" --record "$WORK/x.safetensors" --tp-exec -q
expect_rc 2 "$G2DIFF" "$WORK/tp4" --reference "$WORK/acts.safetensors.zst" --tokens 1,2 -q
echo "diff_parity: ok"
