#!/usr/bin/env bash
# scripts/gpu-check.sh [--bundle DIR] [--dry-run]   (also: make gpu-check)
#
# Proves the CUDA path on a GPU machine in one command, from a fresh checkout with the bundle
# of scripts/gpu-bundle.sh beside it (default gpu-bundle/), offline. Steps, in order; the
# first failure stops the run and is named (docs/cuda.md says what each step proves):
#   driver     nvcc builds scripts/gpu-probe.cu, which checks the driver against the toolkit
#              and runs a kernel on every device (cudaGetErrorString, exit 2 on failure)
#   deps       the bundle unpacked into a private prefix, GoogleTest built (gpu-prefix.sh)
#   build      Release, all cores, only the targets the check runs, for the device's sm
#   gpu-tests  ctest -L gpu (and cuda_nodevice); test_gpu's own report is counted: an
#              unexpected skip fails
#   golden     g2diff --backend cuda vs the CPU on the tiny Grok-1/Grok-2 checkpoints (f32 and
#              reference modes, merged and --tp-exec) and vs the golden reference activations
#   wide       the same on a Grok-2-width one-layer set, BF16 and FP8 block-128
#   dist       g2diff --dist, one process per GPU (torchrun, mpirun or its own launch);
#              skipped on a one-GPU machine
#   timing     one Grok-2-width layer on the GPU vs the CPU vs the bandwidth bound, 1/8/128 tokens
# Then one summary table, and gpu-check.json (device, driver and runtime versions, each
# step's result and figures) in $OUT if set, else build/gpu-check/. Scratch: build/gpu-check/.
# Exit: 0 every step passed (or skipped as expected), 1 a step failed, 2 no GPU, no nvcc or
# bad usage. --dry-run prints every step's commands in order and runs nothing (it assumes
# GPU_CHECK_DRY_GPUS devices, default 2, so the --dist commands show).
# Environment: NVCC (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc), PYTHON (python3),
# GPU_CHECK_JOBS (default nproc), GPU_CHECK_WORK (default build/gpu-check).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() { sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

DRY=0
BUNDLE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --bundle) [ $# -ge 2 ] || { echo "gpu-check: --bundle needs a folder" >&2; exit 2; }
              BUNDLE=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$BUNDLE" ] && [ -d "$ROOT/gpu-bundle" ]; then BUNDLE=$ROOT/gpu-bundle; fi
if [ -n "$BUNDLE" ] && [ ! -f "$BUNDLE/MANIFEST" ]; then
  echo "gpu-check: --bundle $BUNDLE holds no MANIFEST (make it with scripts/gpu-bundle.sh)" >&2
  exit 2
fi

WORK=${GPU_CHECK_WORK:-$ROOT/build/gpu-check}
RES=${OUT:-$WORK}            # where gpu-check.json goes
B=$WORK/build                # the CMake build
D=$WORK/data                 # synthesized checkpoints and CPU records
F=$WORK/figures              # per-step figures (JSON) and table details
P=$WORK/prefix               # the unpacked bundle
BIN=$B/bin
JOBS=${GPU_CHECK_JOBS:-$(nproc 2>/dev/null || echo 2)}
PY=${PYTHON:-python3}
NVCC=${NVCC:-$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; } || true)}
G2PY="$ROOT/scripts/gpu_check.py"
export G2_DIST_TIMEOUT_S=${G2_DIST_TIMEOUT_S:-120}   # a --dist rank never waits longer for a dead peer

# ---- running commands (printed instead under --dry-run) ------------------------------------
show() { printf '  $'; printf ' %q' "$@"; }
run() {  # run CMD...: echo it, run it
  show "$@"; echo
  [ "$DRY" = 1 ] && return 0
  "$@"
}
run_to() {  # run_to FILE CMD...: stdout to FILE
  local out=$1; shift
  show "$@"; echo " > $out"
  [ "$DRY" = 1 ] && return 0
  "$@" >"$out"
}
detail() { [ "$DRY" = 1 ] || echo "$*" >"$F/$STEP.detail"; }
skip_step() { [ "$DRY" = 1 ] && { echo "  (skipped: $*)"; return 0; }; echo "$*" >"$F/$STEP.skip"; }
env_get() { awk -F= -v k="$1" '$1 == k { sub(/^[^=]*=/, ""); print; exit }' "$2" 2>/dev/null; }

# ---- the steps ---------------------------------------------------------------------------
step_driver() {
  if [ -z "$NVCC" ] || [ ! -x "$NVCC" ]; then
    echo "gpu-check: no nvcc (not on PATH, not /usr/local/cuda/bin/nvcc; set NVCC=): the CUDA path cannot be built" >&2
    return 2
  fi
  if command -v nvidia-smi >/dev/null; then
    run_to "$WORK/nvidia-smi.csv" nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap \
      --format=csv,noheader || true
  fi
  run "$NVCC" -O2 -o "$WORK/gpu-probe" "$ROOT/scripts/gpu-probe.cu" || return 2
  run_to "$WORK/probe.env" "$WORK/gpu-probe" || return 2
  [ "$DRY" = 1 ] && return 0
  local n cc
  n=$(env_get devices "$WORK/probe.env")
  cc=$(env_get device0 "$WORK/probe.env" | cut -d'|' -f2)
  detail "driver CUDA $(env_get driver_cuda "$WORK/probe.env") >= runtime $(env_get runtime "$WORK/probe.env");" \
    "$n device(s): $(env_get device0 "$WORK/probe.env" | cut -d'|' -f1), sm_${cc/./}"
}

step_deps() {
  if [ -n "$BUNDLE" ]; then
    run bash "$ROOT/scripts/gpu-prefix.sh" "$BUNDLE" "$P" || return 1
    detail "bundle $(grep -c '^deb ' "$BUNDLE/MANIFEST" 2>/dev/null) .debs unpacked into $P, GoogleTest built"
  else
    echo "  (no bundle: the system's own packages must provide the dependencies)"
    detail "no bundle: the system's packages"
  fi
  # NCCL: the toolkit's, else the nvidia-nccl wheel next to PyTorch.
  local inc nccl=""
  inc=$(dirname "$(dirname "${NVCC:-/usr/local/cuda/bin/nvcc}")")/include
  if [ ! -f "$inc/nccl.h" ] && [ ! -f /usr/include/nccl.h ]; then
    nccl=$("$PY" -c 'import nvidia.nccl as m; print(list(m.__path__)[0])' 2>/dev/null || true)
  fi
  [ "$DRY" = 1 ] || echo "nccl_root=$nccl" >"$WORK/deps.env"
}

# The environment of every later step: the prefix's libraries, PyTorch's NCCL if used.
load_env() {
  [ -f "$P/g2-env.sh" ] && [ -n "$BUNDLE" ] && . "$P/g2-env.sh"
  local nccl
  nccl=$(env_get nccl_root "$WORK/deps.env")
  [ -n "$nccl" ] && export LD_LIBRARY_PATH="$nccl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  return 0
}

step_build() {
  local args=() gen=(-G Ninja) nccl
  command -v ninja >/dev/null || gen=()
  if [ -n "$BUNDLE" ]; then
    if [ "$DRY" = 1 ]; then args=("(the lines of $P/g2-cmake-args)"); else mapfile -t args <"$P/g2-cmake-args"; fi
  fi
  nccl=$(env_get nccl_root "$WORK/deps.env")
  [ -n "$nccl" ] && args+=("-DG2_NCCL_ROOT=$nccl")
  run cmake -S "$ROOT" -B "$B" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DG2_CUDA=ON -DG2_WERROR=OFF -DG2_TESTS=ON \
    -DCMAKE_CUDA_COMPILER="$NVCC" -DCMAKE_CUDA_ARCHITECTURES="$ARCH" "${args[@]}" || return 1
  run cmake --build "$B" -j "$JOBS" --target test_gpu test_cuda_nodevice g2diff g2synth g2convert bench_layer_gpu ||
    return 1
  [ "$DRY" = 1 ] && return 0
  local has_nccl=yes
  grep -q '^G2_NCCL_LIB:FILEPATH=.*NOTFOUND' "$B/CMakeCache.txt" && has_nccl=no
  echo "nccl=$has_nccl" >>"$WORK/deps.env"
  detail "Release, sm_$ARCH, $JOBS jobs, NCCL $has_nccl"
}

step_gpu_tests() {
  run rm -rf "$F/gtest"
  # The device tests (label gpu) and the CUDA build's device-free ones (label cuda_nodevice,
  # which take their with-a-device branch here). ctest reports a suite whose every test
  # skipped as "Skipped" and exits 0: the skips are counted in test_gpu's own report.
  run env GTEST_OUTPUT="json:$F/gtest/" ctest --test-dir "$B" -L 'gpu|cuda_nodevice' --output-on-failure \
    --timeout 300 || return 1
  run_to "$F/gpu-tests.detail" "$PY" "$G2PY" gtest-skips "$F/gtest/test_gpu.json" --gpus "$NGPU" --fig "$F/gpu-tests.json"
}

# compare DIR NAME TOL SET ARGS...: the CPU records SET, then the CUDA backend is compared
# with that record (g2diff --reference ... --backend cuda) under tolerance TOL.
compare() {
  local dir=$1 name=$2 tol=$3 set=$4
  shift 4
  run "$BIN/g2diff" "$set" "$@" --record "$dir/$name.cpu.safetensors" -q || return 1
  run "$BIN/g2diff" "$set" "$@" --reference "$dir/$name.cpu.safetensors" --backend cuda --tolerance "$tol" -q \
    --json "$dir/json/$name.json" || return 1
}

step_golden() {
  local g=$D/golden c1=$ROOT/configs/grok-1-tiny.json c2=$ROOT/configs/grok-2-tiny.json gold=$ROOT/testdata/golden
  run rm -rf "$g"
  run mkdir -p "$g/json"
  # the golden tiny checkpoints (testdata/golden/README.md: same configs and seeds)
  run "$BIN/g2synth" --config "$c2" --format grok2-tp --tp 8 --seed 2 --out "$D/g2tiny" --force || return 1
  run "$BIN/g2synth" --config "$c1" --format grok1-jax --seed 1 --out "$D/g1tiny" --force || return 1
  # Grok-1 as a TP set: upgraded to the Grok-2 layout at TP 8 (its function is Grok-1's)
  run "$BIN/g2convert" "$D/g1tiny" "$D/g1tiny-tp8" --to grok2 --tp 8 --layout rank --config "$c1" --force || return 1
  # f32 precision: g2diff's f32 preset decides. Reference precision: g2diff runs with the
  # loose aggregate fp8 preset (no element bound) and gpu_check.py judges its JSON by the
  # self-check's reference bound (rel RMS <= 1e-2, cosine >= 0.9999, router / top-1 >= 0.9):
  # a 1-ulp summation-order difference before a bf16 rounding point is a whole bf16 step.
  local mode tol
  for mode in f32 reference; do
    tol=f32
    [ "$mode" = reference ] && tol=fp8
    compare "$g" "grok2-$mode-merged" "$tol" "$D/g2tiny" --mode "$mode" || return 1
    compare "$g" "grok2-$mode-tp8" "$tol" "$D/g2tiny" --mode "$mode" --tp-exec || return 1
    compare "$g" "grok1-$mode-merged" "$tol" "$D/g1tiny" --config "$c1" --mode "$mode" || return 1
    compare "$g" "grok1-$mode-tp8" "$tol" "$D/g1tiny-tp8" --mode "$mode" --tp-exec || return 1
  done
  # and against the public references' golden activations (tests/cli/diff_golden.sh, on CUDA)
  run "$BIN/g2diff" "$D/g2tiny" --reference "$gold/grok2-tiny.numpy.safetensors.zst" --tolerance f32 --backend cuda -q \
    --json "$g/json/grok2-f32-vs-numpy.json" || return 1
  run "$BIN/g2diff" "$D/g1tiny" --config "$c1" --mode reference --reference "$gold/grok1-tiny.jax.safetensors.zst" \
    --tolerance fp8 --backend cuda -q --json "$g/json/grok1-reference-vs-jax.json" || return 1
  run_to "$F/golden.detail" "$PY" "$G2PY" diff-summary "$g/json" --fig "$F/golden.json"
}

# 32 token ids spread over the small vocabulary (ids 3..), the same on every run.
wide_tokens() {
  local i t=""
  for i in $(seq 0 31); do t+="${t:+,}$(( (i * 7919 + 3) % 4093 + 3 ))"; done
  echo "$t"
}
TOKENS=""  # the file of wide_tokens, written by step wide

step_wide() {
  local w=$D/wide
  run rm -rf "$w"
  run mkdir -p "$w/json"
  run_to "$TOKENS" wide_tokens
  run_to "$F/wide.config.txt" "$PY" "$G2PY" wide-config "$ROOT/configs/grok-2.json" "$D/wide.json" --vocab 4096 ||
    return 1
  run "$BIN/g2synth" --config "$D/wide.json" --format grok2-tp --tp 8 --seed 3 --out "$D/wide-bf16" --force || return 1
  run "$BIN/g2convert" "$D/wide-bf16" "$D/wide-fp8" --dtype fp8 --fp8-scale block --fp8-block 128 \
    --threads "$JOBS" --force || return 1
  compare "$w" wide-bf16 f32 "$D/wide-bf16" --prompt-ids "$TOKENS" || return 1
  compare "$w" wide-fp8-block128 f32 "$D/wide-fp8" --prompt-ids "$TOKENS" || return 1
  run_to "$F/wide.detail" "$PY" "$G2PY" diff-summary "$w/json" --fig "$F/wide.json"
}

# launch N ARGS...: N processes of g2diff ARGS, one per GPU, through torchrun, Open MPI's
# mpirun, or a plain loop with torchrun's variables set.
launch() {
  local n=$1
  shift
  if command -v torchrun >/dev/null; then
    run torchrun --standalone --nproc-per-node "$n" --no-python "$BIN/g2diff" "$@"
  elif command -v mpirun >/dev/null && mpirun --version 2>&1 | grep -q "Open MPI"; then
    run mpirun --allow-run-as-root -np "$n" -x MASTER_ADDR=127.0.0.1 -x MASTER_PORT=29511 -x G2_DIST_TIMEOUT_S \
      -x LD_LIBRARY_PATH "$BIN/g2diff" "$@"
  else
    local r pids=() rc=0
    for ((r = 0; r < n; r++)); do
      show env RANK=$r WORLD_SIZE="$n" LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=29511 "$BIN/g2diff" "$@"
      echo " &"
      [ "$DRY" = 1 ] && continue
      RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=29511 "$BIN/g2diff" "$@" &
      pids+=($!)
    done
    [ "$DRY" = 1 ] && { echo "  $ wait"; return 0; }
    for r in "${pids[@]}"; do wait "$r" || rc=1; done
    return $rc
  fi
}

step_dist() {
  if [ "$NGPU" -lt 2 ]; then
    skip_step "$NGPU GPU: --dist runs one process per GPU at TP = GPUs >= 2"
    return 0
  fi
  if [ "$DRY" = 0 ] && [ "$(env_get nccl "$WORK/deps.env")" = no ]; then
    echo "gpu-check: $NGPU GPUs but this build has no NCCL (neither the toolkit nor PyTorch's nvidia-nccl has it)" >&2
    return 1
  fi
  local tp=2 t dd=$D/dist
  for t in 4 8 16; do [ "$t" -le "$NGPU" ] && tp=$t; done
  run rm -rf "$dd"
  run mkdir -p "$dd/json"
  run "$BIN/g2synth" --config "$ROOT/configs/grok-2-tiny.json" --format grok2-tp --tp "$tp" --seed 2 \
    --out "$D/dist-tiny" --force || return 1
  run "$BIN/g2diff" "$D/dist-tiny" --tp-exec --record "$dd/tiny.cpu.safetensors" -q || return 1
  launch "$tp" "$D/dist-tiny" --reference "$dd/tiny.cpu.safetensors" --dist --tolerance f32 -q \
    --json "$dd/json/grok2-tiny-tp$tp.json" || return 1
  local wide=$D/wide-bf16
  if [ "$tp" != 8 ]; then
    run "$BIN/g2convert" "$D/wide-bf16" "$D/wide-tp$tp" --tp "$tp" --layout rank --threads "$JOBS" --force || return 1
    wide=$D/wide-tp$tp
  fi
  run "$BIN/g2diff" "$wide" --tp-exec --prompt-ids "$TOKENS" --record "$dd/wide.cpu.safetensors" -q || return 1
  launch "$tp" "$wide" --prompt-ids "$TOKENS" --reference "$dd/wide.cpu.safetensors" --dist --tolerance f32 -q \
    --json "$dd/json/wide-bf16-tp$tp.json" || return 1
  run_to "$F/dist.detail" "$PY" "$G2PY" diff-summary "$dd/json" --fig "$F/dist.json"
}

step_timing() {
  run_to "$F/timing.lines" "$BIN/bench_layer_gpu" --reps 2 "$D/wide-bf16" 1 8 128 || return 1
  run_to "$F/timing.detail" "$PY" "$G2PY" timing "$F/timing.lines" --fig "$F/timing.json"
}

# ---- driving ------------------------------------------------------------------------------
STEP=""
TOKENS=$D/wide-tokens.txt
NGPU=${GPU_CHECK_DRY_GPUS:-2}
ARCH=90
T_START=$(date +%s)

finish() {  # finish EXIT_CODE: the report, then exit
  local code=$1
  if [ "$DRY" = 0 ]; then
    {
      echo "exit_code=$code"
      echo "driver_version=$(head -1 "$WORK/nvidia-smi.csv" 2>/dev/null | cut -d, -f2 | tr -d ' ')"
      echo "nvcc=$("$NVCC" --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\), V\([0-9.]*\).*/\2/p')"
      echo "cpus=$(nproc 2>/dev/null)"
      echo "glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')"
      echo "commit=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
      echo "dirty=$([ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ] && echo yes || echo no)"
    } >"$WORK/meta.env"
    "$PY" "$G2PY" report --work "$WORK" --out "$RES" || code=1
    echo "gpu-check: $(( $(date +%s) - T_START )) s in all"
  fi
  exit "$code"
}

# do_step NAME FUNCTION: run one step, time it, record pass / fail / skip; stop on failure.
do_step() {
  STEP=$1
  local fn=$2 t0 t1 rc status detail
  if [ "$DRY" = 1 ]; then
    echo "[$STEP]"
    "$fn"
    return 0
  fi
  echo "== gpu-check: $STEP ($(date +%T))"
  rm -f "$F/$STEP.detail" "$F/$STEP.skip" "$F/$STEP.json"
  t0=$(date +%s.%N)
  # a subshell: a step talks to later ones only through files (probe.env, deps.env, figures/)
  ("$fn") 2>&1 | tee "$WORK/logs/$STEP.log"
  rc=${PIPESTATUS[0]}
  t1=$(date +%s.%N)
  status=pass
  detail=$(head -1 "$F/$STEP.detail" 2>/dev/null)
  if [ -f "$F/$STEP.skip" ]; then
    status=skip
    detail=$(head -1 "$F/$STEP.skip")
  fi
  local why=""
  if [ "$rc" != 0 ]; then
    status=fail
    why=$(grep -v '^  \$' "$WORK/logs/$STEP.log" | grep . | tail -1 | tr '\t' ' ')
    detail="$why (log: $WORK/logs/$STEP.log)"
  fi
  printf '%s\t%s\t%s\t%s\n' "$STEP" "$status" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
    "$detail" >>"$WORK/steps.tsv"
  if [ "$rc" != 0 ]; then
    echo "gpu-check: FAILED at step $STEP: $why (log: $WORK/logs/$STEP.log)" >&2
    [ "$STEP" = driver ] && finish 2
    finish 1
  fi
}

if [ "$DRY" = 1 ]; then
  echo "gpu-check --dry-run: the commands of every step, in order (assuming $NGPU GPUs, sm_$ARCH; nothing runs)"
  [ -n "$NVCC" ] || NVCC=nvcc
else
  command -v "$PY" >/dev/null || { echo "gpu-check: needs $PY (set PYTHON=) for its report" >&2; exit 2; }
  command -v cmake >/dev/null || { echo "gpu-check: needs cmake" >&2; exit 2; }
  rm -rf "$F" "$WORK/logs" "$WORK/steps.tsv" "$WORK/probe.env"
  mkdir -p "$WORK" "$F" "$WORK/logs" "$D" "$RES"
fi

do_step driver step_driver
if [ "$DRY" = 0 ]; then
  NGPU=$(env_get devices "$WORK/probe.env")
  cc=$(env_get device0 "$WORK/probe.env" | cut -d'|' -f2)
  ARCH=${cc/./}
fi
do_step deps step_deps
load_env
do_step build step_build
do_step gpu-tests step_gpu_tests
do_step golden step_golden
do_step wide step_wide
do_step dist step_dist
do_step timing step_timing
finish 0
