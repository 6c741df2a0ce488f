#!/usr/bin/env bash
# Create (idempotently) the small Python venv used by interop tests and the
# NumPy reference drivers: BUILD_DIR/venv with numpy, safetensors, ml_dtypes, and the
# tokenizer oracles of tests/libmodel/tokenizer (sentencepiece: trainer and encoder; tiktoken), pinned.
# No torch, no jax: the SGLang loader tests have their own venv (scripts/setup-sglang-venv.sh). Prints the venv's python path on stdout (last line).
#
#   scripts/setup-python.sh BUILD_DIR
#
# Reruns are instant once the stamp file matches the requirement list.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
BUILD_DIR=$1
mkdir -p "$BUILD_DIR"
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
VENV="$BUILD_DIR/venv"
PY="$VENV/bin/python"
REQS="numpy==2.4.6 ml_dtypes==0.7.0 safetensors==0.8.0 sentencepiece==0.2.1 tiktoken==0.12.0"  # pinned; bump together, then rerun
STAMP="$VENV/.g2kit-stamp"
STAMP_TEXT="g2kit-python-v1: $REQS"

if [ -x "$PY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_TEXT" ]; then
    echo "$PY"
    exit 0
fi

# Tests that find no venv call this script themselves, several at once under `ctest -j`: one
# creates the venv while the others wait for the lock, then find it ready.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$BUILD_DIR/.venv.lock"
    flock 9
    if [ -x "$PY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_TEXT" ]; then
        echo "$PY"
        exit 0
    fi
fi

PYTHON3=${PYTHON3:-python3}
if ! command -v "$PYTHON3" >/dev/null 2>&1; then
    echo "setup-python.sh: $PYTHON3 not found; install python3 (Debian: apt-get install python3 python3-venv)" >&2
    exit 1
fi
if ! "$PYTHON3" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "setup-python.sh: the Python venv module (with ensurepip) is missing;" \
         "install it (Debian: apt-get install python3-venv)" >&2
    exit 1
fi

if [ ! -x "$PY" ]; then
    rm -rf "$VENV"
    if ! "$PYTHON3" -m venv "$VENV" >&2; then
        echo "setup-python.sh: '$PYTHON3 -m venv' failed; is python3-venv installed?" >&2
        rm -rf "$VENV"
        exit 1
    fi
fi

"$PY" -m pip install --disable-pip-version-check -q $REQS >&2
"$PY" -c 'import numpy, ml_dtypes, safetensors.numpy, sentencepiece, tiktoken' >&2
echo "$STAMP_TEXT" > "$STAMP"
echo "$PY"
