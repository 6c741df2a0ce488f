# Shared setup for the g2diff CLI tests (sourced). Builds tiny Grok-2 sets with the NumPy
# synthesizer (tools/reference/make_tiny_grok2.py): seed 1 in HF layout, TP8 and TP4 release
# layouts (same values).
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
PY=${G2_PYTHON:-python3}
if [ ! -x "$PY" ]; then
  PY=$(bash "$G2_SOURCE_DIR/scripts/setup-python.sh" "$(dirname "$G2_BIN_DIR")" | tail -1)
fi
G2DIFF="$G2_BIN_DIR/g2diff"
CORRUPT="$PY $G2_SOURCE_DIR/tests/cli/diff_corrupt.py"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/g2diff-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
CFG="$G2_SOURCE_DIR/configs/grok-2-tiny.json"
synth() {  # synth OUT LAYOUT [TP]
  "$PY" "$G2_SOURCE_DIR/tools/reference/make_tiny_grok2.py" --config "$CFG" --out "$WORK/$1" --seed 1 \
    --layout "$2" ${3:+--tp $3} >/dev/null
}
# expect_rc WANT cmd...: run, show the output, fail unless the exit code is WANT.
expect_rc() {
  local want=$1 rc=0
  shift
  "$@" >"$WORK/out.txt" 2>&1 || rc=$?
  cat "$WORK/out.txt"
  if [ "$rc" != "$want" ]; then
    echo "FAIL: expected exit $want, got $rc: $*" >&2
    exit 1
  fi
}
# json_get FILE KEY: a top-level field of a g2diff --json report
json_get() { "$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
