#!/usr/bin/env bash
# Create (idempotently) the virtualenv of the SGLang loader tests: BUILD_DIR/venv-sglang with
# the real sglang 0.5.23, torch 2.14.1 and transformers 5.19.0, every package pinned in
# tests/interop/sglang/requirements.lock and installed with --no-deps from that list alone.
# About 6 GB (torch's CUDA wheels: its import needs them even on a CPU-only machine) and 3
# minutes from PyPI; kept apart from the small venv of scripts/setup-python.sh and reused while
# the lock file is unchanged. Prints the venv's python path on stdout (last line).
#
#   scripts/setup-sglang-venv.sh BUILD_DIR
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCK="$ROOT/tests/interop/sglang/requirements.lock"
BUILD_DIR=$1
mkdir -p "$BUILD_DIR"
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
VENV="$BUILD_DIR/venv-sglang"
PY="$VENV/bin/python"
STAMP="$VENV/.g2kit-stamp"
STAMP_TEXT="g2kit-sglang-venv: $(sha256sum "$LOCK" | cut -d' ' -f1)"

ready() { [ -x "$PY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$STAMP_TEXT" ]; }
if ready; then
    echo "$PY"
    exit 0
fi
# ctest -j may start several tests that need it at once: one installs, the others wait.
exec 9>"$BUILD_DIR/.venv-sglang.lock"
flock 9
if ready; then
    echo "$PY"
    exit 0
fi

PYTHON3=${PYTHON3:-python3}
if ! "$PYTHON3" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)' 2>/dev/null; then
    echo "setup-sglang-venv.sh: sglang 0.5.23 needs Python >= 3.11; $PYTHON3 is" \
         "$("$PYTHON3" --version 2>&1 || echo missing) (set PYTHON3=/path/to/python3.11)" >&2
    exit 1
fi
if ! "$PYTHON3" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "setup-sglang-venv.sh: the Python venv module is missing (Debian: apt-get install python3-venv)" >&2
    exit 1
fi
avail_kb=$(df -Pk "$BUILD_DIR" | awk 'NR == 2 {print $4}')
if [ "${avail_kb:-0}" -lt $((8 * 1024 * 1024)) ]; then
    echo "setup-sglang-venv.sh: $BUILD_DIR has $((avail_kb / 1024)) MiB free; the venv needs about 6 GiB" \
         "(8 GiB free while pip unpacks)" >&2
    exit 1
fi

echo "setup-sglang-venv.sh: installing the SGLang loader venv in $VENV (about 6 GB, 3 minutes)..." >&2
rm -rf "$VENV"
"$PYTHON3" -m venv "$VENV" >&2
start=$(date +%s)
if ! "$PY" -m pip install --disable-pip-version-check -q --no-deps -r "$LOCK" >&2; then
    echo "setup-sglang-venv.sh: pip could not install $LOCK (network to PyPI? disk?)" >&2
    exit 1
fi
# the harness's own import check: torch, transformers and SGLang's model loading code
if ! PYTHONPATH="$ROOT/tests/interop/sglang" "$PY" -c \
    'import sglang_host; sglang_host.install(); import sglang.srt.models.grok, sglang.srt.model_loader.loader' >&2; then
    echo "setup-sglang-venv.sh: the venv installed but SGLang's loader does not import" >&2
    exit 1
fi
echo "setup-sglang-venv.sh: ready in $(($(date +%s) - start)) s" >&2
echo "$STAMP_TEXT" >"$STAMP"
echo "$PY"
