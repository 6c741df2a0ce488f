#!/usr/bin/env bash
# Disk full (issue 8): g2convert writes into a real, small tmpfs (mounted in a private mount
# namespace with `unshare -rm`, no root needed) and must fail with exit 2 and a message naming
# the destination path and "No space left on device", leaving no finished-looking output: no
# manifest, no temporary files, and every file under its final name complete and correct.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
C="$G2_BIN_DIR/g2convert"
T=$(mktemp -d /tmp/g2robust_full.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
if ! unshare -rm true 2>/dev/null || ! unshare -rm sh -c "mount -t tmpfs -o size=64k tmpfs '$T'" 2>/dev/null; then
  echo "SKIP: no user+mount namespaces here (unshare -rm), cannot mount a small tmpfs"
  exit 0
fi

python3 "$G2_SOURCE_DIR/tests/cli/robust_make_hf.py" "$G2_SOURCE_DIR/tests/robust/grok-2-crash.json" "$T/src" 3
ARGS=(--tp 2 --layout rank --mem-limit 16M --threads 1)
"$C" "$T/src" "$T/ref" "${ARGS[@]}" >/dev/null 2>&1 || fail "reference run failed"
total_kb=$(du -sk "$T/ref" | cut -f1)

# tmpfs pages the tensor files need: with 4 pages more, every tensor file fits and the
# small JSON writes (journal, config, manifest) hit the full disk in write() rather than in
# the preallocation.
pages=0
for f in "$T"/ref/*.safetensors; do pages=$(( pages + ($(stat -c %s "$f") + 4095) / 4096 )); done
# Sizes: nothing fits; the first files fit and a later one does not; all tensor files fit.
for size_kb in 256 $((total_kb / 2)) $(( (pages + 4) * 4 )); do
  mkdir -p "$T/mnt$size_kb"
  set +e
  out=$(unshare -rm bash -c 'mount -t tmpfs -o size="$1"k tmpfs "$2" || exit 99
    "$3" "$4" "$2/out" "${@:6}"; rc=$?
    ls -A "$2/out" > "$2.ls" 2>/dev/null
    # The namespace (and the tmpfs) dies with this shell: judge the files from inside.
    python3 - "$2/out" "$5" <<PY || rc=98
import json, os, struct, sys
d, ref = sys.argv[1:3]
for n in os.listdir(d):
    if n.endswith(".safetensors") and ".tmp-" not in n:
        with open(os.path.join(d, n), "rb") as a, open(os.path.join(ref, n), "rb") as b:
            assert a.read() == b.read(), n + ": final name but not the complete file"
PY
    exit $rc' _ "$size_kb" "$T/mnt$size_kb" "$C" "$T/src" "$T/ref" "${ARGS[@]}" 2>&1)
  rc=$?
  set -e
  [ $rc != 99 ] || fail "could not mount a ${size_kb}k tmpfs"
  [ $rc != 98 ] || fail "${size_kb}k: a file under its final name is incomplete: $out"
  [ $rc = 2 ] || fail "${size_kb}k: exit $rc, expected 2: $out"
  grep -q "No space left on device" <<<"$out" || fail "${size_kb}k: no ENOSPC message: $out"
  grep -qF "$T/mnt$size_kb/out/" <<<"$out" || fail "${size_kb}k: message does not name the path: $out"
  listing=$(cat "$T/mnt$size_kb.ls")
  ! grep -q g2manifest.json <<<"$listing" || fail "${size_kb}k: manifest written on a full disk"
  ! grep -q '\.tmp-' <<<"$listing" || fail "${size_kb}k: temporary files left: $listing"
  echo "diskfull ${size_kb}k of ${total_kb}k: $(grep -c safetensors <<<"$listing" || true) complete files kept; $(grep -m1 'No space' <<<"$out")"
done
echo "robust_diskfull: ok"
