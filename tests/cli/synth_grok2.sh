#!/usr/bin/env bash
# g2synth --format grok2-tp / hf: deterministic (hash of every file, for any --threads), release file naming for
# any --tp, an index naming every shard, config.json with the g2_layout block; bad --tp and
# family mismatches exit 2.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
SYNTH="$G2_BIN_DIR/g2synth"
CFG="$G2_SOURCE_DIR/configs/grok-2-tiny.json"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

hash_dir() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1); }
fail() { echo "synth_grok2: $*"; exit 1; }

for tp in 8 4; do
  "$SYNTH" --config "$CFG" --format grok2-tp --tp $tp --seed 2 --out "$T/tp$tp-a" >/dev/null
  "$SYNTH" --config "$CFG" --format grok2-tp --tp $tp --seed 2 --out "$T/tp$tp-b" --threads 1 >/dev/null
  [ "$(hash_dir "$T/tp$tp-a")" = "$(hash_dir "$T/tp$tp-b")" ] || fail "tp $tp: same seed, different bytes (all cores vs --threads 1)"
  # 15 TP-common files (groups 0-5, 9-17) + 3 expert groups x tp rank files
  n=$(ls "$T/tp$tp-a" | grep -c '^pytorch_model-000[0-9][0-9]-TP-.*\.safetensors$')
  [ "$n" -eq $((15 + 3 * tp)) ] || fail "tp $tp: $n safetensors files"
  last=$(printf 'pytorch_model-00008-TP-%03d.safetensors' $((tp - 1)))
  [ -f "$T/tp$tp-a/$last" ] || fail "tp $tp: no $last"
  grep -q '"g2_layout"' "$T/tp$tp-a/config.json" || fail "tp $tp: config.json lacks g2_layout"
done

"$SYNTH" --config "$CFG" --format hf --seed 2 --max-shard-mb 4 --out "$T/hf-a" >/dev/null
"$SYNTH" --config "$CFG" --format hf --seed 2 --max-shard-mb 4 --out "$T/hf-b" --threads 3 >/dev/null
[ "$(hash_dir "$T/hf-a")" = "$(hash_dir "$T/hf-b")" ] || fail "hf: same seed, different bytes"
shards=$(ls "$T/hf-a" | grep -c '^model-[0-9]\{5\}-of-[0-9]\{5\}\.safetensors$')
[ "$shards" -ge 2 ] || fail "hf: $shards shards with --max-shard-mb 4"
[ -f "$T/hf-a/model.safetensors.index.json" ] || fail "hf: no index"
for f in "$T"/hf-a/model-*.safetensors; do
  grep -q "$(basename "$f")" "$T/hf-a/model.safetensors.index.json" || fail "index does not name $(basename "$f")"
done

expect_2() {
  set +e
  "$@" >/dev/null 2>"$T/err"
  local rc=$?
  set -e
  [ "$rc" -eq 2 ] || { cat "$T/err"; fail "exit $rc, expected 2: $*"; }
}
expect_2 "$SYNTH" --config "$CFG" --format grok2-tp --tp 3 --out "$T/bad1"
expect_2 "$SYNTH" --config "$G2_SOURCE_DIR/configs/grok-1-tiny.json" --format hf --out "$T/bad2"
expect_2 "$SYNTH" --config "$CFG" --format nonsense --out "$T/bad3"
echo "synth_grok2: ok"
