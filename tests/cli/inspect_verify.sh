#!/usr/bin/env bash
# g2inspect --verify and its exit codes: 0 clean, 1 on NaN/Inf or a manifest mismatch,
# 2 on bad input (no checkpoint, bad flags, broken files, malformed manifest).
source "${G2_SOURCE_DIR:?G2_SOURCE_DIR is not set}/tests/cli/inspect_lib.bash"
expect_exit() {  # CODE PATTERN CMD...: exit code and a stdout+stderr fragment
  local want=$1 pat=$2; shift 2
  set +e; out=$("$@" 2>&1); got=$?; set -e
  [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want: $out"
  grep -q -- "$pat" <<<"$out" || fail "'$*' output lacks '$pat': $out"
}

"$PY" "$G2_SOURCE_DIR/tests/cli/make_tiny_sets.py" "$TMP"
D=$TMP/tp2

expect_exit 0 "Examples" "$INSPECT" --help
expect_exit 2 "DIR is required" "$INSPECT"
expect_exit 2 "no such directory" "$INSPECT" "$TMP/nope"
mkdir "$TMP/empty"
expect_exit 2 "empty directory" "$INSPECT" "$TMP/empty"
expect_exit 0 "no g2manifest.json" "$INSPECT" "$D" --verify
expect_exit 0 "verify: ok" "$INSPECT" "$D" --verify

# A manifest with a wrong checksum: exit 1 naming the file; fixed with the true one: exit 0.
f=pytorch_model-00006-TP-001.safetensors
size=$(stat -c %s "$D/$f")
manifest() {  # HASH -> g2manifest.json covering every file the model reads
  "$PY" - "$D" "$1" "$f" <<'PYEOF'
import json, os, sys
d, h, special = sys.argv[1:4]
files = sorted(x for x in os.listdir(d) if x.endswith(".safetensors") or x == "config.json")
ent = [{"path": x, "bytes": os.path.getsize(os.path.join(d, x)), "xxh3_128": h if x == special else "0" * 32}
       for x in files]
json.dump({"version": 1, "tool": "test", "files": ent}, open(os.path.join(d, "g2manifest.json"), "w"))
PYEOF
}
manifest 00000000000000000000000000000000
expect_exit 1 "MISMATCH $f: xxh3_128" "$INSPECT" "$D" --verify
# The reported true checksum of every file, written back, makes the manifest pass.
"$INSPECT" "$D" --verify --json > "$TMP/v.json" || true
"$PY" - "$D" "$TMP/v.json" <<'PYEOF'
import json, os, sys
d, v = sys.argv[1:3]
probs = {p["path"]: p["problem"].split()[1] for p in json.load(open(v))["verify"]["manifest"]["problems"]}
m = json.load(open(os.path.join(d, "g2manifest.json")))
for e in m["files"]:
    e["xxh3_128"] = probs[e["path"]]
json.dump(m, open(os.path.join(d, "g2manifest.json"), "w"))
PYEOF
expect_exit 0 "0 problems" "$INSPECT" "$D" --verify
# Size mismatch and a missing file.
"$PY" -c "
import json,sys; p=sys.argv[1]; m=json.load(open(p)); m['files'][0]['bytes']+=1; json.dump(m,open(p,'w'))" "$D/g2manifest.json"
expect_exit 1 "size" "$INSPECT" "$D" --verify
echo '{"files": [{"path": "../x", "bytes": 1, "xxh3_128": "00"}]}' > "$D/g2manifest.json"
expect_exit 2 "not inside the directory" "$INSPECT" "$D" --verify
echo '{"files": 3' > "$D/g2manifest.json"
expect_exit 2 "not a g2 manifest" "$INSPECT" "$D" --verify
rm "$D/g2manifest.json"

# NaN and Inf in a BF16 tensor: --verify counts them and fails.
R=$TMP/rank4
"$PY" - "$R/pytorch_model-00002-TP-common.safetensors" <<'PYEOF'
import json, struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
off = 8 + n + json.loads(b[8:8 + n])["model.norm.weight"]["data_offsets"][0]
b[off:off + 6] = bytes([0xc0, 0x7f, 0x80, 0x7f, 0x80, 0xff])  # NaN, +Inf, -Inf (little-endian bf16)
open(p, "wb").write(b)
PYEOF
expect_exit 1 "non-finite: model.norm.weight: 1 NaN, 2 Inf" "$INSPECT" "$R" --verify
expect_exit 0 "model.norm.weight" "$INSPECT" "$R"  # plain listing does not read values

# Broken inputs name the file.
rm "$R/pytorch_model-00011-TP-002.safetensors"
expect_exit 2 "pytorch_model-00011-TP-002.safetensors: missing (rank 2 of tp 4" "$INSPECT" "$R"
head -c 100 "$TMP/hf1/model.safetensors" > "$TMP/hf1/x" && mv "$TMP/hf1/x" "$TMP/hf1/model.safetensors"
expect_exit 2 "model.safetensors: invalid safetensors file" "$INSPECT" "$TMP/hf1"
echo "ok"
