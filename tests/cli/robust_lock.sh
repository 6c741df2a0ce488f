#!/usr/bin/env bash
# Concurrency (issue 8): a second g2convert into a destination another g2convert is writing
# refuses (exit 2, a message naming the lock and the pid) and leaves the first run's output
# intact; a lock left by a dead process is taken over.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
C="$G2_BIN_DIR/g2convert"
T=$(mktemp -d /tmp/g2robust_lock.XXXXXX)
trap 'kill $pid 2>/dev/null || true; rm -rf "$T"' EXIT
pid=
fail() { echo "FAIL: $*" >&2; exit 1; }

python3 "$G2_SOURCE_DIR/tests/cli/robust_make_hf.py" "$G2_SOURCE_DIR/tests/robust/grok-2-crash.json" "$T/src" 3
ARGS=(--tp 4 --layout rank --dtype fp8 --fp8-scale channel --mem-limit 16M --threads 1)
"$C" "$T/src" "$T/ref" "${ARGS[@]}" >/dev/null 2>&1

# SIGSTOP keeps the first run holding its lock for as long as the test needs.
"$C" "$T/src" "$T/dst" "${ARGS[@]}" >"$T/first.log" 2>&1 &
pid=$!
# The lock file is created, then flock'ed, then the pid is written: wait for the pid, or a
# slow (sanitizer) build can be stopped between open and flock and not hold the lock yet.
for _ in $(seq 1000); do [ -s "$T/dst/.g2convert.lock" ] && break; sleep 0.01; done
[ -s "$T/dst/.g2convert.lock" ] || fail "first run never took the lock"
kill -STOP $pid
for extra in "" "--force"; do
  set +e; out=$("$C" "$T/src" "$T/dst" "${ARGS[@]}" $extra 2>&1); rc=$?; set -e
  [ $rc = 2 ] || fail "second run ($extra) exited $rc, expected 2: $out"
  grep -q "being written by another g2convert (pid $pid" <<<"$out" || fail "unclear lock message: $out"
  grep -qF "$T/dst/.g2convert.lock" <<<"$out" || fail "lock message does not name the lock file: $out"
done
kill -CONT $pid
wait $pid || fail "first run failed after the refused second run: $(cat "$T/first.log")"
pid=
for f in "$T"/ref/*; do
  n=$(basename "$f"); [ "$n" = g2manifest.json ] && continue
  cmp -s "$f" "$T/dst/$n" || fail "$n corrupted by the concurrent attempt"
done
[ ! -e "$T/dst/.g2convert.lock" ] || fail "lock left after a finished run"

# Three runs started together into one fresh destination: each either wins the lock (or
# resumes after the winner) and exits 0, or refuses with 2; the result equals the reference.
pids=()
for k in 1 2 3; do "$C" "$T/src" "$T/race" "${ARGS[@]}" >"$T/race$k.log" 2>&1 & pids+=($!); done
ok=0
for k in 1 2 3; do
  set +e; wait "${pids[$((k - 1))]}"; rc=$?; set -e
  case $rc in
    0) ok=$((ok + 1)) ;;
    2) grep -q "being written by another g2convert" "$T/race$k.log" || fail "race run $k: exit 2 without the lock message: $(cat "$T/race$k.log")" ;;
    *) fail "race run $k exited $rc: $(cat "$T/race$k.log")" ;;
  esac
done
[ $ok -ge 1 ] || fail "no racing run succeeded"
for f in "$T"/ref/*; do
  n=$(basename "$f"); [ "$n" = g2manifest.json ] && continue
  cmp -s "$f" "$T/race/$n" || fail "$n differs after three racing runs"
done

# Stale lock: the pid of a process that has exited.
sh -c 'exit 0' & dead=$!; wait $dead
printf '%s\n' $dead > "$T/stale.lock"
mkdir "$T/dst2" && cp "$T/stale.lock" "$T/dst2/.g2convert.lock"
"$C" "$T/src" "$T/dst2" "${ARGS[@]}" >"$T/stale.log" 2>&1 || fail "stale lock (pid $dead) not recovered: $(cat "$T/stale.log")"
[ -e "$T/dst2/g2manifest.json" ] || fail "no manifest after recovering a stale lock"
# An empty or garbage lock file (a writer killed between create and write) is stale too.
mkdir "$T/dst3" && echo garbage > "$T/dst3/.g2convert.lock"
"$C" "$T/src" "$T/dst3" "${ARGS[@]}" >"$T/g.log" 2>&1 || fail "garbage lock not recovered: $(cat "$T/g.log")"
echo "robust_lock: ok"
