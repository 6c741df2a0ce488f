#!/usr/bin/env bash
# g2inspect on what the other tools write: a synthetic Grok-1 JAX checkpoint and its g2convert
# outputs (HF set, release-style tp 4, FP8 block-scaled rank set). Same model -> same digests
# in every BF16 layout; g2convert's g2manifest.json verifies; a flipped byte fails --verify.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
B=$G2_BIN_DIR
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$TMP"

"$B/g2synth" --config "$G2_SOURCE_DIR/configs/grok-1-tiny.json" --format grok1-jax --out g1 >/dev/null
"$B/g2inspect" g1 --json > g1.json
[ "$(jq -r '"\(.format) \(.family) \(.tensors | length)"' g1.json)" = "grok1-jax grok-1 40" ] || fail "grok-1: $(jq -c '[.format,.family]' g1.json)"
[ "$(jq -r .parameters_per_role.scales g1.json)" -gt 0 ] || fail "grok-1 scales role"

"$B/g2convert" g1 hf --to grok2 --layout hf >/dev/null 2>&1 || fail "convert to hf"
"$B/g2convert" hf tp4 --tp 4 --layout tp >/dev/null 2>&1 || fail "reshard to tp 4"
"$B/g2convert" hf rank2 --tp 2 --layout rank >/dev/null 2>&1 || fail "reshard to rank 2"
ref=$("$B/g2inspect" hf --json --digests | jq -r .model_xxh3_128)
for d in tp4 rank2; do
  "$B/g2inspect" "$d" --json --verify > "$d.json" || fail "$d --verify exited $?: $(jq -c .verify "$d.json")"
  [ "$(jq -r .model_xxh3_128 "$d.json")" = "$ref" ] || fail "$d model digest differs from the hf set's"
  [ "$(jq -r .verify.manifest.present "$d.json")" = true ] || fail "$d: g2convert wrote no manifest?"
done
[ "$(jq -r '"\(.tp) \(.layout)"' tp4.json)" = "4 tp" ] || fail "tp4 detection"
[ "$(jq -r '"\(.tp) \(.layout)"' rank2.json)" = "2 rank" ] || fail "rank2 detection"

"$B/g2convert" g1 fp8 --to grok2 --dtype fp8 --fp8-scale block --fp8-block 8 --tp 2 --layout rank >/dev/null 2>&1 || fail "fp8"
"$B/g2inspect" fp8 --json --verify > fp8.json || fail "fp8 --verify: $(jq -c .verify fp8.json)"
[ "$(jq -r '[.tensors[] | select(.name | endswith(".weight_scale_inv"))] | length' fp8.json)" -gt 0 ] || fail "no block scales"
[ "$(jq -r '.tensors[] | select(.name=="model.layers.0.self_attn.q_proj.weight") | .dtype' fp8.json)" = F8_E4M3 ] || fail "q_proj dtype"

# One flipped byte in a rank file: the manifest check names it, exit 1.
f=$(cd fp8 && ls *-TP-001.safetensors | head -1)
printf '\x55' | dd of="fp8/$f" bs=1 seek=$(( $(stat -c %s "fp8/$f") - 1 )) conv=notrunc status=none
set +e; out=$("$B/g2inspect" fp8 --verify 2>&1); rc=$?; set -e
[ $rc = 1 ] || fail "flipped byte: exit $rc"
grep -q "MISMATCH $f: xxh3_128" <<<"$out" || fail "flipped byte not reported: $out"
echo "ok: digest $ref"
