# The conversions of the CI regression gate, in one place: tests/cli/gate_grok2.sh diffs each
# against its source and the golden activations; tests/interop/sglang/gate_sglang.sh loads each
# with SGLang's own loader at every rank. Sourced, not a test itself.

# Grok-2 release-style TP8 -> "TP LAYOUT" x dtype
GROK2_GATE_TARGETS=("1 hf" "2 rank" "4 rank" "16 rank" "4 tp" "8 tp")
GROK2_GATE_DTYPES=(keep fp8t fp8b)

# gate_dtype_args DTYPE: the g2convert flags of a gate dtype (the tiny shards are 8 rows: block 8)
gate_dtype_args() {
  case $1 in
    keep) ;;
    fp8t) echo --dtype fp8 --fp8-scale tensor ;;
    fp8b) echo --dtype fp8 --fp8-scale block --fp8-block 8 ;;
    *) echo "gate_dtype_args: unknown dtype $1" >&2; return 1 ;;
  esac
}
