#!/usr/bin/env bash
# The bad-input catalogue (issue 8): each line below takes a tiny checkpoint set, applies one
# small mutation (tests/cli/robust_mutate.py; the snippet prints the file / tensor it broke as
# @1 / @2), runs the named tool and asserts its exit code and that the message names what was
# broken. Every case is then also run through the other CLIs (g2inspect [--verify],
# g2convert, g2diff), which must not crash (no signal), hang (timeout) or allocate without
# bound (ulimit -v); when the case is one g2inspect cannot open, each of them must refuse it
# with exit 2 naming the same file.
# Adding a case is one line.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
S=$G2_SOURCE_DIR
PY=${G2_PYTHON:-python3}
"$PY" -c 'import numpy' 2>/dev/null || PY=python3
HAVE_NUMPY=1; "$PY" -c 'import numpy' 2>/dev/null || HAVE_NUMPY=0
T=$(mktemp -d /tmp/g2robust_cat.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# Sanitizer builds reserve terabytes of address space: cap memory only for plain builds.
VMEM=2000000
grep -q __asan_init "$G2_BIN_DIR/g2inspect" && VMEM=unlimited

# name | base | mutation snippet | tool and args | exit | patterns (;-separated, @1/@2 from the snippet)
CASES=$(cat <<'EOF'
st_empty_file        | tp8 | F=big(); put(F,b''); print(F)                                         | inspect | 2 | @1
st_shorter_than_len  | tp8 | F=big(); put(F,b'\x10\0\0'); print(F)                                 | inspect | 2 | @1
st_header_len_huge   | tp8 | F=big(); hdrlen(F,1<<62); print(F)                                    | inspect | 2 | @1
st_header_past_eof   | tp8 | F=big(); hdrlen(F,os.path.getsize(F)); print(F)                       | inspect | 2 | @1
st_header_not_json   | tp8 | F=big(); W(F,None,raw=b'{"a":'); print(F)                             | inspect | 2 | @1
st_header_array      | tp8 | F=big(); W(F,None,raw=b'[1,2,3]'); print(F)                           | inspect | 2 | @1
st_offsets_past_eof  | tp8 | F,T=pick('w1'); h=H(F); h[T]['data_offsets'][1]=1<<40; W(F,h); print(F,T) | inspect | 2 | @1;@2
st_offsets_reversed  | tp8 | F,T=pick('w2'); h=H(F); h[T]['data_offsets'].reverse(); W(F,h); print(F,T) | inspect | 2 | @1;@2
st_offsets_overlap   | tp8 | F,a=pick('w1'); h=H(F); T=[k for k in h if k not in (a,'__metadata__')][0]; h[T]['data_offsets']=h[a]['data_offsets']; W(F,h); print(F,T) | inspect | 2 | @1
st_dtype_unknown     | tp8 | F,T=pick('w1'); h=H(F); h[T]['dtype']='Q4'; W(F,h); print(F,T) | inspect | 2 | @1;@2;Q4
st_dtype_size        | tp8 | F,T=pick('w1'); h=H(F); h[T]['dtype']='F32'; W(F,h); print(F,T) | inspect | 2 | @1;@2
st_shape_negative    | tp8 | F,T=pick('w1'); h=H(F); h[T]['shape'][0]=-4; W(F,h); print(F,T) | inspect | 2 | @1;@2
st_shape_overflow    | tp8 | F,T=pick('w1'); h=H(F); h[T]['shape']=[1<<40,1<<40,1<<40]; W(F,h); print(F,T) | inspect | 2 | @1;@2
st_shape_vs_bytes    | tp8 | F,T=pick('w1'); h=H(F); h[T]['shape'][0]*=2; W(F,h); print(F,T) | inspect | 2 | @1;@2
st_duplicate_key     | tp8 | F,T=pick('w1'); h=H(F); s=json.dumps(h)[:-1]+',"%s":%s}'%(T,json.dumps(h[T])); W(F,None,raw=s.encode()); print(F,T) | inspect | 2 | @1;@2
st_metadata_not_str  | tp8 | F=big(); h=H(F); h['__metadata__']={'format':1}; W(F,h); print(F)     | inspect | 2 | @1
st_truncated_data    | tp8 | F=big(); trunc(F,-10); print(F)                                       | inspect | 2 | @1
st_truncated_header  | tp8 | F=big(); trunc(F,20); print(F)                                        | inspect | 2 | @1
st_shape_transposed  | tp8 | F,T=pick('k_proj'); h=H(F); h[T]['shape'].reverse(); W(F,h); print(F,T) | convert --tp 1 | 2 | @2
st_tensor_renamed    | tp8 | F,T=pick('w1'); h=H(F); h['bogus.'+T]=h.pop(T); W(F,h); print(F,T) | convert --tp 1 | 2 | @2
st_bf16_as_f16       | tp8 | F,T=pick('w1'); h=H(F); h[T]['dtype']='F16'; W(F,h); print(F,T) | convert --tp 1 | 2 | @2
tp_missing_rank      | tp8 | F=files('*TP-003*')[-1]; rm(F); print(F)                              | convert --tp 1 | 2 | TP-003
tp_mixed_sets        | tp8 | import shutil; F=files('*TP-001*')[-1]; shutil.copy(os.environ['TP4']+'/'+F,F); print(F) | convert --tp 1 | 2 | @1
tp_extra_rank        | tp8 | import shutil; F=files('*TP-007*')[-1]; shutil.copy(F,F.replace('TP-007','TP-008')); print(F.replace('TP-007','TP-008')) | convert --tp 1 | 2 | TP-008
tp_duplicate_tensor  | tp8 | import shutil; F=files('*TP-common*')[0]; shutil.copy(F,'pytorch_model-00099-TP-common.safetensors'); print(F,first(F,'')) | inspect | 2 | @2
tp_no_config         | tp8 | rm('config.json')                                                     | convert --tp 1 | 2 | config.json
cfg_not_json         | tp8 | put('config.json','{"hidden_size": 6')                                | inspect | 2 | config.json
cfg_heads_x_head_dim | tp8 | cfg(num_attention_heads=15)                                           | inspect | 2 | config.json;head_dim
cfg_kv_not_dividing  | tp8 | cfg(num_key_value_heads=6)                                            | inspect | 2 | config.json;num_key_value_heads
cfg_missing_hidden   | tp8 | cfg(hidden_size=None)                                                 | inspect | 2 | config.json;hidden_size
cfg_hidden_string    | tp8 | cfg(hidden_size='64')                                                 | inspect | 2 | config.json;hidden_size
cfg_topk_gt_experts  | tp8 | cfg(num_experts_per_tok=9)                                            | inspect | 2 | config.json;num_experts_per_tok
cfg_expert_width     | tp8 | cfg(moe_intermediate_size=64)                                         | convert --tp 1 | 2 | block_sparse_moe.experts
cfg_vocab            | tp8 | cfg(vocab_size=512)                                                   | convert --tp 1 | 2 | embed_tokens
cfg_more_layers      | tp8 | cfg(num_hidden_layers=3)                                              | convert --tp 1 | 2 | model.layers.2.
ix_path_traversal    | hf  | j=J('model.safetensors.index.json'); k=sorted(j['weight_map'])[0]; j['weight_map'][k]='../evil.safetensors'; JW('model.safetensors.index.json',j) | inspect | 2 | model.safetensors.index.json;../evil.safetensors
ix_absolute_path     | hf  | j=J('model.safetensors.index.json'); k=sorted(j['weight_map'])[0]; j['weight_map'][k]='/etc/passwd'; JW('model.safetensors.index.json',j) | inspect | 2 | model.safetensors.index.json;/etc/passwd
ix_missing_file      | hf  | j=J('model.safetensors.index.json'); k=sorted(j['weight_map'])[0]; j['weight_map'][k]='model-00009-of-00009.safetensors'; JW('model.safetensors.index.json',j) | inspect | 2 | model-00009-of-00009.safetensors
ix_not_json          | hf  | put('model.safetensors.index.json','{"weight_map": [')               | inspect | 2 | model.safetensors.index.json
ix_weight_map_list   | hf  | JW('model.safetensors.index.json',{'metadata':{},'weight_map':[1,2]}) | inspect | 2 | model.safetensors.index.json;weight_map
ix_names_absent      | hf  | j=J('model.safetensors.index.json'); j['weight_map']['model.layers.9.bogus.weight']=files('model-*')[0]; JW('model.safetensors.index.json',j) | inspect | 2 | model.layers.9.bogus.weight
pk_global_os_system  | jax | F=files('ckpt-0/tensor*')[3]; pkl_global(F,'os','system'); print(F)  | inspect | 2 | @1;os
pk_global_eval       | jax | F=files('ckpt-0/tensor*')[3]; pkl_global(F,'builtins','eval'); print(F) | inspect | 2 | @1;eval
pk_huge_shape        | jax | F=files('ckpt-0/tensor*')[3]; pkl_array(F,(1<<40,1<<20)); print(F)   | inspect | 2 | @1
pk_shape_mismatch    | jax | F=files('ckpt-0/tensor*')[3]; pkl_array(F,(2,2)); print(F)           | convert --to grok2 --tp 1 | 2 | @1
pk_truncated         | jax | F=files('ckpt-0/tensor*')[3]; trunc(F,-7); print(F)                  | inspect | 2 | @1
pk_garbage           | jax | F=files('ckpt-0/tensor*')[3]; put(F,b'\x80\x04garbage\x00\x01'); print(F) | inspect | 2 | @1
pk_missing_file      | jax | F=files('ckpt-0/tensor*')[3]; rm(F); print(F)                        | inspect | 2 | tensor00003_000
nan_to_fp8           | tp8 | F,T=pick('w1'); poke(F,T,5,BF16_NAN); print(F,T)           | convert --tp 1 --dtype fp8 --fp8-scale tensor | 2 | @2;NaN
inf_to_fp8           | tp8 | F,T=pick('w2'); poke(F,T,0,BF16_INF); print(F,T)           | convert --tp 1 --dtype fp8 --fp8-scale channel | 2 | @2;infinite
nan_verify           | tp8 | F,T=pick('w3'); poke(F,T,1,BF16_NAN); print(F,T)           | inspect --verify | 1 | @2
fp8_scale_zero       | fp8 | F,T=pick('w1.weight_scale'); poke(F,T,0,F32_ZERO); print(F,T) | convert --tp 1 --dtype bf16 | 2 | @2
fp8_scale_nan        | fp8 | F,T=pick('w2.weight_scale'); poke(F,T,0,F32_NAN); print(F,T) | convert --tp 1 --dtype bf16 | 2 | @2
fp8_scale_nan_verify | fp8 | F,T=pick('w3.weight_scale'); poke(F,T,0,F32_NAN); print(F,T) | inspect --verify | 1 | @2
EOF
)

# Bases, made once: g2synth's tiny Grok-2 HF, TP8 and TP4 (release-style) sets and Grok-1
# JAX set, and an FP8 set g2convert makes from the HF one; manifests dropped (raw inputs).
CFG2=$S/tests/robust/grok-2-mini.json CFG1=$S/tests/robust/grok-1-mini.json
"$G2_BIN_DIR/g2synth" --config "$CFG2" --format hf --out "$T/base/hf" >/dev/null
"$G2_BIN_DIR/g2synth" --config "$CFG2" --format grok2-tp --tp 8 --out "$T/base/tp8" >/dev/null
"$G2_BIN_DIR/g2synth" --config "$CFG2" --format grok2-tp --tp 4 --out "$T/base/tp4" >/dev/null
"$G2_BIN_DIR/g2convert" "$T/base/hf" "$T/base/fp8" --tp 1 --dtype fp8 --fp8-scale tensor >/dev/null 2>&1
"$G2_BIN_DIR/g2synth" --config "$CFG1" --format grok1-jax --out "$T/base/jax" >/dev/null
rm -f "$T"/base/*/g2manifest.json
export TP4=$T/base/tp4

run() {  # LOG CMD...: run bounded; prints the exit code
  local log=$1; shift
  set +e
  (ulimit -v "$VMEM"; exec timeout -s KILL 60 "$@") >"$log" 2>&1
  local rc=$?
  set -e
  echo $rc
}
tool() {  # DIR TOOL ARGS... -> the command line
  local d=$1 t=$2; shift 2
  case $t in
    inspect) echo "$G2_BIN_DIR/g2inspect" "$d" "$@" ;;
    convert) echo "$G2_BIN_DIR/g2convert" "$d" "$d.out" "$@" ;;
    diff) echo "$G2_BIN_DIR/g2diff" "$d" "$@" ;;
  esac
}

n=0 tried=0 bad=0
while IFS='|' read -r name base snippet cmd want pats; do
  name=$(echo $name); base=$(echo $base); cmd=$(echo $cmd); want=$(echo $want); pats=$(echo $pats)
  [ -z "$name" ] && continue
  if [ "$base" = jax ] && [[ "$snippet" == *pkl_array* ]] && [ $HAVE_NUMPY = 0 ]; then
    echo "SKIP $name (needs numpy)"; continue
  fi
  d=$T/c/$name
  mkdir -p "$T/c"
  cp -r "$T/base/$base" "$d"
  marks=$("$PY" "$S/tests/cli/robust_mutate.py" "$d" "$snippet") || fail "$name: mutation failed"
  read -r m1 m2 _ <<<"$marks" || true
  n=$((n + 1))
  # shellcheck disable=SC2046
  read -ra argv <<<"$(tool "$d" $cmd)"
  rc=$(run "$T/$name.log" "${argv[@]}")
  tried=$((tried + 1))
  msg=$(cat "$T/$name.log")
  if [ "$rc" != "$want" ]; then
    echo "BAD $name: '$cmd' exited $rc, expected $want: $msg" >&2; bad=$((bad + 1)); continue
  fi
  IFS=';' read -ra plist <<<"$pats"
  for p in "${plist[@]}"; do
    p=${p//@1/$m1}; p=${p//@2/$m2}
    grep -qF -- "$p" <<<"$msg" || { echo "BAD $name: message lacks '$p': $msg" >&2; bad=$((bad + 1)); continue 2; }
  done
  [ -n "${G2_CATALOGUE_VERBOSE:-}" ] && printf '%-22s %s\n' "$name" "$(grep -m1 -E 'g2inspect:|g2convert:.*(error|:)|non-finite' <<<"$msg" | cut -c1-220)"
  [ ! -e "$d.out/g2manifest.json" ] || { echo "BAD $name: a refused conversion left a manifest" >&2; bad=$((bad + 1)); }
  # The other tools: bounded, no signal; a refusal is fine, a crash or a hang is not.
  extra=(inspect "inspect --verify" "convert --tp 1" "diff $T/base/$base --tokens 1,2,3")
  [ $base = jax ] && extra=(inspect "convert --to grok2 --tp 1" "diff $T/base/jax --tokens 1,2")
  for e in "${extra[@]}"; do
    rm -rf "$d.out"
    read -ra argv <<<"$(tool "$d" $e)"
    rc=$(run "$T/$name.x.log" "${argv[@]}")
    tried=$((tried + 1))
    if [ "$rc" -gt 2 ]; then
      echo "BAD $name: '$e' exited $rc (signal/timeout/crash): $(tail -5 "$T/$name.x.log")" >&2; bad=$((bad + 1))
    elif [ "$cmd" = inspect ] && { [ "$rc" != 2 ] || ! grep -qF -- "${m1:-$name}" "$T/$name.x.log"; }; then
      # A set g2inspect cannot open: every tool must refuse it the same way.
      echo "BAD $name: '$e' exited $rc, expected 2 naming ${m1:-$name}: $(tail -3 "$T/$name.x.log")" >&2; bad=$((bad + 1))
    fi
  done
  rm -rf "$d" "$d.out"
done <<<"$CASES"
echo "robust_catalogue: $n cases, $tried tool runs, $bad problems"
[ $bad = 0 ] || fail "$bad problems"
[ $n -ge 30 ] || fail "only $n cases ran"
echo "robust_catalogue: ok"
