#!/usr/bin/env bash
# Create BUILD_DIR/venv-ref: the environment that runs the public xai-org/grok-1
# JAX reference (tools/reference/grok1_jax_driver.py). Used only to produce
# golden data once; never in CI. CPU only.
#
#   tools/reference/setup-ref-env.sh BUILD_DIR
#
# Pins (checked on Python 3.11, x86_64, 2024 wheels from PyPI):
#   jax==0.4.25 jaxlib==0.4.25 (CPU)   - as xai-org/grok-1 requirements.txt
#   dm-haiku==0.0.12                   - as requirements.txt
#   numpy<2 (1.26.4)                   - jaxlib 0.4.25 is built against numpy 1.x
#   ml_dtypes, safetensors             - unpinned (ml_dtypes 0.5.4 worked)
# sentencepiece is not installed: the driver stubs it (only the tokenizer in
# runners.InferenceRunner uses it).
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
mkdir -p "$1"
BUILD_DIR=$(cd "$1" && pwd)
VENV="$BUILD_DIR/venv-ref"
PY="$VENV/bin/python"
REQS='jax==0.4.25 jaxlib==0.4.25 dm-haiku==0.0.12 numpy<2 ml_dtypes safetensors'
STAMP="$VENV/.g2kit-stamp"
STAMP_TEXT="g2kit-ref-v1: $REQS"
if [ -x "$PY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_TEXT" ]; then
    echo "$PY"
    exit 0
fi
PYTHON3=${PYTHON3:-python3}
if ! "$PYTHON3" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "setup-ref-env.sh: python3 venv module missing (Debian: apt-get install python3-venv)" >&2
    exit 1
fi
[ -x "$PY" ] || "$PYTHON3" -m venv "$VENV" >&2
# shellcheck disable=SC2086
"$PY" -m pip install --disable-pip-version-check -q $REQS >&2
"$PY" -c 'import jax, haiku, numpy, ml_dtypes, safetensors; print("jax", jax.__version__, "haiku", haiku.__version__, "numpy", numpy.__version__, "ml_dtypes", ml_dtypes.__version__)' >&2
echo "$STAMP_TEXT" > "$STAMP"
echo "$PY"
