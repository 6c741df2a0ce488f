#!/usr/bin/env bash
# The Python NumPy reference (tools/reference/grok2_numpy_ref.py) runs on g2synth output:
# a Grok-1 JAX checkpoint (its pickle loader accepts our files; activations finite, varied
# routing) and a Grok-2 model written as an HF set and as a TP-8 set, which must give
# identical activations. Skipped without the interop Python (numpy, ml_dtypes, safetensors).
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
PY=${G2_PYTHON:-}
if [ -z "$PY" ] || [ ! -x "$PY" ] || ! "$PY" -c 'import numpy, ml_dtypes, safetensors' 2>/dev/null; then
  echo "synth_reference: skipped (no Python with numpy, ml_dtypes, safetensors)"
  exit 0
fi
SYNTH="$G2_BIN_DIR/g2synth"
R="$G2_SOURCE_DIR/tools/reference"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
TOK=5,17,300,42,9,1000,7,3

"$SYNTH" --config "$G2_SOURCE_DIR/configs/grok-1-tiny.json" --format grok1-jax --seed 1 --out "$T/g1" >/dev/null
"$PY" -W ignore "$R/grok2_numpy_ref.py" --ckpt "$T/g1" --config "$G2_SOURCE_DIR/configs/grok-1-tiny.json" \
    --tokens $TOK --out "$T/g1.safetensors" >/dev/null

"$SYNTH" --config "$G2_SOURCE_DIR/configs/grok-2-tiny.json" --format hf --seed 1 --out "$T/hf" >/dev/null
"$SYNTH" --config "$G2_SOURCE_DIR/configs/grok-2-tiny.json" --format grok2-tp --tp 8 --seed 1 --out "$T/tp" >/dev/null
for d in hf tp; do
  "$PY" -W ignore "$R/grok2_numpy_ref.py" --ckpt "$T/$d" --config "$G2_SOURCE_DIR/configs/grok-2-tiny.json" \
      --tokens $TOK --out "$T/$d.safetensors" >/dev/null
done

"$PY" -W ignore - "$T" <<'PY'
import sys
import numpy as np
from safetensors.numpy import load_file
t = sys.argv[1]
g1 = load_file(f"{t}/g1.safetensors")
for k, v in g1.items():
    assert np.isfinite(v).all(), k
    if v.dtype != np.int32:
        assert np.abs(v).max() > 0, k
experts = np.concatenate([g1[k].ravel() for k in g1 if k.endswith(".experts")])
assert len(set(experts.tolist())) >= 4, "routing collapsed onto few experts"
hf, tp = load_file(f"{t}/hf.safetensors"), load_file(f"{t}/tp.safetensors")
assert hf.keys() == tp.keys()
for k in hf:
    assert np.isfinite(hf[k]).all(), k
    assert np.array_equal(hf[k], tp[k]), f"{k}: HF and TP-8 sets differ"
print("synth_reference: grok-1 |logits| max %.3g, grok-2 |logits| max %.3g" %
      (np.abs(g1["logits"]).max(), np.abs(hf["logits"]).max()))
PY
echo "synth_reference: ok"
