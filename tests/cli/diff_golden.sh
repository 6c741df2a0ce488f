#!/usr/bin/env bash
# g2diff against golden activations from the public references (testdata/golden/README.md).
set -euo pipefail
source "${G2_SOURCE_DIR:?G2_SOURCE_DIR is not set}/tests/cli/diff_lib.bash"
G="$G2_SOURCE_DIR/testdata/golden"

# Grok-2 tiny vs the independent NumPy reference, f32 mode: same math, another summation order.
# (the golden checkpoints are g2synth's, seeds in testdata/golden/README.md; gate_lib checks digests)
"$G2_BIN_DIR/g2synth" --config "$CFG" --format grok2-tp --tp 8 --seed 2 --out "$WORK/tp8" >/dev/null
expect_rc 0 "$G2DIFF" "$WORK/tp8" --reference "$G/grok2-tiny.numpy.safetensors.zst" --tolerance f32 -q \
  --json "$WORK/g2.json"
[ "$(json_get "$WORK/g2.json" pass)" = "True" ]
# ... and rank by rank as served at TP8
expect_rc 0 "$G2DIFF" "$WORK/tp8" --tp-exec --reference "$G/grok2-tiny.numpy.safetensors.zst" --tolerance f32 -q
grep -q "rank-by-rank" "$WORK/out.txt"

# Grok-1 tiny vs the JAX reference itself: reference precision must match within bf16
# rounding with every logit argmax equal.
"$G2_BIN_DIR/g2synth" --config "$G2_SOURCE_DIR/configs/grok-1-tiny.json" --format grok1-jax --seed 1 \
  --out "$WORK/g1" >/dev/null
# OpenBLAS's Haswell kernel sums in the order of XLA's CPU dots that made the golden data; its
# AVX-512 kernels do not (libmodel/README.md, "Precision modes"), so the kernel is pinned for this comparison.
OPENBLAS_CORETYPE=Haswell expect_rc 0 "$G2DIFF" "$WORK/g1" --config "$G2_SOURCE_DIR/configs/grok-1-tiny.json" --mode reference \
  --reference "$G/grok1-tiny.jax.safetensors.zst" --tolerance bf16 -q --json "$WORK/g1.json"
"$PY" - "$WORK/g1.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["logits"]["top1_agreement"] == 1.0, r["logits"]
print("grok-1 reference mode vs JAX: logits max_abs %s rel_rms %s" % (r["logits"]["max_abs"], r["logits"]["rel_rms"]))
PYEOF
echo "diff_golden: ok"
