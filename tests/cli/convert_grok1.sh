#!/usr/bin/env bash
# g2convert on a g2synth Grok-1 tiny JAX checkpoint: refused without --to grok2, upgraded to
# the Grok-2 layout (BF16 and FP8), tokenizer note, config that computes Grok-1's function,
# and the result reshards like any Grok-2 set. (Bit-exactness of the dequantisation is
# checked element by element in tests/libconvert/exec/test_grok1_upgrade.cc.)
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
C="$G2_BIN_DIR/g2convert"
S="$G2_BIN_DIR/g2synth"
if [ ! -x "$S" ]; then echo "convert_grok1: g2synth not built, nothing to test against"; exit 0; fi
T=$(mktemp -d /tmp/g2convert_g1.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$S" --config "$G2_SOURCE_DIR/configs/grok-1-tiny.json" --format grok1-jax --out "$T/g1" >/dev/null
set +e; msg=$("$C" "$T/g1" "$T/x" 2>&1); rc=$?; set -e
[ $rc = 2 ] && grep -q -- "--to grok2" <<<"$msg" || fail "Grok-1 without --to grok2: rc $rc: $msg"

# past TP 1 the default layout is rank (SGLang refuses it at another TP: README "Which layout")
"$C" "$T/g1" "$T/g2d" --to grok2 --tp 8 --dry-run --json 2>/dev/null >"$T/plan.json"
grep -q '"layout": *"rank"' "$T/plan.json" || fail "--tp 8 without --layout did not plan the rank layout"
out=$("$C" "$T/g1" "$T/g2" --to grok2 --tp 8 --layout tp --json 2>"$T/err")
grep -q "serve at --tp 8 only" "$T/err" || fail "--layout tp did not print the serving note: $(cat "$T/err")"
grep -q "tokenizer.model" "$T/err" || fail "no tokenizer note"
python3 - "$T/g2/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
want = {"residual_moe": False, "intermediate_size": 0, "rope_theta": 10000.0, "attn_temperature_len": 0,
        "router_logit_softcapping": 0.0, "final_logit_softcapping": 0.0, "hidden_act": "gelu_pytorch_tanh",
        "tie_word_embeddings": False, "g2_upgraded_from": "grok-1"}
for k, v in want.items():
    assert c[k] == v, (k, c[k], v)
assert abs(c["attn_output_multiplier"] - 0.08838834764831845) < 1e-15
assert c["g2_layout"] == {"kind": "tp", "tp": 8}
PY
[ "$(ls "$T"/g2/*-TP-007.safetensors | wc -l)" = 3 ] || fail "expected 3 rank-7 expert files"
# the upgraded set is an ordinary Grok-2 set: reshard it and back, byte-identical
"$C" "$T/g2" "$T/g2_tp2" --tp 2 --layout rank 2>/dev/null
"$C" "$T/g2_tp2" "$T/g2_tp8" --tp 8 --layout tp 2>/dev/null
for f in "$T"/g2/*.safetensors; do cmp -s "$f" "$T/g2_tp8/$(basename "$f")" || fail "reshard changed $(basename "$f")"; done
# FP8 from the reference BF16, with an error report
"$C" "$T/g1" "$T/g2fp8" --to grok2 --tp 1 --dtype fp8 --fp8-scale block --fp8-block 8 --json 2>/dev/null >"$T/fp8.json"
python3 - "$T/fp8.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
fp8 = [q for q in j["quant"] if q["conversion"].startswith("fp8")]
assert fp8, "no fp8 tensors reported"
assert all(q["rel_rms"] < 0.04 and q["cosine"] > 0.999 for q in fp8), fp8[:3]
PY
echo "convert_grok1: ok"
