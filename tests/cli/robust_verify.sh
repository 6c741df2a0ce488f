#!/usr/bin/env bash
# g2inspect --verify finds a flipped byte in any file of a g2convert output through the
# g2manifest.json checksums (issue 8): in every file the manifest lists, one byte of the
# header/JSON region or of the data region (seeded choice and position) is flipped; each
# time --verify must exit 1 and name the file, and pass again once the byte is restored.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
T=$(mktemp -d /tmp/g2robust_verify.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
RANDOM=${G2_VERIFY_SEED:-5}
I="$G2_BIN_DIR/g2inspect"
python3 "$G2_SOURCE_DIR/tests/cli/robust_make_hf.py" "$G2_SOURCE_DIR/tests/robust/grok-2-mini.json" "$T/src"
"$G2_BIN_DIR/g2convert" "$T/src" "$T/out" --tp 2 --layout rank --dtype fp8 --fp8-scale tensor >/dev/null 2>&1
"$I" "$T/out" --verify >/dev/null || fail "clean output does not verify"
files=$(python3 -c 'import json,sys; print("\n".join(f["path"] for f in json.load(open(sys.argv[1]))["files"]))' "$T/out/g2manifest.json")
flips=0
for f in $files; do
  p=$T/out/$f
  size=$(stat -c %s "$p")
  # Alternate the region from file to file (seeded start): header/JSON bytes and data bytes.
  for region in $( ((RANDOM % 2)) && echo head || echo data); do
    if [ $region = head ]; then off=$(( RANDOM % (size < 256 ? size : 256) )); else off=$(( size / 2 + RANDOM % (size - size / 2) )); fi
    cp "$p" "$T/orig"
    python3 -c 'import sys; p,o=sys.argv[1],int(sys.argv[2]); b=bytearray(open(p,"rb").read()); b[o]^=0x10; open(p,"wb").write(b)' "$p" "$off"
    set +e; out=$("$I" "$T/out" --verify 2>&1); rc=$?; set -e
    [ $rc = 1 ] || fail "flip at $f:$off: exit $rc, expected 1: $out"
    grep -qF "$f" <<<"$out" || fail "flip at $f:$off: message does not name $f: $out"
    cp "$T/orig" "$p"
    flips=$((flips + 1))
  done
done
"$I" "$T/out" --verify >/dev/null || fail "restored output does not verify"
echo "robust_verify: $flips flipped bytes in $(wc -w <<<"$files") files, all detected"
