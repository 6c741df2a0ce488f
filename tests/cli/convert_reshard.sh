#!/usr/bin/env bash
# g2convert end to end on a tiny Grok-2-shaped set: reshard chain TP8 -> 1 -> 16 -> 4 -> 8 is
# byte-identical to the first TP8 set, FP8 round trip within the e4m3 bound, resume, dry-run,
# and every refusal exits 2 with a clear message.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
C="$G2_BIN_DIR/g2convert"
T=$(mktemp -d /tmp/g2convert_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

G2_SOURCE_DIR="$G2_SOURCE_DIR" python3 "$G2_SOURCE_DIR/tests/cli/convert_tiny_hf.py" "$T/hf"

"$C" "$T/hf" "$T/tp8" --tp 8 --layout tp 2>/dev/null
[ -f "$T/tp8/g2manifest.json" ] || fail "no manifest"
[ -f "$T/tp8/tokenizer.tok.json" ] || fail "tokenizer not copied"
[ "$(ls "$T"/tp8/*.safetensors | wc -l)" = 39 ] || fail "expected 39 files at TP8"

# the chain, each step reading the previous output; the tiny files are below --io auto's
# direct threshold, so two steps ask for O_DIRECT and plain buffered writes explicitly
"$C" "$T/tp8" "$T/tp1" --tp 1 --threads 2 --io direct 2>/dev/null
"$C" "$T/tp1" "$T/tp16" --tp 16 --layout rank --io buffered 2>/dev/null
"$C" "$T/tp16" "$T/tp4" --tp 4 --layout tp --mem-limit 16M --io direct --threads 1 2>/dev/null
"$C" "$T/tp4" "$T/tp8b" --tp 8 --layout tp --threads 2 2>/dev/null
for f in "$T"/tp8/*.safetensors; do
  cmp -s "$f" "$T/tp8b/$(basename "$f")" || fail "TP8 -> 1 -> 16 -> 4 -> 8 changed $(basename "$f")"
done
"$C" "$T/hf" "$T/hf1" --tp 1 2>/dev/null
"$C" "$T/tp8" "$T/hfsplit" --layout hf --max-file-size 40K 2>/dev/null
[ "$(ls "$T"/hfsplit/model-*-of-*.safetensors | wc -l)" -gt 2 ] || fail "--max-file-size did not split the hf set"
grep -q '"weight_map"' "$T/hfsplit/model.safetensors.index.json" || fail "no index"
"$C" "$T/hfsplit" "$T/hfsplit8" --tp 8 --layout tp 2>/dev/null
for f in "$T"/tp8/*.safetensors; do cmp -s "$f" "$T/hfsplit8/$(basename "$f")" || fail "split hf round trip changed $(basename "$f")"; done
cmp -s "$T/hf1/model-00001-of-00001.safetensors" "$T/tp1/model-00001-of-00001.safetensors" || fail "TP1 differs from hf -> hf"
[ "$(ls "$T"/tp16/*-TP-015.safetensors | wc -l)" -gt 0 ] || fail "no rank-15 files at TP16"

# resume: the same command again keeps every verified file
out=$("$C" "$T/hf" "$T/tp8" --tp 8 --layout tp 2>&1)
grep -q "0 files written, 39 verified and kept (resumed)" <<<"$out" || fail "rerun did not resume: $out"

# dry run reads no tensor data and writes nothing
plan=$("$C" "$T/tp8" "$T/dry" --tp 2 --dry-run)  # (not piped into grep -q: SIGPIPE under pipefail)
grep -q "pytorch_model-00006-TP-001.safetensors" <<<"$plan" || fail "dry-run plan"
[ ! -e "$T/dry" ] || fail "dry-run created the destination"
"$C" "$T/tp8" "$T/dry" --tp 2 --dry-run --json | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["tp"]==2 and len(j["files"])>3'

# FP8 round trip per scale mode: errors reported, BF16 again within the bound
for mode in tensor channel block; do
  blk=(); [ $mode = block ] && blk=(--fp8-block 8)
  "$C" "$T/tp8" "$T/fp8_$mode" --tp 1 --dtype fp8 --fp8-scale $mode "${blk[@]}" --json 2>/dev/null >"$T/fp8_$mode.json"
  python3 - "$T/fp8_$mode.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["quant"], "no quantisation report"
for q in j["quant"]:
    assert q["rel_rms"] < 0.04 and q["cosine"] > 0.999, q
PY
  grep -q '"quant_method": "fp8"' "$T/fp8_$mode/config.json" || fail "fp8 config"
  "$C" "$T/fp8_$mode" "$T/bf16_$mode" --tp 1 --dtype bf16 2>/dev/null
done
"$C" "$T/fp8_block" "$T/fp8_tp4" --tp 4 --layout rank 2>/dev/null   # FP8 resharded as is (scales too)
"$C" "$T/fp8_tp4" "$T/fp8_tp4_bf16" --tp 1 --dtype bf16 2>/dev/null
cmp -s "$T/bf16_block/model-00001-of-00001.safetensors" "$T/fp8_tp4_bf16/model-00001-of-00001.safetensors" ||
  fail "dequantising the resharded FP8 set differs from dequantising the unsharded one"

# vocab pad
"$C" "$T/tp8" "$T/v256" --tp 8 --layout rank --vocab 256 2>/dev/null
grep -q '"vocab_size": 256' "$T/v256/config.json" || fail "vocab not updated"

# refusals: exit 2 and a message naming what is wrong
refuse() {
  local want="$1"; shift
  set +e; msg=$("$C" "$@" 2>&1); rc=$?; set -e
  [ $rc = 2 ] || fail "expected exit 2 for: $* (got $rc: $msg)"
  grep -q -- "$want" <<<"$msg" || fail "expected '$want' for: $*; got: $msg"
}
refuse "choose 1, 2, 4, 8 or 16" "$T/tp8" "$T/r1" --tp 3
refuse "tokenizer's highest id 100" "$T/tp8" "$T/r2" --vocab 64
refuse "model.embed_tokens.weight: size 130" "$T/tp8" "$T/r3" --vocab 130 --tp 4 --layout rank
refuse "is not empty" "$T/tp8" "$T/hf" --tp 2
refuse "different conversion" "$T/tp8" "$T/tp4" --tp 2
refuse "only apply with --dtype fp8" "$T/tp8" "$T/r4" --fp8-scale block
refuse "--layout hf" "$T/tp8" "$T/r5" --layout hf --tp 4
refuse "FP8 block boundaries" "$T/tp8" "$T/r6" --tp 16 --layout rank --dtype fp8
refuse "not a size" "$T/tp8" "$T/r7" --mem-limit lots
refuse "no such directory" "$T/nope" "$T/r8"
refuse "--io" "$T/tp8" "$T/r9" --io sometimes
[ ! -e "$T/r1/g2manifest.json" ] || fail "a refused run left a manifest"
"$C" "$T/tp8" "$T/hf" --tp 2 --force 2>/dev/null
[ ! -e "$T/hf/model.safetensors" ] || fail "--force left the old set's safetensors"
# A g2synth Grok-2 TP8 set: g2convert at TP8 --layout tp must reproduce it byte for byte (both
# follow grok2_layout()'s file groups and tensor order and write through SafetensorsWriter).
if "$G2_BIN_DIR/g2synth" --config "$G2_SOURCE_DIR/configs/grok-2-tiny.json" --format grok2-tp --tp 8 --out "$T/s8" >/dev/null 2>"$T/synth.err"; then
  "$C" "$T/s8" "$T/s8_1" --tp 1 2>/dev/null
  "$C" "$T/s8_1" "$T/s8_16" --tp 16 --layout rank 2>/dev/null
  "$C" "$T/s8_16" "$T/s8_4" --tp 4 2>/dev/null
  "$C" "$T/s8_4" "$T/s8_8" --tp 8 --layout tp 2>/dev/null
  for f in "$T"/s8/*.safetensors; do
    cmp -s "$f" "$T/s8_8/$(basename "$f")" || fail "g2synth TP8 set not reproduced: $(basename "$f")"
  done
  [ "$(ls "$T"/s8/*.safetensors | wc -l)" = "$(ls "$T"/s8_8/*.safetensors | wc -l)" ] || fail "file count differs from g2synth"
elif ! grep -q "not available" "$T/synth.err"; then
  fail "g2synth grok2-tp: $(cat "$T/synth.err")"
fi
echo "convert_reshard: ok"
