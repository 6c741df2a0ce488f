# Shared setup for the g2inspect CLI tests (sourced): the Python with numpy that writes their
# independent test sets (skip without it), the tool, a scratch dir removed on exit, fail().
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
PY=${G2_PYTHON:-}
if [ -z "$PY" ] || ! "$PY" -c 'import numpy' 2>/dev/null; then
  echo "SKIP: G2_PYTHON with numpy not available (run scripts/setup-python.sh build)"
  exit 0
fi
INSPECT="$G2_BIN_DIR/g2inspect"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
