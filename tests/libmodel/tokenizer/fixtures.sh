#!/usr/bin/env bash
# The tokenizer fixtures of make_tokenizers.py (tiny tokenizer.model and tokenizer.tok.json, and
# the Python libraries' ids), built once per build folder and shared by tests/libmodel/tokenizer and the
# CLI tests: prints their folder.
#
#   tests/libmodel/tokenizer/fixtures.sh BUILD_DIR
set -euo pipefail
BUILD=$(mkdir -p "$1" && cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
SCRIPT=$SRC/tests/libmodel/tokenizer/make_tokenizers.py
DIR=$BUILD/tokenizer-fixtures
PY=${G2_PYTHON:-$BUILD/venv/bin/python}
if ! [ -x "$PY" ] || ! "$PY" -c 'import sentencepiece, tiktoken' 2>/dev/null; then
  PY=$(bash "$SRC/scripts/setup-python.sh" "$BUILD" | tail -1)
fi
exec 9>"$BUILD/.tokenizer-fixtures.lock"
flock 9
if ! [ "$DIR/oracle.json" -nt "$SCRIPT" ]; then
  rm -rf "$DIR.tmp" "$DIR"
  "$PY" "$SCRIPT" "$DIR.tmp" >&2
  mv "$DIR.tmp" "$DIR"
fi
echo "$DIR"
