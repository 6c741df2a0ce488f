#!/usr/bin/env bash
# `cmake --install` into a prefix inside the build tree, then a project of its own
# (tests/cli/consumer: find_package(g2kit CONFIG REQUIRED), g2kit::convert, g2kit::model) is
# configured against that prefix, built and run: the shape it reads from a g2synth safetensors
# set matches g2inspect's, the ids it gets from a tokenizer match the Python oracle's.
set -euo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
BUILD=$(cd "$G2_BIN_DIR/.." && pwd)
PREFIX=$BUILD/_install
CONSUMER=$BUILD/_consumer
T=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "install_consumer: FAIL: $*"; exit 1; }

rm -rf "$PREFIX" "$CONSUMER"
cmake --install "$BUILD" --prefix "$PREFIX" >"$T/install.log" || { cat "$T/install.log"; fail "cmake --install"; }
for f in bin/g2convert bin/g2diff bin/g2inspect bin/g2synth lib/libg2_convert.a lib/libg2_model.a \
         lib/cmake/g2kit/g2kitConfig.cmake lib/cmake/g2kit/g2kitTargets.cmake include/g2kit/libconvert/source/source.h \
         include/g2kit/libmodel/tokenizer/tokenizer.h include/g2kit/kernels/hd.h share/g2kit/configs/grok-1.json; do
  [ -e "$PREFIX/$f" ] || fail "the install prefix has no $f"
done
echo "install_consumer: installed $(find "$PREFIX" -type f | wc -l) files into $PREFIX"

# A sanitizer build's static libraries need the same -fsanitize flags in the consumer.
san=$(sed -n 's/^G2_SANITIZE:STRING=//p' "$BUILD/CMakeCache.txt")
flags=()
if [ -n "$san" ]; then
  flags=(-DCMAKE_CXX_FLAGS="-fsanitize=${san//;/,}" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=${san//;/,}")
fi
cmake -S "$G2_SOURCE_DIR/tests/cli/consumer" -B "$CONSUMER" -DCMAKE_PREFIX_PATH="$PREFIX" \
      -DCMAKE_BUILD_TYPE=Release "${flags[@]}" >"$T/configure.log" 2>&1 || { cat "$T/configure.log"; fail "configure"; }
cmake --build "$CONSUMER" -j 2 >"$T/build.log" 2>&1 || { cat "$T/build.log"; fail "build"; }

"$PREFIX/bin/g2synth" -q --config "$G2_SOURCE_DIR/configs/grok-2-tiny.json" --format hf --out "$T/hf"
got=$("$CONSUMER/tensor_shape" "$T/hf" model.embed_tokens.weight)
want=$("$PREFIX/bin/g2inspect" "$T/hf" --json | python3 -c '
import json, sys
t = {x["name"]: x for x in json.load(sys.stdin)["tensors"]}["model.embed_tokens.weight"]
print(t["name"], t["dtype"], "[" + ", ".join(map(str, t["shape"])) + "]")')
echo "install_consumer: consumer says: $got"
[ "$got" = "$want" ] || fail "consumer printed '$got', g2inspect says '$want'"
[ "$got" = "model.embed_tokens.weight BF16 [1024, 512]" ] || fail "unexpected shape: $got"

FIX=$(bash "$G2_SOURCE_DIR/tests/libmodel/tokenizer/fixtures.sh" "$BUILD")
for side in sentencepiece tiktoken; do
  prompt=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["prompts"][0])' "$FIX/oracle.json")
  want=$(python3 -c 'import json, sys; print(",".join(map(str, json.load(open(sys.argv[1]))[sys.argv[2]]["ids"][0])))' \
         "$FIX/oracle.json" "$side")
  got=$("$CONSUMER/prompt_ids" "$FIX/$side" "$prompt")
  [ "$got" = "$want" ] || fail "$side: consumer ids $got, Python's $want"
  echo "install_consumer: $side ids of \"$prompt\": $got (as Python's)"
done
echo "install_consumer: ok"
