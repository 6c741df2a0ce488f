# Shared setup of the CI regression gate (tests/cli/gate_*.sh; sourced, not a test itself).
# Synthesizes the golden tiny checkpoints with g2synth from the facts recorded in
# testdata/golden/README.md (seed, format, TP, model digest) and refuses to go on when g2synth
# no longer produces the recorded checkpoint: the golden activations would then be about
# another model. Every g2diff run goes through `check`, which keeps its table in the log and
# makes the script fail at the end (all failures are shown, not only the first).
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
export OPENBLAS_NUM_THREADS=1  # 2 shared cores: BLAS threads only add contention on tiny GEMMs
GOLDEN=${G2_GOLDEN_DIR:-$G2_SOURCE_DIR/testdata/golden}  # override: negative tests of the gate
SYNTH="$G2_BIN_DIR/g2synth"
# shellcheck disable=SC2034 # used by the gate scripts
CONV="$G2_BIN_DIR/g2convert"
DIFF="$G2_BIN_DIR/g2diff"
INSPECT="$G2_BIN_DIR/g2inspect"
JOBS=${G2_GATE_JOBS:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/g2gate.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/status"
T0=$(date +%s)

# golden_row NAME: the README table row `| NAME | config | format | tp | seed | digest |`
golden_row() {
  local row
  row=$(grep -E "^\| *$1 *\|" "$GOLDEN/README.md" | head -1) || true
  [ -n "$row" ] || { echo "FAIL: no row for $1 in $GOLDEN/README.md" >&2; exit 1; }
  echo "$row" | awk -F'|' '{for (i = 2; i <= 7; i++) { gsub(/[ `]/, "", $i); printf "%s ", $i } print ""}'
}

model_digest() { "$INSPECT" "$@" --digests | awk '/^model xxh3_128/ {print $3}'; }

# synth_golden NAME OUT: g2synth exactly as recorded, then the digest check.
synth_golden() {
  local cfg fmt tp seed want got
  read -r _ cfg fmt tp seed want <<<"$(golden_row "$1")"
  "$SYNTH" --config "$G2_SOURCE_DIR/$cfg" --format "$fmt" --tp "$tp" --seed "$seed" --out "$2" >/dev/null
  got=$(model_digest "$2")
  if [ "$got" != "$want" ]; then
    echo "FAIL: g2synth $1 (seed $seed) gives model digest $got, testdata/golden/README.md records $want:" >&2
    echo "      the synthesizer changed; regenerate the golden data (tools/reference/make_golden.sh)" >&2
    exit 1
  fi
  echo "synth $1: digest $got ok"
}

# check LABEL WANT_RC g2diff-args...: one g2diff run; its table goes to the log on failure.
check() {
  local label=$1 want=$2 rc=0 log
  shift 2
  log="$WORK/status/$(echo "$label" | tr -c 'A-Za-z0-9_.-' '_').log"
  "$DIFF" -q "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" = "$want" ]; then
    echo "ok   $label" >>"$log.ok"
  else
    { echo "FAIL $label: g2diff exit $rc (want $want): g2diff $*"; cat "$log"; } >"$log.fail"
  fi
}

# step LABEL cmd...: a non-g2diff command (conversion); failure recorded like check's.
step() {
  local label=$1 rc=0 log
  shift
  log="$WORK/status/$(echo "$label" | tr -c 'A-Za-z0-9_.-' '_').log"
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    { echo "FAIL $label: exit $rc: $*"; cat "$log"; } >"$log.fail"
    return 1
  fi
}

# spawn FUNC args...: run in the background, at most JOBS at once.
spawn() {
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  "$@" &
}

# finish NAME: wait for every job, print the results, exit 1 on any failure.
finish() {
  wait || true
  local n_ok n_fail
  n_ok=$(find "$WORK/status" -name '*.ok' -exec cat {} + | wc -l)
  n_fail=$(find "$WORK/status" -name '*.fail' | wc -l)
  find "$WORK/status" -name '*.ok' -exec cat {} + | sort
  if [ "$n_fail" -gt 0 ]; then
    for f in "$WORK"/status/*.fail; do echo; cat "$f"; done
    echo "$1: $n_fail FAILED, $n_ok passed ($(($(date +%s) - T0)) s)"
    exit 1
  fi
  echo "$1: ok, $n_ok checks passed ($(($(date +%s) - T0)) s)"
}
