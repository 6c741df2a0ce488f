#!/usr/bin/env bash
# scripts/gpu-check.sh on a machine without a GPU (the CPU suite): --dry-run prints every
# step's commands in order; without nvcc and without a device it refuses with exit 2, a clear
# message and a gpu-check.json that names the failed step; the skip counting treats an
# unexpected skip as a failure (fixtures and, in CUDA builds, test_gpu's own report from this
# device-less machine); the JSON writer and the table; the wide config and the g2diff summary.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
S=$G2_SOURCE_DIR
KIT=$S/scripts/gpu-check.sh
PY=python3
CK="$PY $S/scripts/gpu_check.py"
W=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-test.XXXXXX")
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() {  # expect_rc WANT OUTFILE cmd...
  local want=$1 out=$2 rc=0
  shift 2
  "$@" >"$out" 2>&1 || rc=$?
  [ "$rc" = "$want" ] || { cat "$out"; fail "expected exit $want, got $rc: $*"; }
}
json() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$1" "$2"; }

# --- --dry-run: every step in order, the key commands, nothing written ---------------------
expect_rc 0 "$W/dry.txt" env GPU_CHECK_WORK="$W/never" bash "$KIT" --dry-run
[ "$(grep -o '^\[[a-z-]*\]' "$W/dry.txt" | tr -d '[]' | tr '\n' ' ')" = \
  "driver deps build gpu-tests golden wide dist timing " ] || { cat "$W/dry.txt"; fail "steps missing or out of order"; }
for want in "gpu-probe.cu" "-DCMAKE_CUDA_ARCHITECTURES=90" "-DCMAKE_BUILD_TYPE=Release" \
            "--target test_gpu test_cuda_nodevice g2diff g2synth g2convert bench_layer_gpu" "ctest --test-dir" \
            "-L gpu\\|cuda_nodevice" "GTEST_OUTPUT=json:" \
            "gtest-skips" "--backend cuda --tolerance f32" "--mode reference --tp-exec" \
            "--backend cuda --tolerance fp8" "grok1-tiny.jax.safetensors.zst" "--fp8-scale block --fp8-block 128" "--dist --tolerance f32" \
            "WORLD_SIZE=2" "bench_layer_gpu --reps 2" " 1 8 128"; do
  grep -qF -- "$want" "$W/dry.txt" || { cat "$W/dry.txt"; fail "--dry-run does not show: $want"; }
done
[ ! -e "$W/never" ] || fail "--dry-run wrote $W/never"
expect_rc 0 "$W/dry1.txt" env GPU_CHECK_DRY_GPUS=1 GPU_CHECK_WORK="$W/never" bash "$KIT" --dry-run
grep -q "(skipped: 1 GPU: --dist runs one process per GPU" "$W/dry1.txt" || fail "one GPU should skip --dist"
! grep -q -- "--dist --tolerance" "$W/dry1.txt" || fail "one GPU must not launch --dist"
expect_rc 2 "$W/bad.txt" bash "$KIT" --bundle "$W/nowhere" --dry-run
grep -q "holds no MANIFEST" "$W/bad.txt" || fail "a missing bundle must be named"
expect_rc 2 "$W/bad.txt" bash "$KIT" --frobnicate
expect_rc 0 "$W/help.txt" bash "$KIT" --help
grep -q "gpu-check.json" "$W/help.txt" || fail "--help should say what it writes"

# --- no nvcc: exit 2, a message, and the JSON names the step ------------------------------
expect_rc 2 "$W/nonvcc.txt" env NVCC=/nonexistent/nvcc GPU_CHECK_WORK="$W/k1" OUT="$W/out1" bash "$KIT"
grep -q "no nvcc" "$W/nonvcc.txt" || { cat "$W/nonvcc.txt"; fail "no message about nvcc"; }
[ "$(json "$W/out1/gpu-check.json" 'd["failed_step"], d["exit_code"], d["pass"]')" = "('driver', 2, False)" ] ||
  fail "gpu-check.json after no nvcc: $(cat "$W/out1/gpu-check.json")"
[ "$(json "$W/out1/gpu-check.json" '[s["status"] for s in d["steps"]][1:]')" = "['not-run', 'not-run', 'not-run', 'not-run', 'not-run', 'not-run', 'not-run']" ] ||
  fail "steps after the failed one must read not-run"
grep -q "failed at step driver" "$W/out1/gpu-check.txt" || fail "the table must name the failed step"

# --- no GPU (nvcc present, no device): the probe's cudaGetErrorString, exit 2 ---------------
NVCC_HERE=$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; } || true)
if [ -z "$NVCC_HERE" ]; then
  echo "no nvcc on this machine: the no-device refusal is covered by the no-nvcc case only"
elif command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "a GPU is present: the no-device refusal cannot be shown here"
else
  expect_rc 2 "$W/nogpu.txt" env GPU_CHECK_WORK="$W/k2" OUT="$W/out2" bash "$KIT"
  grep -q "gpu-probe: cudaGetDeviceCount: " "$W/nogpu.txt" || { cat "$W/nogpu.txt"; fail "no cudaGetErrorString message"; }
  grep -q "gpu-check: FAILED at step driver: gpu-probe: " "$W/nogpu.txt" || fail "the failure must name the step"
  [ "$(json "$W/out2/gpu-check.json" 'd["failed_step"], d["exit_code"], d["runtime"]')" = "('driver', 2, '$(
    "$NVCC_HERE" --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')')" ] || fail "$(cat "$W/out2/gpu-check.json")"
  json "$W/out2/gpu-check.json" 'd["steps"][0]["detail"]' | grep -q "cudaGetDeviceCount" || fail "the detail must carry the error"
fi

# --- skip counting -------------------------------------------------------------------------
report() {  # report FILE CASE:RESULT...  (gtest's JSON layout, one suite per prefix)
  local f=$1
  shift
  "$PY" - "$f" "$@" <<'PYEOF'
import json, sys
suites = {}
for spec in sys.argv[2:]:
    name, result = spec.split(":")
    suite, case = name.split(".")
    t = {"name": case, "status": "RUN", "result": "COMPLETED" if result != "skip" else "SKIPPED", "time": "0s"}
    if result == "fail":
        t["failures"] = [{"failure": "x.cc:1\nExpected equality", "type": ""}]
    suites.setdefault(suite, []).append(t)
json.dump({"tests": len(sys.argv) - 2, "testsuites": [{"name": s, "testsuite": c} for s, c in suites.items()]},
          open(sys.argv[1], "w"))
PYEOF
}
report "$W/one.json" CudaOps.Rope:pass CudaGemm.F32:pass CudaNccl.AllReduceAcrossDevicesInOneProcess:skip \
  CudaNccl.ForwardOneRankPerDevice:skip
expect_rc 0 "$W/s.txt" $CK gtest-skips "$W/one.json" --gpus 1 --fig "$W/fig.json"
grep -q "4 tests: 2 passed, 0 failed, 2 skipped as expected, 0 skipped unexpectedly" "$W/s.txt" || fail "$(cat "$W/s.txt")"
expect_rc 1 "$W/s.txt" $CK gtest-skips "$W/one.json" --gpus 2  # with two GPUs nothing may skip
grep -q "skipped unexpectedly (counted as failures): CudaNccl.AllReduceAcrossDevicesInOneProcess" "$W/s.txt" || fail "$(cat "$W/s.txt")"
report "$W/bad.json" CudaOps.Rope:skip CudaGemm.F32:pass
expect_rc 1 "$W/s.txt" $CK gtest-skips "$W/bad.json" --gpus 1
report "$W/fail.json" CudaOps.Rope:fail
expect_rc 1 "$W/s.txt" $CK gtest-skips "$W/fail.json" --gpus 1
grep -q "failed: CudaOps.Rope" "$W/s.txt" || fail "$(cat "$W/s.txt")"
report "$W/empty.json"
expect_rc 1 "$W/s.txt" $CK gtest-skips "$W/empty.json" --gpus 1
expect_rc 1 "$W/s.txt" $CK gtest-skips "$W/missing.json" --gpus 1
grep -q "no readable gtest report" "$W/s.txt" || fail "$(cat "$W/s.txt")"
# test_gpu itself on this device-less machine: every test skips, ctest would say "Skipped"
# and exit 0; the count must fail it.
TEST_GPU=$(dirname "$G2_BIN_DIR")/tests/test_gpu
if [ -x "$TEST_GPU" ] && ! { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; }; then
  GTEST_OUTPUT="json:$W/real.json" "$TEST_GPU" >"$W/real.txt" 2>&1 || { cat "$W/real.txt"; fail "test_gpu failed without a device"; }
  expect_rc 1 "$W/s.txt" $CK gtest-skips "$W/real.json" --gpus 1 --fig "$W/real-fig.json"
  [ "$(json "$W/real-fig.json" 'd["tests"] > 10 and d["passed"] <= 2 and len(d["skipped_unexpected"]) > 10')" = True ] ||
    fail "test_gpu without a device: $(cat "$W/real-fig.json")"
fi

# --- the wide config ------------------------------------------------------------------------
expect_rc 0 "$W/c.txt" $CK wide-config "$S/configs/grok-2.json" "$W/wide.json" --vocab 4096
[ "$(json "$W/wide.json" 'd["hidden_size"], d["num_hidden_layers"], d["vocab_size"], d["num_attention_heads"], d["num_key_value_heads"], d["head_dim"], d["moe_intermediate_size"]')" = \
  "(8192, 1, 4096, 64, 8, 128, 16384)" ] || fail "$(cat "$W/wide.json")"
expect_rc 1 "$W/c.txt" $CK wide-config "$S/configs/grok-2-tiny.json" "$W/nope.json"  # not Grok-2's width

# --- the g2diff summary, on real g2diff reports ----------------------------------------------
"$G2_BIN_DIR/g2synth" --config "$S/configs/grok-2-tiny.json" --format grok2-tp --tp 2 --seed 2 --out "$W/t" >/dev/null
"$G2_BIN_DIR/g2diff" "$W/t" --layers 0 --record "$W/t.safetensors" -q >/dev/null
mkdir -p "$W/j"
"$G2_BIN_DIR/g2diff" "$W/t" --layers 0 --tp-exec --reference "$W/t.safetensors" --tolerance f32 -q --json "$W/j/tp.json" >/dev/null
expect_rc 0 "$W/d.txt" $CK diff-summary "$W/j" --fig "$W/d.json"
grep -q "1/1 comparisons pass" "$W/d.txt" || fail "$(cat "$W/d.txt")"
"$PY" -c "import json; r=json.load(open('$W/j/tp.json')); r['pass']=False; json.dump(r, open('$W/j/bad.json','w'))"
expect_rc 1 "$W/d.txt" $CK diff-summary "$W/j"
mkdir -p "$W/none" && expect_rc 1 "$W/d.txt" $CK diff-summary "$W/none"   # nothing compared: no pass
# reference precision: judged on aggregates, whatever g2diff's own (loose) preset said
mkdir -p "$W/r"
"$G2_BIN_DIR/g2diff" "$W/t" --layers 0 --mode reference --record "$W/tr.safetensors" -q >/dev/null
"$G2_BIN_DIR/g2diff" "$W/t" --layers 0 --mode reference --tp-exec --reference "$W/tr.safetensors" --tolerance fp8 -q \
  --json "$W/r/ref.json" >/dev/null
expect_rc 0 "$W/d.txt" $CK diff-summary "$W/r" --fig "$W/r.json"
[ "$(json "$W/r.json" 'd["comparisons"][0]["judged_by"]')" = "aggregate reference bound" ] || fail "$(cat "$W/r.json")"
"$PY" - "$W/r/ref.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["layers"][0]["residual"]["rel_rms"] = 0.02   # twice the bound; g2diff's fp8 preset still passed it
r["pass"] = True
json.dump(r, open(sys.argv[1], "w"))
PYEOF
expect_rc 1 "$W/d.txt" $CK diff-summary "$W/r"

# --- the JSON writer and the table -------------------------------------------------------------
K=$W/fake
mkdir -p "$K/figures"
printf 'driver_cuda=13.0\nruntime=13.0\ndevices=1\ndevice0=NVIDIA H100 80GB HBM3|9.0|85045559296\n' >"$K/probe.env"
printf 'exit_code=1\ndriver_version=580.65.06\nnvcc=13.0.88\ncpus=16\nglibc=2.36\ncommit=abc\ndirty=no\n' >"$K/meta.env"
printf 'driver\tpass\t4.2\tdriver CUDA 13.0 >= runtime 13.0\nbuild\tpass\t150.5\tRelease\ngpu-tests\tpass\t20.0\tok\n' >"$K/steps.tsv"
printf 'golden\tpass\t30.0\t18/18\nwide\tpass\t90.0\tok\ndist\tskip\t0.0\t1 GPU\ntiming\tfail\t12.0\tGPU and CPU disagree\n' >>"$K/steps.tsv"
echo '{"rows": [{"tokens": 1, "gpu_seconds": 0.5, "cpu_seconds": 0.05, "weight_bytes": 3.5e9, "f32_weight_bytes": 7e9, "experts_touched": 2, "d2d_bytes_per_s": 1.3e12, "bound_seconds": 0.0027, "gpu_over_bound": 185.0, "h2d_bytes_per_s": 5e10, "h2d_f32_seconds": 0.14, "cpu_over_gpu": 0.1, "agree": false}], "pass": false}' >"$K/figures/timing.json"
expect_rc 0 "$W/r.txt" $CK report --work "$K" --out "$W/rep"
[ "$(json "$W/rep/gpu-check.json" 'd["schema"], d["pass"], d["failed_step"], d["exit_code"], d["devices"][0]["name"], d["driver"]["version"], d["runtime"], [s["status"] for s in d["steps"]]')" = \
  "('g2kit-gpu-check/1', False, 'timing', 1, 'NVIDIA H100 80GB HBM3', '580.65.06', '13.0', ['pass', 'not-run', 'pass', 'pass', 'pass', 'pass', 'skip', 'fail'])" ] ||
  fail "$(cat "$W/rep/gpu-check.json")"
[ "$(json "$W/rep/gpu-check.json" 'd["steps"][7]["figures"]["rows"][0]["gpu_over_bound"], d["seconds"]')" = "(185.0, 306.7)" ] ||
  fail "figures or total seconds"
grep -q "^g2kit GPU check: NVIDIA H100 80GB HBM3 (sm_90, 79.2 GiB) x1, driver 580.65.06 (CUDA 13.0)" "$W/rep/gpu-check.txt" || fail "$(cat "$W/rep/gpu-check.txt")"
grep -q "^total      FAIL        306.7  failed at step timing$" "$W/rep/gpu-check.txt" || fail "the total row"
printf 'deps\tpass\t200.0\tslow\n' >>"$K/steps.tsv"   # 506.7 s: over the 8-minute design budget
$CK report --work "$K" --out "$W/rep2" >/dev/null
grep -q "^total      FAIL        506.7  failed at step timing; over the 8-minute budget$" "$W/rep2/gpu-check.txt" ||
  fail "the budget note: $(grep ^total "$W/rep2/gpu-check.txt")"
grep -qE "^ +1 +500.0 +50.0 +0.10 +3.50 +1300 +2.70 +185.0" "$W/rep/gpu-check.txt" || fail "the timing row: $(cat "$W/rep/gpu-check.txt")"
cmp -s "$W/r.txt" <(cat "$W/rep/gpu-check.txt"; echo "gpu-check: wrote $W/rep/gpu-check.json") || fail "stdout differs from gpu-check.txt"
echo "gpu_check: ok"
