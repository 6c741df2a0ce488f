#!/usr/bin/env bash
# g2synth --format grok1-jax: deterministic (same seed -> same bytes for any --threads, checked
# by hashing every file), seed-sensitive, refuses to overwrite without --force, exit code 2 on bad input.
# With the interop Python, the files load through plain pickle.load (numpy + ml_dtypes,
# QuantizedWeight8bit injected into __main__ the way the reference's checkpoint.py does).
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
SYNTH="$G2_BIN_DIR/g2synth"
CFG="$G2_SOURCE_DIR/configs/grok-1-tiny.json"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

hash_dir() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1); }

"$SYNTH" --config "$CFG" --format grok1-jax --seed 3 --out "$T/a" >/dev/null
"$SYNTH" --config "$CFG" --format grok1-jax --seed 3 --out "$T/b" --threads 1 >/dev/null
"$SYNTH" --config "$CFG" --format grok1-jax --seed 4 --out "$T/c" >/dev/null
n=$(ls "$T/a/ckpt-0" | wc -l)
[ "$n" -eq 26 ] || { echo "expected 26 tensor files for 2 layers, got $n"; exit 1; }
[ -f "$T/a/config.json" ] || { echo "no config.json"; exit 1; }
[ "$(hash_dir "$T/a")" = "$(hash_dir "$T/b")" ] || { echo "same seed, different bytes"; exit 1; }
[ "$(hash_dir "$T/a")" != "$(hash_dir "$T/c")" ] || { echo "different seeds, same bytes"; exit 1; }

# refuses a non-empty --out without --force (exit 2); --force replaces and gives the same bytes
set +e
"$SYNTH" --config "$CFG" --format grok1-jax --seed 3 --out "$T/c" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "non-empty --out without --force: exit $rc, expected 2"; exit 1; }
"$SYNTH" --config "$CFG" --format grok1-jax --seed 3 --out "$T/c" --force >/dev/null
[ "$(hash_dir "$T/a")" = "$(hash_dir "$T/c")" ] || { echo "--force output differs from a fresh one"; exit 1; }

# a grok-2 config cannot become a Grok-1 JAX checkpoint
set +e
"$SYNTH" --config "$G2_SOURCE_DIR/configs/grok-2-tiny.json" --format grok1-jax --out "$T/d" >/dev/null 2>"$T/err"
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "needs a grok-1 config" "$T/err" || { echo "grok-2 config: exit $rc"; cat "$T/err"; exit 1; }

if [ -n "${G2_PYTHON:-}" ] && [ -x "$G2_PYTHON" ] && "$G2_PYTHON" -c 'import numpy, ml_dtypes' 2>/dev/null; then
  "$G2_PYTHON" -W ignore - "$T/a" <<'PY'
import os, pickle, sys
from dataclasses import dataclass
import numpy as np, ml_dtypes

@dataclass
class QuantizedWeight8bit:
    weight: object
    scales: object

root = sys.argv[1]
files = sorted(os.listdir(os.path.join(root, "ckpt-0")))
nq = 0
for fn in files:
    with open(os.path.join(root, "ckpt-0", fn), "rb") as f:
        obj = pickle.load(f)
    if isinstance(obj, QuantizedWeight8bit):
        nq += 1
        assert obj.weight.dtype == np.int8 and obj.scales.dtype == ml_dtypes.bfloat16, fn
        w = obj.weight.astype(np.float32)
        K, G = w.shape[-2], obj.scales.shape[-2]
        s = np.repeat(obj.scales.astype(np.float32), K // G, axis=-2)
        real = w * s
        assert np.abs(obj.weight).max() == 127, fn  # symmetric amax/127 scaling hits 127
    else:
        assert obj.dtype == np.float32, fn
        real = obj
    assert np.isfinite(real).all() and np.abs(real).max() > 0, fn
assert nq == 2 * 7, nq
print("python: loaded", len(files), "files,", nq, "quantized")
PY
fi
echo "synth_grok1: ok"
