#!/usr/bin/env bash
# `make demo`: the main job in miniature. Synthesize a tiny Grok-1 JAX checkpoint (real head
# and expert counts, 2 layers, head_dim 8), upgrade it to the Grok-2 layout at TP 8 in FP8
# (8x8 block scales: the tiny shards are 8 rows; real models use the default 128), and print
# the g2diff table that checks the conversion kept the model's function (exit 0 = parity).
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$ROOT" && cd "$BUILD" && pwd)/bin   # BUILD: absolute or relative to the repository
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
set -x
"$BIN/g2synth" --config "$ROOT/configs/grok-1-tiny.json" --format grok1-jax --out grok-1-tiny
"$BIN/g2convert" grok-1-tiny grok-1-tiny-as-grok2-fp8 --to grok2 --dtype fp8 --fp8-block 8 --tp 8 --layout rank 2>/dev/null | tail -4
"$BIN/g2inspect" grok-1-tiny-as-grok2-fp8 --verify | tail -1
"$BIN/g2diff" grok-1-tiny grok-1-tiny-as-grok2-fp8 --tp-exec -q
