#!/usr/bin/env bash
# The Grok-2 release's own config.json is read as it ships: a release-style TP8 set whose
# config.json has exactly the release's fields ("model_type": "git", configs/grok-2-tiny.json's
# fields without its comment) is inspected, converted and diffed with no --config flag; every
# output says "git" and carries every release field with its value; a config written by older
# g2kit versions ("model_type": "grok-2") is still read; a GIT captioning config is refused.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
T=$(mktemp -d /tmp/g2release.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
B=$G2_BIN_DIR

"$B/g2synth" --config "$G2_SOURCE_DIR/configs/grok-2-tiny.json" --format grok2-tp --tp 8 --out "$T/rel" >/dev/null
python3 - "$G2_SOURCE_DIR/configs/grok-2-tiny.json" "$T/rel/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
del c["_comment"]
assert c["model_type"] == "git" and c["architectures"] == ["Grok1ForCausalLM"] and len(c) == 32, c
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY

"$B/g2inspect" "$T/rel" >"$T/inspect.txt" || fail "g2inspect refused the release config"
grep -q "grok-2" "$T/inspect.txt" || fail "g2inspect did not call the release set grok-2: $(head -5 "$T/inspect.txt")"
grep -q "^serving .*serve at --tp 8 only" "$T/inspect.txt" || fail "g2inspect did not say where the release serves: $(head -8 "$T/inspect.txt")"
"$B/g2convert" "$T/rel" "$T/tp4" --tp 4 --layout rank >/dev/null 2>"$T/err.txt" || fail "g2convert refused the release config: $(cat "$T/err.txt")"
"$B/g2diff" "$T/rel" "$T/tp4" -q || fail "g2diff release set vs its TP4 reshard"
"$B/g2inspect" "$T/tp4" >"$T/inspect4.txt" || fail "g2inspect on the TP4 rank set"
grep -q "^serving .*--tp 4: SGLang 0.5.23 refuses any other TP" "$T/inspect4.txt" || fail "g2inspect on a rank set: $(head -8 "$T/inspect4.txt")"

python3 - "$T/rel/config.json" "$T/tp4/config.json" <<'PY' || fail "the output config lost release fields"
import json, sys
rel, out = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bad = [k for k, v in rel.items() if k not in out or out[k] != v]
assert not bad, "fields changed or missing: " + ", ".join(f"{k}: {rel[k]!r} -> {out.get(k)!r}" for k in bad)
PY

# older g2kit outputs: "model_type": "grok-2" is still read; what is written is the release's "git"
sed -i 's/"model_type": "git"/"model_type": "grok-2"/' "$T/tp4/config.json"
"$B/g2convert" "$T/tp4" "$T/tp2" --tp 2 --layout tp >/dev/null 2>"$T/err.txt" || fail "legacy grok-2 config refused: $(cat "$T/err.txt")"
grep -q '"model_type": "git"' "$T/tp2/config.json" || fail "a reshard of a legacy set was not written with model_type git"

# "git" alone is transformers' GIT captioning model: refused with exit 2, naming the file
sed -i 's/"Grok1ForCausalLM"/"GitForCausalLM"/' "$T/rel/config.json"
rc=0
"$B/g2convert" "$T/rel" "$T/bad" --tp 4 >/dev/null 2>"$T/err.txt" || rc=$?
[ "$rc" = 2 ] || fail "a GIT captioning config gave exit $rc, want 2"
grep -q "config.json: model_type \"git\" without" "$T/err.txt" || fail "unclear refusal: $(cat "$T/err.txt")"
echo "release config: read without --config, every field written back, legacy read, GIT refused"
