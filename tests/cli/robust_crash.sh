#!/usr/bin/env bash
# Crash consistency (issue 8): g2convert is SIGKILLed at seeded random points of a multi-file
# conversion. After every kill (a) no file under its final name is incomplete (each
# *.safetensors parses and its size is exactly what its header describes), (b) g2manifest.json
# exists only when every planned file is there, and (c) rerunning the same command resumes
# (also taking over the dead run's lock) and ends byte-identical to an uninterrupted run.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
C="$G2_BIN_DIR/g2convert"
T=$(mktemp -d /tmp/g2robust_crash.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
SEED=${G2_CRASH_SEED:-8}
TRIALS=${G2_CRASH_TRIALS:-12}
RANDOM=$SEED

python3 "$G2_SOURCE_DIR/tests/cli/robust_make_hf.py" "$G2_SOURCE_DIR/tests/robust/grok-2-crash.json" "$T/src" 3
# Small chunks and one thread: many files written one after another, each in several writes.
ARGS=(--tp 4 --layout rank --dtype fp8 --fp8-scale channel --mem-limit 16M --threads 1)

t0=$(date +%s%N)
"$C" "$T/src" "$T/ref" "${ARGS[@]}" >/dev/null 2>&1 || fail "uninterrupted run failed"
ref_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
nref=$(ls "$T/ref" | grep -c safetensors)
[ "$nref" -gt 10 ] || fail "reference has only $nref files"

check_dst() {  # DIR: invariants (a) and (b) after a kill
  python3 - "$1" "$T/ref" <<'PY'
import json, os, struct, sys
d, ref = sys.argv[1:3]
if not os.path.isdir(d):
    sys.exit(0)
for n in os.listdir(d):
    if ".tmp-" in n or not n.endswith(".safetensors"):
        continue
    p = os.path.join(d, n)
    size = os.path.getsize(p)
    with open(p, "rb") as f:
        raw = f.read(8)
        assert len(raw) == 8, f"{n}: final name but {size} bytes"
        hl = struct.unpack("<Q", raw)[0]
        h = json.loads(f.read(hl))
    end = max((v["data_offsets"][1] for k, v in h.items() if k != "__metadata__"), default=0)
    assert size == 8 + hl + end, f"{n}: final name but {size} bytes, header describes {8 + hl + end}"
    with open(p, "rb") as a, open(os.path.join(ref, n), "rb") as b:
        assert a.read() == b.read(), f"{n}: complete-looking but differs from the uninterrupted run"
if os.path.exists(os.path.join(d, "g2manifest.json")):
    m = json.load(open(os.path.join(d, "g2manifest.json")))
    missing = [f["path"] for f in m["files"] if not os.path.exists(os.path.join(d, f["path"]))]
    want = [n for n in os.listdir(ref) if n != "g2manifest.json"]
    absent = [n for n in want if not os.path.exists(os.path.join(d, n))]
    assert not missing and not absent, f"manifest present but files missing: {missing + absent}"
PY
}

same_as_ref() {  # DIR
  for f in "$T"/ref/*; do
    n=$(basename "$f")
    [ "$n" = g2manifest.json ] && continue
    cmp -s "$f" "$1/$n" || fail "$n differs from the uninterrupted run"
  done
  python3 - "$1/g2manifest.json" "$T/ref/g2manifest.json" <<'PY' || fail "manifest file list differs"
import json, sys
a, b = (json.load(open(p))["files"] for p in sys.argv[1:3])
assert a == b, (a, b)
PY
  leftovers=$(ls -A "$1" | grep -E '\.tmp-|\.g2convert' || true)
  [ -z "$leftovers" ] || fail "left behind after completion: $leftovers"
}

kills=0 midwrite=0 seqs=0 attempts=0
dst=$T/dst0
# Keep killing until TRIALS kills have landed while g2convert ran (a run that finished before
# its delay counts as an attempt, not a trial); each resumed run has less left to do, so the
# delays are drawn from the first 60% of an uninterrupted run.
while (( kills < TRIALS && attempts < 4 * TRIALS )); do
  attempts=$((attempts + 1))
  delay_ms=$(( RANDOM % (ref_ms * 3 / 5 + 1) ))
  "$C" "$T/src" "$dst" "${ARGS[@]}" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  landed=0
  kill -KILL $pid 2>/dev/null && landed=1
  wait $pid 2>/dev/null || true
  ls "$dst" 2>/dev/null | grep -q '\.tmp-' && midwrite=$((midwrite + 1))
  check_dst "$dst" || fail "attempt $attempts (kill after ${delay_ms} ms): invariant broken"
  kills=$((kills + landed))
  # After every fourth landed kill (or a run that completed), finish the run and compare.
  if (( landed == 0 || kills % 4 == 0 )); then
    "$C" "$T/src" "$dst" "${ARGS[@]}" >"$T/resume.log" 2>&1 || fail "resume after attempt $attempts failed: $(cat "$T/resume.log")"
    same_as_ref "$dst"
    seqs=$((seqs + 1))
    dst=$T/dst$attempts
  fi
done
echo "robust_crash: $attempts attempts, $kills SIGKILLs landed ($midwrite left a temp file mid-write), $seqs resumed runs byte-identical; reference run ${ref_ms} ms, $nref files"
[ $kills -ge 10 ] || fail "only $kills kills landed while g2convert ran"
[ $midwrite -ge 1 ] || fail "no kill landed mid-write"
echo "robust_crash: ok"
