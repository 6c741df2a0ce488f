#!/usr/bin/env bash
# SGLang's own loader over every output of the CI regression gate, at every rank.
#
# The golden Grok-2 tiny TP8 set (g2synth, digest-checked) gets the release's own config.json
# (configs/grok-2-tiny.json's fields: "model_type": "git", no load_presharded_* flags) and is
# converted to every target of tests/cli/gate_targets.bash; the golden Grok-1 tiny checkpoint is
# upgraded with --to grok2 (dtype kept, FP8 block). check_sets.py then builds SGLang 0.5.23's
# real Grok1ForCausalLM for each rank with the rank and size published the way SGLang's launcher
# does, loads the set through SGLang's file selection and load_weights, and compares every
# parameter with SGLang's own split of the unsharded TP1 set of the same dtype. Configs are
# used exactly as g2convert wrote them. Four negative controls must fail: the stock TP8 set
# served at TP 4 (sglang PR #36438), a swapped expert scale, a wrong KV head at TP 16 and a
# missing weight_scale_inv. A TP 4 set served at TP 1, 2 and 8 shows what README "Which layout"
# says: the release-style layout loads silently wrong, the rank layout is refused. Needs the venv of scripts/setup-sglang-venv.sh (made here when
# missing; a failure to make it fails the test, with pip's reason).
source "$G2_SOURCE_DIR/tests/cli/gate_lib.bash"
source "$G2_SOURCE_DIR/tests/cli/gate_targets.bash"
HERE="$G2_SOURCE_DIR/tests/interop/sglang"

t_venv=$(date +%s)
if ! SPY=$(bash "$G2_SOURCE_DIR/scripts/setup-sglang-venv.sh" "$(dirname "$G2_BIN_DIR")" | tail -1) || [ ! -x "$SPY" ]; then
  echo "FAIL: the SGLang loader venv could not be made (scripts/setup-sglang-venv.sh, messages above)" >&2
  exit 1
fi
echo "sglang venv: $SPY ($(($(date +%s) - t_venv)) s)"

# release-faithful source: the release's config.json fields, nothing of ours
synth_golden grok2-tiny "$WORK/src"
"$SPY" - "$G2_SOURCE_DIR/configs/grok-2-tiny.json" "$WORK/src/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
del c["_comment"]
json.dump(c, open(sys.argv[2], "w"), indent=2)
PY
synth_golden grok1-tiny "$WORK/g1"

convert() {  # convert OUT SRC g2convert-args...
  local out=$1 src=$2
  shift 2
  step "convert $(basename "$out")" "$CONV" "$src" "$out" "$@"
}
for dt in "${GROK2_GATE_DTYPES[@]}"; do
  read -ra args <<<"$(gate_dtype_args "$dt")"
  spawn convert "$WORK/ref-$dt" "$WORK/src" --tp 1 --layout hf "${args[@]}"
  for target in "${GROK2_GATE_TARGETS[@]}"; do
    read -r tp layout <<<"$target"
    [ "$tp" = 1 ] && [ "$layout" = hf ] && continue  # the reference itself, checked below
    spawn convert "$WORK/tp$tp-$layout-$dt" "$WORK/src" --tp "$tp" --layout "$layout" "${args[@]}"
  done
done
G1=(--to grok2 --config "$G2_SOURCE_DIR/configs/grok-1-tiny.json")
spawn convert "$WORK/g1-ref-keep" "$WORK/g1" "${G1[@]}" --tp 1 --layout hf
spawn convert "$WORK/g1-tp8-rank-keep" "$WORK/g1" "${G1[@]}" --tp 8 --layout rank
spawn convert "$WORK/g1-ref-fp8b" "$WORK/g1" "${G1[@]}" --tp 1 --layout hf $(gate_dtype_args fp8b)
spawn convert "$WORK/g1-tp8-rank-fp8b" "$WORK/g1" "${G1[@]}" --tp 8 --layout rank $(gate_dtype_args fp8b)
wait
if compgen -G "$WORK/status/*.fail" >/dev/null; then finish gate_sglang; fi

# negative controls
step "tamper swap-expert-scale" "$SPY" "$HERE/tamper.py" swap-expert-scale "$WORK/tp4-rank-fp8b" "$WORK/neg-scale"
step "tamper wrong-kv-head" "$SPY" "$HERE/tamper.py" wrong-kv-head "$WORK/tp16-rank-keep" "$WORK/neg-kv"
step "tamper drop-scale" "$SPY" "$HERE/tamper.py" drop-scale "$WORK/tp4-tp-fp8b" "$WORK/neg-drop"

"$SPY" - "$WORK" "${GROK2_GATE_TARGETS[@]}" -- "${GROK2_GATE_DTYPES[@]}" >"$WORK/cases.json" <<'PY'
import json, sys
work, rest = sys.argv[1], sys.argv[2:]
targets, dtypes = rest[:rest.index("--")], rest[rest.index("--") + 1:]
block = {"keep": None, "fp8t": [None], "fp8b": [[8, 8]]}  # fp8_block when FP8: [value]
cases = []
def case(name, d, tp, ref, expect="pass", dt="keep", why=None):
    c = {"name": name, "set": f"{work}/{d}", "tp": tp, "reference": f"{work}/{ref}", "expect": expect}
    if block[dt] is not None:
        c["fp8_block"] = block[dt][0]
    if why:
        c["why"] = why
    cases.append(c)
for dt in dtypes:
    case(f"tp1 hf {dt} (the reference, as served at TP 1)", f"ref-{dt}", 1, f"ref-{dt}", dt=dt)
    for t in targets:
        tp, layout = t.split()
        if (tp, layout) != ("1", "hf"):
            case(f"tp{tp} {layout} {dt}", f"tp{tp}-{layout}-{dt}", int(tp), f"ref-{dt}", dt=dt)
case("release-style TP8 source at TP 8 (stock path)", "src", 8, "ref-keep")
case("grok-1 -> grok2 tp8 rank keep", "g1-tp8-rank-keep", 8, "g1-ref-keep")
case("grok-1 -> grok2 tp8 rank fp8b", "g1-tp8-rank-fp8b", 8, "g1-ref-fp8b", dt="fp8b")
case("NEG stock TP8 set served at TP 4", "src", 4, "ref-keep", "fail", why="sglang PR #36438")
case("NEG tp4 rank fp8b, experts 0/1 scales swapped", "neg-scale", 4, "ref-fp8b", "fail", "fp8b")
case("NEG tp16 rank keep, rank 2 holds KV head 0", "neg-kv", 16, "ref-keep", "fail")
case("NEG tp4 tp fp8b, an o_proj weight_scale_inv missing", "neg-drop", 4, "ref-fp8b", "fail", "fp8b")
# a set served at another TP than it was written for (README "Which layout")
case("WRONG-TP tp4 tp keep served at TP 2", "tp4-tp-keep", 2, "ref-keep", "silent")
case("WRONG-TP tp4 tp keep served at TP 1", "tp4-tp-keep", 1, "ref-keep", "silent")
case("WRONG-TP tp4 rank keep served at TP 2", "tp4-rank-keep", 2, "ref-keep", "refused")
case("WRONG-TP tp4 rank keep served at TP 1", "tp4-rank-keep", 1, "ref-keep", "refused")
case("WRONG-TP tp4 rank keep served at TP 8", "tp4-rank-keep", 8, "ref-keep", "refused")
print(json.dumps({"cases": cases}, indent=1))
PY

rc=0
PYTHONPATH="$HERE" "$SPY" "$HERE/check_sets.py" "$WORK/cases.json" --json "$WORK/sglang.json" \
  2> >(grep -vE 'UserWarning|warnings.warn|Multi-thread loading|deprecated|AMX|CUDA arch|Ignore import error' >&2) || rc=$?
if [ "$rc" = 0 ]; then
  echo "ok   SGLang 0.5.23 loads every gate output bit-exact at every rank; negative controls fail" >"$WORK/status/sglang.ok"
else
  echo "FAIL check_sets.py exit $rc (table above)" >"$WORK/status/sglang.fail"
fi
finish gate_sglang
