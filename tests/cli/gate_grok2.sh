#!/usr/bin/env bash
# CI regression gate, Grok-2 part: the golden Grok-2 tiny TP8 set (g2synth, digest-checked)
# converted to every target of tests/cli/gate_targets.bash ({TP1 hf, TP2/TP4/TP16 rank, TP4/TP8
# tp} x {keep, fp8 tensor, fp8 block 8}). Each
# result must (1) pass g2diff against the source with the conversion's preset (same dtype:
# exact; FP8: the fp8 bound, and exact against the converter's FP8 round trip), (2) pass g2diff against the golden NumPy activations, and for
# same-dtype reshards (3) keep the layout-independent model digest of the source.
source "$G2_SOURCE_DIR/tests/cli/gate_lib.bash"
source "$G2_SOURCE_DIR/tests/cli/gate_targets.bash"
G2GOLD="$GOLDEN/grok2-tiny.numpy.safetensors.zst"
synth_golden grok2-tiny "$WORK/src"
SRC_DIGEST=$(model_digest "$WORK/src")
# the source itself against the independent reference, merged and rank by rank as served
check "tp8 source vs golden (f32)" 0 "$WORK/src" --reference "$G2GOLD" --tolerance f32
check "tp8 source vs golden (f32, rank by rank)" 0 "$WORK/src" --tp-exec --reference "$G2GOLD" --tolerance f32

one() {  # one TP LAYOUT DTYPE
  local tp=$1 layout=$2 dt=$3 out="$WORK/tp$1-$2-$3" args
  read -ra args <<<"$(gate_dtype_args "$dt")"
  local name="tp$tp $layout $dt"
  step "convert $name" "$CONV" "$WORK/src" "$out" --tp "$tp" --layout "$layout" "${args[@]}" || return 0
  if [ "$dt" = keep ]; then
    local d
    d=$(model_digest "$out")
    if [ "$d" = "$SRC_DIGEST" ]; then echo "ok   $name: model digest unchanged" >"$WORK/status/digest-$tp-$layout.ok"
    else echo "FAIL $name: model digest $d, source $SRC_DIGEST" >"$WORK/status/digest-$tp-$layout.fail"; fi
    check "$name vs source (exact)" 0 "$WORK/src" "$out"
    check "$name vs golden (f32)" 0 "$out" --reference "$G2GOLD" --tolerance f32
    # rank-by-rank execution as the set will be served (not for hf: it has no ranks)
    [ "$layout" = hf ] || check "$name vs source (rank by rank)" 0 "$WORK/src" "$out" --tp-exec
  else
    check "$name vs source (fp8 preset)" 0 "$WORK/src" "$out"
    # bit-exact against the source pushed through the converter's own FP8 round trip
    check "$name vs source (--fp8-exact)" 0 "$WORK/src" "$out" --fp8-exact
    check "$name vs golden (fp8 preset)" 0 "$out" --reference "$G2GOLD" --tolerance fp8
    [ "$layout" = hf ] || check "$name vs source (--fp8-exact, rank by rank)" 0 "$WORK/src" "$out" --fp8-exact \
      --tp-exec --tolerance f32
  fi
}
for target in "${GROK2_GATE_TARGETS[@]}"; do
  for dt in "${GROK2_GATE_DTYPES[@]}"; do
    # shellcheck disable=SC2086
    spawn one $target $dt
  done
done
finish gate_grok2
