#!/usr/bin/env bash
# The CI regression gate (issue 6): a conversion matrix on the tiny checkpoints, each result
# diffed with g2diff against its source and against the golden reference activations.
set -euo pipefail
source "${G2_SOURCE_DIR:?G2_SOURCE_DIR is not set}/tests/cli/diff_lib.bash"
G="$G2_SOURCE_DIR/testdata/golden"
CONVERT="$G2_BIN_DIR/g2convert"
start=$(date +%s)
# the golden Grok-2 checkpoint is g2synth's (testdata/golden/README.md: seed 2)
"$G2_BIN_DIR/g2synth" --config "$CFG" --format grok2-tp --tp 8 --seed 2 --out "$WORK/tp8" >/dev/null

# Grok-2 tiny TP8 -> {TP1 hf, TP2 rank, TP4 tp, TP16 rank} x {keep, fp8 tensor, fp8 block 8x8 (tp16 rank shards of k/v are 8 rows)}
for target in "1 hf" "2 rank" "4 tp" "16 rank"; do
  set -- $target
  tp=$1 layout=$2
  for dt in keep tensor block; do
    out="$WORK/m_${tp}_${layout}_${dt}"
    case $dt in
      keep) "$CONVERT" "$WORK/tp8" "$out" --tp "$tp" --layout "$layout" >/dev/null 2>&1 ;;
      tensor) "$CONVERT" "$WORK/tp8" "$out" --tp "$tp" --layout "$layout" --dtype fp8 --fp8-scale tensor >/dev/null 2>&1 ;;
      block) "$CONVERT" "$WORK/tp8" "$out" --tp "$tp" --layout "$layout" --dtype fp8 --fp8-block 8 >/dev/null 2>&1 ;;
    esac
    echo "== tp $tp $layout $dt"
    if [ "$dt" = keep ]; then
      expect_rc 0 "$G2DIFF" "$WORK/tp8" "$out" -q                       # exact
      expect_rc 0 "$G2DIFF" "$out" --reference "$G/grok2-tiny.numpy.safetensors.zst" --tolerance f32 -q
    else
      expect_rc 0 "$G2DIFF" "$WORK/tp8" "$out" -q --fp8-exact          # exact vs the FP8 round trip
      expect_rc 0 "$G2DIFF" "$out" --reference "$G/grok2-tiny.numpy.safetensors.zst" --tolerance fp8 -q
    fi
    if [ "$tp" -gt 1 ] && [ "$dt" = keep ]; then   # rank by rank, as served
      expect_rc 0 "$G2DIFF" "$WORK/tp8" "$out" -q --tp-exec
    elif [ "$tp" -gt 1 ]; then
      expect_rc 0 "$G2DIFF" "$WORK/tp8" "$out" -q --tp-exec --fp8-exact --tolerance f32
    fi
    rm -rf "$out"
  done
done

# Grok-1 tiny -> Grok-2 bf16 / fp8, against the source and the JAX golden activations
G1CFG="$G2_SOURCE_DIR/configs/grok-1-tiny.json"
"$G2_BIN_DIR/g2synth" --config "$G1CFG" --format grok1-jax --seed 1 --out "$WORK/g1" >/dev/null
"$CONVERT" "$WORK/g1" "$WORK/g1_bf16" --to grok2 --config "$G1CFG" --tp 8 >/dev/null 2>&1
"$CONVERT" "$WORK/g1" "$WORK/g1_fp8" --to grok2 --config "$G1CFG" --tp 8 --dtype fp8 --fp8-block 32 >/dev/null 2>&1
expect_rc 0 "$G2DIFF" "$WORK/g1" "$WORK/g1_bf16" --config "$G1CFG" -q
expect_rc 0 "$G2DIFF" "$WORK/g1" "$WORK/g1_fp8" --config "$G1CFG" -q
expect_rc 0 "$G2DIFF" "$WORK/g1_bf16" "$WORK/g1_fp8" -q --fp8-exact
expect_rc 0 "$G2DIFF" "$WORK/g1_bf16" --mode reference --reference "$G/grok1-tiny.jax.safetensors.zst" --tolerance bf16 -q
expect_rc 0 "$G2DIFF" "$WORK/g1_fp8" --mode reference --reference "$G/grok1-tiny.jax.safetensors.zst" --tolerance fp8 -q

# vocab pad -> trim round trip is byte-for-byte the same model
"$CONVERT" "$WORK/tp8" "$WORK/pad" --vocab 1088 >/dev/null 2>&1
"$CONVERT" "$WORK/pad" "$WORK/trim" --vocab 1024 --force >/dev/null 2>&1
expect_rc 0 "$G2DIFF" "$WORK/tp8" "$WORK/trim" -q --tolerance exact
echo "diff_matrix: ok in $(( $(date +%s) - start )) s"
