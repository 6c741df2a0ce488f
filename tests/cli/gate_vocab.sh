#!/usr/bin/env bash
# CI regression gate, vocabulary part: Grok-2 tiny TP8 -> pad the vocabulary (zero rows, TP2
# rank) -> trim back (TP8 tp, FP8 too): the trimmed set has the source's model digest and
# passes g2diff against the source and the golden activations.
source "$G2_SOURCE_DIR/tests/cli/gate_lib.bash"
G2GOLD="$GOLDEN/grok2-tiny.numpy.safetensors.zst"
synth_golden grok2-tiny "$WORK/src"
SRC_DIGEST=$(model_digest "$WORK/src")

step "pad 1024 -> 1280 (tp2 rank)" "$CONV" "$WORK/src" "$WORK/pad" --tp 2 --layout rank --vocab 1280 || finish gate_vocab
step "trim 1280 -> 1024 (tp8 tp)" "$CONV" "$WORK/pad" "$WORK/trim" --tp 8 --layout tp --vocab 1024 --force || finish gate_vocab
d=$(model_digest "$WORK/trim")
if [ "$d" = "$SRC_DIGEST" ]; then echo "ok   pad -> trim: model digest unchanged" >"$WORK/status/digest.ok"
else echo "FAIL pad -> trim: model digest $d, source $SRC_DIGEST" >"$WORK/status/digest.fail"; fi
check "pad -> trim vs source (exact)" 0 "$WORK/src" "$WORK/trim"
check "pad -> trim vs golden (f32)" 0 "$WORK/trim" --reference "$G2GOLD" --tolerance f32
step "trim 1280 -> 1024 in fp8 (tp4 rank)" "$CONV" "$WORK/pad" "$WORK/trim8" --tp 4 --layout rank --vocab 1024 \
  --dtype fp8 --fp8-scale block --fp8-block 8 --force || finish gate_vocab
check "pad -> trim fp8 vs source (fp8 preset)" 0 "$WORK/src" "$WORK/trim8"
check "pad -> trim fp8 vs golden (fp8 preset)" 0 "$WORK/trim8" --reference "$G2GOLD" --tolerance fp8
finish gate_vocab
