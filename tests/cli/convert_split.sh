#!/usr/bin/env bash
# One conversion split over processes and nodes (README "Convert on several nodes"):
#  - `--part I/N`: N concurrent processes sharing a destination end byte-identical to the
#    one-process run (every file, g2manifest.json included, nothing else left behind); one
#    part SIGKILLed mid-run leaves no manifest, --merge-manifest names it, and rerunning it
#    restores the identical destination; the same part twice is refused, other parts run on.
#  - `--ranks A-B`: two node shares of a TP16 set hold the common files and their ranks,
#    each file identical to the whole run's; g2inspect --verify says "ranks 8-15 of 16";
#    g2diff refuses a share (exit 2) naming the missing ranks; --layout hf is refused.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
C="$G2_BIN_DIR/g2convert"
T=$(mktemp -d /tmp/g2convert_split.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$G2_BIN_DIR/g2synth" --config "$G2_SOURCE_DIR/configs/grok-2-tiny.json" --format grok2-tp --tp 8 --out "$T/src" >/dev/null
echo '{"model": "tiny"}' > "$T/src/tokenizer.tok.json"  # copied by part 1
# One thread and small chunks: each part writes its ~50 files one after another.
ARGS=(--tp 16 --layout rank --dtype fp8 --fp8-block 8 --threads 1 --mem-limit 16M)
N=4

# The reference: one process, into the path the split runs use later (the manifest records it).
D=$T/dst
"$C" "$T/src" "$D" "${ARGS[@]}" 2>/dev/null
mv "$D" "$T/ref"
same_as_ref() {  # what: the destination equals the one-process run, hidden files included
  diff -r "$T/ref" "$D" >/dev/null || fail "$1: differs from the one-process run: $(diff -rq "$T/ref" "$D" | head -3)"
  [ "$(ls -A "$T/ref")" = "$(ls -A "$D")" ] || fail "$1: other files left: $(ls -A "$D" | grep -E '^\.|part|tmp' || true)"
}
start_parts() {  # I...: start those parts in the background, logs in $T/part-I.log
  for i in "$@"; do "$C" "$T/src" "$D" "${ARGS[@]}" --part "$i/$N" >"$T/part-$i.log" 2>&1 & pids[i]=$!; done
}
wait_part() {  # I [rc]
  local rc=0
  wait "${pids[$1]}" || rc=$?
  [ "$rc" = "${2:-0}" ] || fail "part $1/$N exited $rc (expected ${2:-0}): $(tail -3 "$T/part-$1.log")"
}

# N parts at once.
start_parts 1 2 3 4
for i in 1 2 3 4; do wait_part "$i"; done
[ "$(cat "$T"/part-*.log | grep -c "finished last: g2manifest.json written")" = 1 ] || fail "not exactly one part wrote the manifest"
same_as_ref "$N concurrent parts"
echo "convert_split: $N concurrent parts byte-identical to the one-process run ($(ls "$D" | wc -l) files)"

# One part SIGKILLed mid-run, the others finish; rerunning it completes the destination.
landed=0
for attempt in 1 2 3 4 5; do
  rm -rf "$D"
  start_parts 1 2 3 4
  # kill part 2 once its journal lists a finished file (so it is past its start, not done)
  for _ in $(seq 2000); do grep -q '"path"' "$D/g2convert.part-2-of-$N.partial.json" 2>/dev/null && break; sleep 0.005; done
  kill -KILL "${pids[2]}" 2>/dev/null || true
  wait "${pids[2]}" 2>/dev/null || true
  for i in 1 3 4; do wait_part "$i"; done
  [ -e "$D/g2convert.part-2-of-$N.json" ] && continue  # it had finished already: try again
  landed=1
  break
done
[ $landed = 1 ] || fail "no SIGKILL landed while part 2 ran in 5 attempts"
[ ! -e "$D/g2manifest.json" ] || fail "g2manifest.json written without part 2"
set +e; out=$("$C" --merge-manifest "$D" 2>&1); rc=$?; set -e
[ $rc = 2 ] || fail "--merge-manifest with part 2 missing exited $rc: $out"
grep -q "1 of $N parts have not finished" <<<"$out" && grep -q "part 2/$N (unfinished" <<<"$out" || fail "--merge-manifest does not name part 2: $out"
start_parts 2
wait_part 2
grep -q "part 2/$N finished last: g2manifest.json written" "$T/part-2.log" || fail "rerun part 2 did not merge: $(cat "$T/part-2.log")"
same_as_ref "parts with part 2 killed and rerun"
out=$("$C" --merge-manifest "$D" 2>&1) || fail "--merge-manifest on a finished destination: $out"
grep -q "already there" <<<"$out" || fail "unexpected --merge-manifest output: $out"
echo "convert_split: part 2 SIGKILLed (attempt $attempt), no manifest until its rerun, then byte-identical"

# The same part twice is refused; a different part and the rest run alongside.
stopped=0
for attempt in 1 2 3 4 5; do
  rm -rf "$D"
  start_parts 1
  for _ in $(seq 2000); do [ -s "$D/.g2convert.part-1-of-$N.lock" ] && break; sleep 0.005; done
  kill -STOP "${pids[1]}"
  # stopped while it holds its lock, not after it finished: else try again
  [ -s "$D/.g2convert.part-1-of-$N.lock" ] && [ ! -e "$D/g2convert.part-1-of-$N.json" ] && { stopped=1; break; }
  kill -CONT "${pids[1]}"; wait_part 1
done
[ $stopped = 1 ] || fail "part 1 always finished before it could be stopped"
set +e; out=$("$C" "$T/src" "$D" "${ARGS[@]}" --part 1/$N 2>&1); rc=$?; set -e
[ $rc = 2 ] && grep -q "part 1/$N is being written by another g2convert (pid ${pids[1]}" <<<"$out" || fail "second writer of part 1 ($rc): $out"
set +e; out=$("$C" "$T/src" "$D" "${ARGS[@]}" 2>&1); rc=$?; set -e
[ $rc = 2 ] && grep -q "being written by another g2convert (--part runs" <<<"$out" || fail "one-process run beside parts ($rc): $out"
start_parts 2 3 4
for i in 2 3 4; do wait_part "$i"; done
kill -CONT "${pids[1]}"
wait_part 1
same_as_ref "parts with a refused second writer"
echo "convert_split: a second writer of a part refused (exit 2), other parts ran alongside"

# Two node shares of TP16, converted at the same time (as on two nodes).
for n in 0 1; do "$C" "$T/src" "$T/node$n" "${ARGS[@]}" --ranks $((n * 8))-$((n * 8 + 7)) >"$T/node$n.log" 2>&1 & pids[n]=$!; done
for n in 0 1; do wait "${pids[$n]}" || fail "node $n share: $(tail -3 "$T/node$n.log")"; done
for n in 0 1; do
  for f in "$T/node$n"/*; do
    b=$(basename "$f"); [ "$b" = g2manifest.json ] && continue
    cmp -s "$f" "$T/ref/$b" || fail "node $n: $b differs from the whole run's"
  done
done
want=$(ls "$T/ref" | grep -v g2manifest.json)
got=$(ls "$T/node0" "$T/node1" | grep -v -e g2manifest.json -e '^$' -e ':$' | sort -u)
[ "$want" = "$got" ] || fail "the two shares do not add up to the whole set"
! ls "$T/node1" | grep -qE 'TP-00[0-7]\.' || fail "node 1 holds ranks 0-7"
out=$("$G2_BIN_DIR/g2inspect" "$T/node1" --verify) || fail "g2inspect --verify on node 1's share failed: $out"
grep -q "ranks 8-15 of 16" <<<"$out" && grep -q "^verify: ok" <<<"$out" || fail "g2inspect --verify does not say ranks 8-15 of 16: $out"
set +e; out=$("$G2_BIN_DIR/g2diff" "$T/src" "$T/node1" -q 2>&1); rc=$?; set -e
[ $rc = 2 ] && grep -q "ranks 0-7 are missing" <<<"$out" || fail "g2diff on a share exited $rc: $out"
rm "$T/node1/pytorch_model-00006-TP-009.safetensors"
set +e; out=$("$G2_BIN_DIR/g2inspect" "$T/node1" --verify 2>&1); rc=$?; set -e
[ $rc = 1 ] && grep -q "MISMATCH pytorch_model-00006-TP-009.safetensors: missing" <<<"$out" || fail "a share missing a file ($rc): $out"
set +e; out=$("$C" "$T/src" "$T/hf" --ranks 0-7 --layout hf 2>&1); rc=$?; set -e
[ $rc = 2 ] && grep -q "layout hf writes unsharded files" <<<"$out" || fail "--ranks with --layout hf ($rc): $out"
set +e; out=$("$C" "$T/src" "$T/x" "${ARGS[@]}" --ranks 8-16 2>&1); rc=$?; set -e
[ $rc = 2 ] && grep -q "outside ranks 0-15 of tp 16" <<<"$out" || fail "--ranks 8-16 ($rc): $out"
# --layout tp: the common files (attention, dense MLP, ...) and the experts of those ranks
"$C" "$T/src" "$T/tpnode1" --tp 16 --layout tp --ranks 8-15 2>/dev/null
"$G2_BIN_DIR/g2inspect" "$T/tpnode1" --verify | grep -q "^verify: ok" || fail "--layout tp share does not verify"
echo "convert_split: two TP16 node shares identical to the whole run's files; inspect, diff and refusals as documented"

# A node's share in parts: the same bytes as the share in one process.
"$C" "$T/src" "$T/share" "${ARGS[@]}" --ranks 8-15 >/dev/null 2>&1
mv "$T/share" "$T/share-ref"
for i in 1 2; do "$C" "$T/src" "$T/share" "${ARGS[@]}" --ranks 8-15 --part $i/2 >"$T/share$i.log" 2>&1 & pids[i]=$!; done
for i in 1 2; do wait "${pids[$i]}" || fail "share part $i: $(tail -3 "$T/share$i.log")"; done
diff -r "$T/share-ref" "$T/share" >/dev/null || fail "a share in 2 parts differs from the share in one process"
echo "convert_split: ok"
