#!/usr/bin/env bash
# `make package`'s .deb: its control fields, its files (tools, configs, docs; no headers or
# libraries), Depends naming the Debian runtime package of every shared library the tools ask
# for (and no -dev package), each satisfied on this machine; installed with dpkg into a scratch
# root, every tool's --help runs, and dpkg removes it again.
source "$(dirname "$0")/package_lib.bash"
[ "$(basename "$DEB")" = "g2kit_${VERSION}_amd64.deb" ] || fail "unexpected file name $DEB"
dpkg-deb --info "$DEB" >"$T/info"
field() { sed -n "s/^ $1: //p" "$T/info"; }
[ "$(field Package)" = g2kit ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$VERSION" ] || fail "Version: $(field Version), project $VERSION"
[ "$(field Architecture)" = amd64 ] || fail "Architecture: $(field Architecture)"
DEPENDS=$(field Depends)
echo "$NAME: Depends: $DEPENDS"
DEP_NAMES=$(tr ',|' '\n\n' <<<"$DEPENDS" | sed -E 's/^ *([^ (]+).*/\1/')

# Every soname a tool needs -> the Debian runtime package that ships it. A soname missing here
# is a new dependency: add it, and check that dpkg-shlibdeps put its package in Depends.
declare -A PKG=([libsentencepiece.so.0]=libsentencepiece0 [libzstd.so.1]=libzstd1 [libxxhash.so.0]=libxxhash0
                [libpcre2-8.so.0]=libpcre2-8-0 [libopenblas.so.0]=libopenblas0 [libstdc++.so.6]=libstdc++6
                [libgcc_s.so.1]=libgcc-s1 [libc.so.6]=libc6 [libm.so.6]=libc6)
dpkg-deb -x "$DEB" "$T/x"
for t in $TOOLS; do
  [ -x "$T/x/usr/bin/$t" ] || fail "no usr/bin/$t"
  for so in $(needed "$T/x/usr/bin/$t"); do
    p=${PKG[$so]:-}
    [ -n "$p" ] || fail "$t needs $so, which this test does not know: is its package in Depends?"
    grep -qxF "$p" <<<"$DEP_NAMES" || fail "$t needs $so (package $p), Depends lacks it"
  done
done
grep -q -- '-dev' <<<"$DEPENDS" && fail "Depends names a -dev package"
# Each dependency is a real Debian package, installed here at a version that satisfies it.
IFS=',' read -r -a deps <<<"$DEPENDS"
for d in "${deps[@]}"; do
  ok=0
  IFS='|' read -r -a alts <<<"$d"
  for a in "${alts[@]}"; do
    read -r name op ver <<<"$(sed -E 's/^ *([^ (]+) *(\(([<>=]+) *([^)]+)\))?.*/\1 \3 \4/' <<<"$a")"
    have=$(dpkg-query -W -f='${Version}' "$name" 2>/dev/null || true)
    [ -n "$have" ] || continue
    if [ -z "$op" ] || dpkg --compare-versions "$have" "$op" "$ver"; then ok=1; fi
  done
  [ $ok = 1 ] || fail "dependency '$d' is not satisfied on this machine"
done
dpkg-deb --contents "$DEB" | awk '{print $6}' >"$T/contents"
for f in ./usr/share/g2kit/configs/grok-1.json ./usr/share/g2kit/configs/grok-2.json ./usr/share/doc/g2kit/README.md; do
  grep -qxF "$f" "$T/contents" || fail "the .deb has no $f"
done
grep -qE '\.(a|h|so[.0-9]*)$|/include/|/cmake/' "$T/contents" && fail "the .deb holds libraries or headers: $(grep -E '\.(a|h|so)' "$T/contents" | head -3)"

# dpkg into a scratch root (its own database), then each tool's --help from there.
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
dpkg --root="$R" --force-not-root --force-depends --log=/dev/null -i "$DEB" >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg -i"; }
[ "$(dpkg --root="$R" -s g2kit | sed -n 's/^Status: //p')" = "install ok installed" ] || fail "dpkg does not list g2kit as installed"
for t in $TOOLS; do
  "$R/usr/bin/$t" --help >"$T/help" 2>&1 || fail "$t --help exited $? from the installed package"
  grep -q "^Usage: " "$T/help" || fail "$t --help printed no usage"
done
dpkg --root="$R" --force-not-root --force-depends --log=/dev/null -r g2kit >"$T/dpkg.log" 2>&1 || { cat "$T/dpkg.log"; fail "dpkg -r"; }
[ -z "$(find "$R/usr" -type f 2>/dev/null)" ] || fail "dpkg -r left files behind"
echo "$NAME: ok ($(basename "$DEB"), $(wc -l <"$T/contents") entries; installed, --help x4, removed)"
