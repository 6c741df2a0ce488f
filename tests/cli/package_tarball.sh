#!/usr/bin/env bash
# `make package`'s tarball: unpacked into a temp folder and moved elsewhere (relocatable), every
# shared library its tools load comes from its own lib/ except glibc's and the C++ runtime's
# (so none from this machine's -dev or runtime packages), the glibc / libstdc++ floors the
# README states hold, and the demo conversion runs from there in a bare environment:
# g2synth -> g2convert --to grok2 FP8 TP8 -> g2inspect --verify -> g2diff (parity, and a text
# prompt through the bundled SentencePiece).
source "$(dirname "$0")/package_lib.bash"
TOP=g2kit-$VERSION-linux-$(uname -m)
[ "$(basename "$TGZ")" = "$TOP.tar.gz" ] || fail "unexpected file name $TGZ"
mkdir -p "$T/unpack" "$T/elsewhere" "$T/scratch"
tar -xzf "$TGZ" -C "$T/unpack"
[ "$(ls "$T/unpack")" = "$TOP" ] || fail "the tarball's top folder is $(ls "$T/unpack"), not $TOP"
mv "$T/unpack/$TOP" "$T/elsewhere/"   # relocated after unpacking: nothing may point at the first place
G=$T/elsewhere/$TOP
for f in share/g2kit/configs/grok-1.json share/g2kit/configs/grok-1-tiny.json share/doc/g2kit/README.md; do
  [ -f "$G/$f" ] || fail "no $f"
done
[ -z "$(find "$G" -name '*.a' -o -name '*.h')" ] || fail "the tarball holds static libraries or headers"

system_lib() { [[ $1 =~ ^(linux-vdso\.so|ld-linux-x86-64\.so|libc\.so|libm\.so|libstdc\+\+\.so|libgcc_s\.so) ]]; }
for t in $TOOLS; do
  rpath=$(readelf -d "$G/bin/$t" | sed -n 's/.*(RPATH).*\[\(.*\)\]/\1/p')
  [ "$rpath" = '$ORIGIN/../lib' ] || fail "$t: RPATH '$rpath', expected \$ORIGIN/../lib (DT_RPATH, not RUNPATH)"
  env -i ldd "$G/bin/$t" >"$T/ldd" || fail "ldd $t"
  grep -q "not found" "$T/ldd" && fail "$t: $(grep 'not found' "$T/ldd")"
  while read -r so _ path _; do
    system_lib "$so" && continue
    [[ $path == "$G/bin/../lib/"* ]] || fail "$t loads $so from $path, not from the tarball's lib/"
  done < <(grep '=>' "$T/ldd")
done
bundled=$(ls "$G/lib" | tr '\n' ' ')
for so in libsentencepiece.so.0 libopenblas.so.0 libgfortran.so.5 libzstd.so.1 libxxhash.so.0 libpcre2-8.so.0; do
  [ -f "$G/lib/$so" ] || fail "lib/ lacks $so (has: $bundled)"
done
# The floors README "Install" states: glibc 2.34, libstdc++ of GCC 12 (GLIBCXX_3.4.30).
max_version() { for f in "$G"/bin/* "$G"/lib/*; do objdump -T "$f"; done | grep -o "$1_[0-9.]*" | sort -uV | tail -1; }
glibc=$(max_version GLIBC) glibcxx=$(max_version GLIBCXX)
echo "$NAME: bundled: $bundled; needs $glibc, $glibcxx"
[ "$(printf '%s\n' "$glibc" GLIBC_2.34 | sort -V | tail -1)" = GLIBC_2.34 ] || fail "needs $glibc, README says glibc 2.34"
[ "$(printf '%s\n' "$glibcxx" GLIBCXX_3.4.30 | sort -V | tail -1)" = GLIBCXX_3.4.30 ] || fail "needs $glibcxx"

# The demo conversion from another folder, with nothing from the build or the environment.
FIX=$(bash "$G2_SOURCE_DIR/tests/libmodel/tokenizer/fixtures.sh" "$BUILD")
run() { (cd "$T/scratch" && env -i PATH=/usr/bin:/bin HOME="$T/scratch" "$G/bin/$@"); }
run g2synth -q --config "$G/share/g2kit/configs/grok-1-tiny.json" --format grok1-jax --out g1 || fail "g2synth"
cp "$FIX/sentencepiece/tokenizer.model" "$T/scratch/g1/"
run g2convert -q g1 g2 --to grok2 --dtype fp8 --fp8-block 8 --tp 8 --layout rank >"$T/convert.log" 2>&1 \
  || { cat "$T/convert.log"; fail "g2convert"; }
[ -s "$T/convert.log" ] && fail "g2convert -q printed: $(head -3 "$T/convert.log")"
run g2inspect g2 --verify -q >"$T/verify.log" || { tail "$T/verify.log"; fail "g2inspect --verify"; }
tail -1 "$T/verify.log" | grep -qx "verify: ok" || fail "g2inspect: $(tail -1 "$T/verify.log")"
run g2diff -q g1 g2 --tp-exec --prompt "The capital of France is" --json diff.json >"$T/diff.log" 2>&1 \
  || { cat "$T/diff.log"; fail "g2diff exited $?"; }
grep -q "^PARITY OK" "$T/diff.log" || fail "g2diff: no PARITY OK"
grep -q "^next token after the last position" "$T/diff.log" || fail "g2diff printed no next tokens"
want=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sentencepiece"]["ids"][0])' "$FIX/oracle.json")
got=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["tokens"])' "$T/scratch/diff.json")
[ "$got" = "$want" ] || fail "g2diff --prompt ids $got, Python sentencepiece's $want"
sed -n '/^layer/,/^PARITY/p' "$T/diff.log"
echo "$NAME: ok ($(basename "$TGZ"), $(du -k "$TGZ" | cut -f1) KiB)"
