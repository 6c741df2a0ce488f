#!/usr/bin/env bash
# g2diff --prompt / --prompt-file: the text is tokenized with the checkpoint's own tokenizer
# (tiny ones built at test time, tests/libmodel/tokenizer/fixtures.sh) and the ids equal the Python
# libraries' (sentencepiece for Grok-1's tokenizer.model; tiktoken, built as SGLang builds it,
# for Grok-2's tokenizer.tok.json); the report decodes each side's top-5 next tokens (every
# position in --json). Exit 2 without a tokenizer, with one that has more ids than the
# embedding has rows, or when B's tokenizer disagrees. Also -q on every tool.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
BUILD=$(cd "$G2_BIN_DIR/.." && pwd)
T=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "diff_prompt: FAIL: $*"; exit 1; }
B=$G2_BIN_DIR
FIX=$(bash "$G2_SOURCE_DIR/tests/libmodel/tokenizer/fixtures.sh" "$BUILD")
PY=python3
oracle() { $PY -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"j": j}))' "$FIX/oracle.json" "$1"; }
# expect RC CMD...: run it, keep its output in $T/out, fail on another exit code
expect() {
  local want=$1 rc=0
  shift
  "$@" >"$T/out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/out"; fail "exit $rc, expected $want: $*"; }
}
# check_json REPORT SIDE PROMPT_INDEX: tokens equal the oracle's, next tokens cover every
# position with 5 entries whose text is the oracle's text of that id
check_json() {
  $PY - "$1" "$FIX/oracle.json" "$2" "$3" <<'PY' || fail "g2diff --json $1 does not match the $2 oracle"
import json, sys
rep, orc, side, i = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3], int(sys.argv[4])
o = orc[side]
assert rep["tokens"] == o["ids"][i], (rep["tokens"], o["ids"][i])
for which in ("reference", "compared"):
    pos = rep["next_tokens"][which]
    assert len(pos) == len(rep["tokens"]), (which, len(pos))
    for top in pos:
        assert len(top) == 5
        assert [t["prob"] for t in top] == sorted((t["prob"] for t in top), reverse=True)
        for t in top:
            want = bytes(o["token_bytes"][t["id"]]).decode("utf-8", "replace") if t["id"] < o["pieces"] else ""
            text = t["text"]
            assert text == want or ("\\x" in text and "\ufffd" in want), (t, want)
print("  ids and next tokens as", side, "gives them:", rep["tokens"])
PY
}

# Grok-1: tiny JAX checkpoint + the tiny tokenizer.model; the upgrade copies the tokenizer.
expect 0 "$B/g2synth" -q --config "$G2_SOURCE_DIR/configs/grok-1-tiny.json" --format grok1-jax --out "$T/g1"
[ -s "$T/out" ] && fail "g2synth -q printed: $(cat "$T/out")"
cp "$FIX/sentencepiece/tokenizer.model" "$T/g1/"
expect 0 "$B/g2convert" -q "$T/g1" "$T/g1-fp8" --to grok2 --dtype fp8 --fp8-block 8 --tp 8 --layout rank
[ -s "$T/out" ] && fail "g2convert -q printed: $(cat "$T/out")"
expect 0 "$B/g2convert" "$T/g1" "$T/g1-bf16" --to grok2
grep -q "^g2convert: done" "$T/out" || fail "g2convert without -q printed no summary"
[ -f "$T/g1-fp8/tokenizer.model" ] || fail "g2convert did not copy tokenizer.model"

PROMPT=$(oracle 'j["prompts"][0]')
expect 0 "$B/g2diff" -q "$T/g1" "$T/g1-fp8" --tp-exec --prompt "$PROMPT" --json "$T/g1.json"
grep -q "^next token after the last position" "$T/out" || fail "no next-token table"
check_json "$T/g1.json" sentencepiece 0
sed -n '/^next token/,/^ *5 /p' "$T/out"

# --prompt-file: bytes as they are (tabs, newlines), here prompt 4
$PY -c 'import json, sys; open(sys.argv[2], "w").write(json.load(open(sys.argv[1]))["prompts"][4])' "$FIX/oracle.json" "$T/prompt.txt"
expect 0 "$B/g2diff" -q "$T/g1" "$T/g1-bf16" --prompt-file "$T/prompt.txt" --json "$T/g1f.json"
check_json "$T/g1f.json" sentencepiece 4

# Grok-2: tiny TP8 release-style set + the tiny tokenizer.tok.json; a TP4 reshard copies it.
expect 0 "$B/g2synth" -q --config "$G2_SOURCE_DIR/configs/grok-2-tiny.json" --format grok2-tp --tp 8 --out "$T/g2"
cp "$FIX/tiktoken/tokenizer.tok.json" "$T/g2/"
expect 0 "$B/g2convert" -q "$T/g2" "$T/g2-tp4" --tp 4
for i in 0 5 6 7; do   # plain, Unicode, <|separator|> (a special token), <|notallowed|> (plain text)
  PROMPT=$(oracle "j['prompts'][$i]")
  expect 0 "$B/g2diff" -q "$T/g2" "$T/g2-tp4" --prompt "$PROMPT" --json "$T/g2.json"
  check_json "$T/g2.json" tiktoken "$i"
done
# Record with a prompt, compare later with the same prompt.
expect 0 "$B/g2diff" -q "$T/g2" --record "$T/acts.safetensors" --prompt "$PROMPT"
expect 0 "$B/g2diff" -q "$T/g2-tp4" --reference "$T/acts.safetensors" --prompt "$PROMPT"
grep -q "^next token after the last position" "$T/out" || fail "--reference: no next-token table"
# Token ids instead of text: still decoded with the tokenizer; without one, ids only.
expect 0 "$B/g2diff" -q "$T/g2" "$T/g2-tp4" --tokens 72,101,108,108,111
grep -qE '^ +1 +[0-9]+ +[0-9.]+ +"' "$T/out" || fail "--tokens: next tokens not decoded"

# Exit 2: no tokenizer; a tokenizer with more ids than embedding rows; B's tokenizer differs;
# --prompt with --tokens.
expect 0 "$B/g2synth" -q --config "$G2_SOURCE_DIR/configs/grok-2-tiny.json" --format hf --out "$T/bare"
expect 2 "$B/g2diff" -q "$T/bare" "$T/bare" --prompt "hello"
grep -q "has no tokenizer" "$T/out" || fail "no-tokenizer message: $(cat "$T/out")"
expect 0 "$B/g2diff" -q "$T/bare" "$T/bare" --tokens 1,2,3
grep -q "(ids only: .*has no tokenizer" "$T/out" || fail "ids-only note missing: $(cat "$T/out")"
$PY - "$FIX/tiktoken/tokenizer.tok.json" "$T/bare/tokenizer.tok.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t.pop("vocab_size")
t["special_tokens"].append({"bytes": list(b"<|control9|>"), "token": 1500})
json.dump(t, open(sys.argv[2], "w"))
PY
expect 2 "$B/g2diff" -q "$T/bare" "$T/bare" --prompt "hello"
grep -q "has ids up to 1500 but the checkpoint's embedding has 1024 rows" "$T/out" || fail "rows message: $(cat "$T/out")"
rm "$T/g1-bf16/tokenizer.model"
cp "$FIX/tiktoken/tokenizer.tok.json" "$T/g1-bf16/"
expect 2 "$B/g2diff" -q "$T/g1" "$T/g1-bf16" --prompt "The capital of France is"
grep -q "give different ids" "$T/out" || fail "B-tokenizer message: $(cat "$T/out")"
expect 2 "$B/g2diff" -q "$T/g1" "$T/g1-fp8" --prompt "x" --tokens 1,2
expect 2 "$B/g2diff" -q "$T/g1" "$T/g1-fp8" --prompt-file "$T/missing.txt"
grep -q "cannot open" "$T/out" || fail "missing --prompt-file: $(cat "$T/out")"

# -q on every tool: g2inspect and g2diff print no progress.
expect 0 "$B/g2inspect" -q "$T/g1-fp8" --verify
tail -1 "$T/out" | grep -qx "verify: ok" || fail "g2inspect -q --verify: $(tail -1 "$T/out")"
for t in g2convert g2diff g2inspect g2synth; do
  help=$("$B/$t" --help)  # (not piped into grep -q: SIGPIPE under pipefail when grep exits first)
  grep -qE '^ +-q,--quiet' <<<"$help" || fail "$t --help lists no -q,--quiet"
done
echo "diff_prompt: ok"
