#!/usr/bin/env bash
# The g2diff gate catches deliberately broken conversions: each must exit 1 and name the
# first failing layer (the corrupted one).
set -euo pipefail
source "${G2_SOURCE_DIR:?G2_SOURCE_DIR is not set}/tests/cli/diff_lib.bash"
synth tp8 tp 8
expect_rc 0 "$G2DIFF" "$WORK/tp8" --record "$WORK/a.safetensors" -q

broken() {  # broken NAME: a fresh copy of the good set to break
  rm -rf "$WORK/$1"
  cp -r "$WORK/tp8" "$WORK/$1"
}
check() {  # check NAME LAYER TENSOR: g2diff must fail first at LAYER, tensor layers.LAYER.TENSOR
  expect_rc 1 "$G2DIFF" "$WORK/tp8" "$WORK/$1" -q --json "$WORK/$1.json"
  local got
  got=$(json_get "$WORK/$1.json" first_failing_layer)
  if [ "$got" != "$2" ]; then
    echo "FAIL: $1: first failing layer $got, expected $2" >&2
    exit 1
  fi
  got=$(json_get "$WORK/$1.json" first_failing_tensor)
  if [ "$got" != "layers.$2.$3" ]; then
    echo "FAIL: $1: first failing tensor $got, expected layers.$2.$3" >&2
    exit 1
  fi
  grep -q "first failing layer $2" "$WORK/out.txt"
  echo "caught: $1 at layer $2"
}

# 1. one rank's slice of a routed expert of layer 1 has its sign flipped
E=$($CORRUPT used-expert "$WORK/a.safetensors" 1)
broken expert_slice
$CORRUPT negate-rows "$WORK/expert_slice" "model.layers.1.block_sparse_moe.experts.$E.w1.weight" 0 8 --file-match TP-003
check expert_slice 1 residual

# 2. two KV heads swapped in layer 1's k_proj (head_dim 8: rows 0-7 <-> 8-15)
broken kv_swap
$CORRUPT swap-rows "$WORK/kv_swap" model.layers.1.self_attn.k_proj.weight 0 8 8
check kv_swap 1 attn_residual

# 3. a config that loses the residual MoE's dense branch and its /sqrt(2): every layer
broken no_rmoe
$CORRUPT config "$WORK/no_rmoe" residual_moe false
check no_rmoe 0 residual

# 4. one square weight written transposed (layer 1 q_proj, 512 x 512)
broken transposed
$CORRUPT transpose "$WORK/transposed" model.layers.1.self_attn.q_proj.weight
check transposed 1 attn_residual
# 5. one FP8 block scale of layer 1's q_proj doubled (32x32 blocks): caught exactly by
#    --fp8-exact (the bounded fp8 preset alone cannot see one block of 256)
"$G2_BIN_DIR/g2convert" "$WORK/tp8" "$WORK/fp8" --layout tp --dtype fp8 --fp8-block 32 >/dev/null
expect_rc 0 "$G2DIFF" "$WORK/tp8" "$WORK/fp8" -q --fp8-exact
rm -rf "$WORK/fp8_block"
cp -r "$WORK/fp8" "$WORK/fp8_block"
$CORRUPT scale-elem "$WORK/fp8_block" model.layers.1.self_attn.q_proj.weight_scale_inv 5 2.0
expect_rc 1 "$G2DIFF" "$WORK/tp8" "$WORK/fp8_block" -q --fp8-exact --json "$WORK/fp8_block.json"
[ "$(json_get "$WORK/fp8_block.json" first_failing_layer)" = 1 ]
[ "$(json_get "$WORK/fp8_block.json" first_failing_tensor)" = layers.1.attn_residual ]
echo "caught: fp8_block at layer 1"
echo "diff_broken: ok"
