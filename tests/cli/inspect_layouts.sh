#!/usr/bin/env bash
# g2inspect sees one model whatever its on-disk layout: an HF single file, an HF 3-shard set,
# a release-style TP set (tp 2) and a fully presharded rank set (tp 4, KV heads replicated),
# all written by an independent Python writer, give the same tensors and the same digests.
source "${G2_SOURCE_DIR:?G2_SOURCE_DIR is not set}/tests/cli/inspect_lib.bash"

"$PY" "$G2_SOURCE_DIR/tests/cli/make_tiny_sets.py" "$TMP"

declare -A digest
for d in hf1 hf3 tp2 rank4; do
  "$INSPECT" "$TMP/$d" --json --digests > "$TMP/$d.json" || fail "g2inspect $d exited $?"
  digest[$d]=$(jq -r .model_xxh3_128 "$TMP/$d.json")
  n=$(jq '.tensors | length' "$TMP/$d.json")
  [ "$n" = 39 ] || fail "$d: $n tensors, expected 39"
  [ "$(jq -r '.totals.parameters' "$TMP/$d.json")" = "$(jq -r '.totals.parameters' "$TMP/hf1.json")" ] || fail "$d: parameter count differs"
  # Per-tensor digests agree too (sorted by name).
  jq -r '.tensors | sort_by(.name) | .[] | "\(.name) \(.shape) \(.xxh3_128)"' "$TMP/$d.json" > "$TMP/$d.digests"
  cmp -s "$TMP/hf1.digests" "$TMP/$d.digests" || { diff "$TMP/hf1.digests" "$TMP/$d.digests" | head; fail "$d: tensor digests differ from hf1"; }
done
for d in hf3 tp2 rank4; do
  [ "${digest[$d]}" = "${digest[hf1]}" ] || fail "model digest of $d ${digest[$d]} != hf1 ${digest[hf1]}"
done
[[ "${digest[hf1]}" =~ ^[0-9a-f]{32}$ ]] || fail "model digest is not 32 hex: ${digest[hf1]}"

# Formats, tp and layout kind are detected.
[ "$(jq -r .format "$TMP/hf3.json")" = safetensors ] || fail "hf3 format"
[ "$(jq -r '"\(.format) \(.tp) \(.layout)"' "$TMP/tp2.json")" = "grok2-tp 2 tp" ] || fail "tp2 detection: $(jq -c '[.format,.tp,.layout]' "$TMP/tp2.json")"
[ "$(jq -r '"\(.format) \(.tp) \(.layout)"' "$TMP/rank4.json")" = "grok2-tp 4 rank" ] || fail "rank4 detection"
# An expert in the tp2 set spans both rank files.
[ "$(jq -r '.tensors[] | select(.name=="model.layers.1.block_sparse_moe.experts.0.w2.weight") | .files | length' "$TMP/tp2.json")" = 2 ] || fail "expert files"
# Roles: 2 experts x 3 x 2 layers x 32 x 64 expert parameters.
[ "$(jq -r '.parameters_per_role.expert_w1' "$TMP/tp2.json")" = 8192 ] || fail "role counts: $(jq -c .parameters_per_role "$TMP/tp2.json")"

# Text output names the format and totals.
out=$("$INSPECT" "$TMP/rank4")
grep -q "grok2-tp (tp 4, layout rank)" <<<"$out" || fail "text output lacks the format line"
grep -q "^totals *39 tensors" <<<"$out" || fail "text output lacks totals"
grep -q "attn_q" <<<"$out" || fail "text output lacks roles"
echo "ok: 4 layouts, model digest ${digest[hf1]}"
