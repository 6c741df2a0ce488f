#!/usr/bin/env bash
# g2diff --dist (one process per GPU through NCCL) refuses cleanly where it cannot run: exit 2
# and a message naming --dist, both in a build without CUDA and on a machine without a device.
# (The one-rank-per-worker forward itself runs on the CPU in tests/libmodel/test_forward_dist.cc.)
set -euo pipefail
source "${G2_SOURCE_DIR:?G2_SOURCE_DIR is not set}/tests/cli/diff_lib.bash"
synth tp4 tp 4
expect_rc 0 "$G2DIFF" "$WORK/tp4" --record "$WORK/a.safetensors" -q --layers 0
if [ -z "${CUDA_VISIBLE_DEVICES+x}" ] && command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "a GPU is present: --dist is exercised by a real launch, not here"
  exit 0
fi
RANK=0 WORLD_SIZE=4 LOCAL_RANK=0 expect_rc 2 "$G2DIFF" "$WORK/tp4" --reference "$WORK/a.safetensors" --dist -q
grep -q -- "--dist: " "$WORK/out.txt"
expect_rc 2 "$G2DIFF" "$WORK/tp4" --reference "$WORK/a.safetensors" --dist --backend cpu -q
grep -q -- "--dist runs on --backend cuda only" "$WORK/out.txt"
expect_rc 2 "$G2DIFF" "$WORK/tp4" --reference "$WORK/a.safetensors" --dist --device 1 -q
echo "ok: --dist refuses with exit 2 where it cannot run"
