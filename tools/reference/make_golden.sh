#!/usr/bin/env bash
# Regenerates testdata/golden/: synthesizes the tiny checkpoints with g2synth, runs the public
# JAX reference (Grok-1) and the NumPy reference (Grok-1 and Grok-2) on fixed tokens, and
# writes the zstd-compressed activation files plus the facts testdata/golden/README.md records
# (digests, versions, reference commit) to OUT/golden.log. Not run by CI (needs the JAX venv
# and the reference checkout); CI only checks that g2synth still gives the recorded digests.
#
#   tools/reference/make_golden.sh [BUILD=build] [OUT=testdata/golden]
#   env: JPY   python of the JAX venv   (default BUILD/venv-ref/bin/python: setup-ref-env.sh BUILD)
#        REF   xai-org/grok-1 checkout  (default BUILD/grok-1, commit in .g2kit-commit; README.md "Setup")
set -euo pipefail
export OPENBLAS_NUM_THREADS=1  # NumPy's BLAS summation order: one thread, reproducible bits
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
OUT=${2:-$SRC/testdata/golden}
JPY=${JPY:-$BUILD/venv-ref/bin/python}
REF=${REF:-$BUILD/grok-1}
R=$SRC/tools/reference
# The facts the gate tests also use: keep in sync with testdata/golden/README.md.
G1_SEED=1
G2_SEED=2
TOKENS=5,17,300,42,9,1000,7,3,88,512,64,901,23,777,150,11
W=$(mktemp -d "${TMPDIR:-/tmp}/g2golden.XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir -p "$OUT"
LOG=$OUT/golden.log
: >"$LOG"
say() { echo "$*" | tee -a "$LOG"; }

digest() { "$BUILD/bin/g2inspect" "$1" --digests | awk '/^model xxh3_128/ {print $3}'; }

say "date: $(date -u +%FT%TZ)"
say "g2kit commit: $(git -C "$SRC" rev-parse HEAD)"
say "reference: xai-org/grok-1 $(cat "$REF/.g2kit-commit" 2>/dev/null || git -C "$REF" rev-parse HEAD)"
say "python: $("$JPY" -c 'import sys; print(sys.version.split()[0])')"
say "packages: $("$JPY" -c 'import jax, jaxlib, haiku, numpy, ml_dtypes, safetensors as s; print(f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, dm-haiku {haiku.__version__}, numpy {numpy.__version__}, ml_dtypes {ml_dtypes.__version__}, safetensors {s.__version__}")')"
say "tokens: $TOKENS"

# Grok-1 tiny: g2synth pickles, loaded by the reference's own checkpoint.py
"$BUILD/bin/g2synth" --config "$SRC/configs/grok-1-tiny.json" --format grok1-jax --seed $G1_SEED --out "$W/g1"
say "grok1-tiny: g2synth --config configs/grok-1-tiny.json --format grok1-jax --seed $G1_SEED"
say "grok1-tiny model digest: $(digest "$W/g1")"
"$JPY" "$R/grok1_jax_driver.py" --ref-checkout "$REF" --ckpt "$W/g1" --config "$SRC/configs/grok-1-tiny.json" \
  --tokens "$TOKENS" --out "$W/g1.jax.safetensors"
# f32 NumPy reference; weights = bf16(int8 * scale), the reference's dequantization (as g2kit's
# f32 mode and a Grok-2 BF16 upgrade hold them)
"$JPY" "$R/grok2_numpy_ref.py" --ckpt "$W/g1" --config "$SRC/configs/grok-1-tiny.json" --tokens "$TOKENS" \
  --mode f32 --grok1-dequant bf16 --out "$W/g1.numpy.safetensors"
# the NumPy emulation of the JAX rounding points, as a cross-check of the JAX run
"$JPY" "$R/grok2_numpy_ref.py" --ckpt "$W/g1" --config "$SRC/configs/grok-1-tiny.json" --tokens "$TOKENS" \
  --mode jax-bf16 --out "$W/g1.jaxemu.safetensors"
say "jax vs numpy jax-bf16 emulation:"
"$JPY" "$R/compare_acts.py" "$W/g1.jax.safetensors" "$W/g1.jaxemu.safetensors" | tee -a "$LOG"

# Grok-2 tiny: the TP8 release layout, NumPy f32 reference (16 tokens > attn_temperature_len 4)
"$BUILD/bin/g2synth" --config "$SRC/configs/grok-2-tiny.json" --format grok2-tp --tp 8 --seed $G2_SEED --out "$W/g2"
say "grok2-tiny: g2synth --config configs/grok-2-tiny.json --format grok2-tp --tp 8 --seed $G2_SEED"
say "grok2-tiny model digest: $(digest "$W/g2")"
"$JPY" "$R/grok2_numpy_ref.py" --ckpt "$W/g2" --config "$SRC/configs/grok-2-tiny.json" --tokens "$TOKENS" \
  --mode f32 --out "$W/g2.numpy.safetensors"

for f in g1.jax:grok1-tiny.jax g1.numpy:grok1-tiny.numpy g2.numpy:grok2-tiny.numpy; do
  zstd -q -19 -f "$W/${f%%:*}.safetensors" -o "$OUT/${f##*:}.safetensors.zst"
  chmod 644 "$OUT/${f##*:}.safetensors.zst"
done
ls -l "$OUT"/*.zst | tee -a "$LOG"

# The parity figures testdata/golden/README.md quotes: the g2kit runtime against each reference.
D="$BUILD/bin/g2diff"
for run in "$W/g1 --mode reference --reference $OUT/grok1-tiny.jax.safetensors.zst" \
           "$W/g1 --mode f32 --reference $OUT/grok1-tiny.jax.safetensors.zst" \
           "$W/g1 --mode f32 --reference $OUT/grok1-tiny.numpy.safetensors.zst --tolerance f32" \
           "$W/g2 --mode f32 --reference $OUT/grok2-tiny.numpy.safetensors.zst --tolerance f32" \
           "$W/g2 --mode f32 --tp-exec --reference $OUT/grok2-tiny.numpy.safetensors.zst --tolerance f32"; do
  say ""
  say "\$ g2diff $(echo "$run" | sed "s#$W/##g; s#$SRC/##g")"
  # shellcheck disable=SC2086
  "$D" -q $run 2>&1 | sed "s#$W/##g; s#$OUT/##g" | tee -a "$LOG" || true
done
