#!/usr/bin/env bash
# Every command example in README.md and MIGRATION.md runs, and every documented flag exists.
#
# Examples: lines starting with `g2convert `, `g2diff `, `g2inspect ` or `g2synth ` inside
# ```sh fenced blocks (a trailing `\` continues the line; ` # ...` comments are dropped). Output
# and synopsis blocks use ```text and are not run. Paths are rewritten for tiny data:
#   /data/grok-1  -> a g2synth grok1-jax checkpoint of configs/grok-1-tiny.json (with config.json)
#   /data/grok-2  -> a g2synth grok2-tp TP 8 set of configs/grok-2-tiny.json, with that file
#                    (the release's fields, without its comment) as its config.json
#   /data/<other> -> a fresh folder in the temp dir (conversion outputs)
#   configs/grok-1.json, configs/grok-2.json -> the -tiny configs; configs/ -> $G2_SOURCE_DIR/configs
# FP8 block conversions get `--fp8-block 8` (tiny shards are 8 rows: 8 KV heads x head_dim 8
# over 8 ranks; the real models' shards are multiples of 128). A g2convert example whose
# destination no later example reads runs with --dry-run; the others run for real (cheap here).
# Expected exit: 0, unless the example's comment says `exit N` (e.g. a g2diff that must find a
# parity failure: `# exit 1`); anything else fails, and 2 (usage or input error) always does.
#
# Scripts: a fenced ```sh/```bash block whose first line starts with `#!` runs whole, under a
# simulated Slurm: `#SBATCH --array=A-B` starts one background process per array index at once
# (SLURM_ARRAY_TASK_ID, _MIN, _MAX, _COUNT set); otherwise the script runs once with
# SLURM_JOB_NUM_NODES from `#SBATCH --nodes=N`, and `srun CMD` (a stand-in on PATH) runs CMD
# once per node, all at once, with SLURM_NODEID 0..N-1. Each process must exit 0. Paths as
# above, plus /local/ -> a per-node folder (node-local disks); `--fp8-scale block` gets
# `--fp8-block 8`. Their g2 command lines are checked for flags, not run on their own.
#
# The stand-ins carry the tiny test tokenizers (tests/libmodel/tokenizer/fixtures.sh): grok-1 a
# tokenizer.model, grok-2 a tokenizer.tok.json, so `--prompt` examples run.
#
# README's "## Install" section is run differently: each ```sh block there is one bash script,
# run from the repository with HOME set to a scratch folder (so `~/opt`, `~/.local` land there)
# and these substitutions for what needs the build under test or root: `make package` ->
# scripts/package.sh on that build; `make build` -> a check that it is built; `build/` -> that
# build folder; `sudo apt install ./X.deb` -> `dpkg-deb -x X.deb` into the scratch folder with
# its usr/bin put first on PATH (the runtime libraries its Depends name are installed here).
#
# Flags: every --flag in an example, and every flag in README's "`<tool>` flags" tables, must
# appear in that tool's --help (failure); flags in --help missing from README's table are
# printed as warnings.
set -uo pipefail
: "${G2_SOURCE_DIR:?}" "${G2_BIN_DIR:?}"
# tmpfs when there is one: the tools fsync every file they write, which costs seconds on a disk.
T=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$T"' EXIT
TOOLS="g2convert g2diff g2inspect g2synth"
failures=0
fail() { echo "docs_examples: FAIL: $*"; failures=$((failures + 1)); }

# --- flags known to each tool (from --help: option lines start with whitespace then '-') ---
declare -A HELP
for t in $TOOLS; do
  HELP[$t]=$("$G2_BIN_DIR/$t" --help | grep -E '^[[:space:]]+-' | grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u)
  [ -n "${HELP[$t]}" ] || fail "$t --help lists no flags"
done
has_flag() { grep -qxF -- "$2" <<<"${HELP[$1]}"; }

# --- extract examples: one per line, "FILE<TAB>KIND<TAB>expected exit<TAB>command or script" ---
# KIND: run (a command line), script (a file under $T/scripts), check (a script's command line:
# flags only).
mkdir -p "$T/scripts"
extract() {
  awk -v file="$1" -v sdir="$T/scripts" '
    function emit(kind, line) {
      if (line ~ /\\[[:space:]]*$/) { sub(/\\[[:space:]]*$/, "", line); cont = line; return }
      cont = ""
      expect = 0
      if (match(line, /#.*exit [0-9]/)) { c = substr(line, RSTART, RLENGTH); expect = substr(c, length(c)) }
      sub(/[[:space:]]+#.*$/, "", line)
      gsub(/[[:space:]]+/, " ", line)
      print file "\t" kind "\t" expect "\t" line
    }
    /^## / { install = ($0 ~ /^## Install/) }
    /^```/ {
      if (in_block) { if (script) { close(sfile); print file "\tscript\t0\t" sfile } in_block = 0; script = 0 }
      else { in_block = 1; first = 1; sh = ($0 ~ /^```(sh|bash)[[:space:]]*$/) }
      next
    }
    in_block && install { next }   # run as whole blocks below
    in_block && sh && first { first = 0; if ($0 ~ /^#!/) { script = 1; sfile = sdir "/" file "." NR ".sh" } }
    in_block && sh && script {
      print > sfile
      line = $0; sub(/^[[:space:]]+/, "", line)
      if (cont != "") emit("check", cont " " line)
      else if (line ~ /^(g2convert|g2diff|g2inspect|g2synth) /) emit("check", line)
      next
    }
    in_block && sh {
      if (cont != "") { line = cont " " $0 } else if ($0 ~ /^(g2convert|g2diff|g2inspect|g2synth) /) { line = $0 } else next
      emit("run", line)
    }' "$G2_SOURCE_DIR/$1"
}
mapfile -t EXAMPLES < <(extract README.md; extract MIGRATION.md)
[ ${#EXAMPLES[@]} -ge 8 ] || fail "found only ${#EXAMPLES[@]} examples (expected the README and MIGRATION command blocks)"

# --- tiny stand-ins for the real checkpoints ---
mkdir -p "$T/data" "$T/work"
"$G2_BIN_DIR/g2synth" --config "$G2_SOURCE_DIR/configs/grok-1-tiny.json" --format grok1-jax --out "$T/data/grok-1" >/dev/null \
  || { echo "docs_examples: g2synth grok-1 failed"; exit 1; }
"$G2_BIN_DIR/g2synth" --config "$G2_SOURCE_DIR/configs/grok-2-tiny.json" --format grok2-tp --tp 8 --out "$T/data/grok-2" >/dev/null \
  || { echo "docs_examples: g2synth grok-2 failed"; exit 1; }
# the release's own config.json (its 32 fields, nothing of ours): the recipes must run on it as shipped
grep -v '"_comment"' "$G2_SOURCE_DIR/configs/grok-2-tiny.json" >"$T/data/grok-2/config.json"
BUILD=$(cd "$G2_BIN_DIR/.." && pwd)
FIX=$(bash "$G2_SOURCE_DIR/tests/libmodel/tokenizer/fixtures.sh" "$BUILD") || { echo "docs_examples: tokenizer fixtures failed"; exit 1; }
cp "$FIX/sentencepiece/tokenizer.model" "$T/data/grok-1/"
cp "$FIX/tiktoken/tokenizer.tok.json" "$T/data/grok-2/"

rewrite_stream() {  # text on stdin -> text for the tiny data
  sed -E -e "s#configs/grok-1\.json#configs/grok-1-tiny.json#g" -e "s#configs/grok-2\.json#configs/grok-2-tiny.json#g" \
         -e "s#(^| )configs/#\1$G2_SOURCE_DIR/configs/#g" -e "s#(^| )/data/#\1$T/data/#g"
}
rewrite() { rewrite_stream <<<"$1"; }  # command -> command for the tiny data

# --- scripts under a simulated Slurm (see the header) ---
mkdir -p "$T/bin" "$T/nodes"
cat >"$T/bin/srun" <<'SRUN'
#!/usr/bin/env bash
# srun stand-in: the command once per node of the allocation, all at once.
rc=0; pids=()
for ((k = 0; k < ${SLURM_JOB_NUM_NODES:-1}; k++)); do SLURM_NODEID=$k SLURM_PROCID=$k SLURM_LOCALID=0 "$@" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
SRUN
chmod +x "$T/bin/srun"
run_script() {  # SCRIPT -> 0 when every simulated task exits 0 (logs in SCRIPT.*.log)
  local src=$1 s="$1.run" array nodes a b id rc=0 pids=()
  rewrite_stream <"$src" | sed -E -e "s#(^| )/local/#\1$T/nodes/\${SLURM_NODEID:-0}/#g" \
                                -e "s#--fp8-scale block#--fp8-scale block --fp8-block 8#g" >"$s"
  array=$(sed -nE 's/^#SBATCH[[:space:]]+--array=([0-9]+-[0-9]+).*/\1/p' "$src")
  nodes=$(sed -nE 's/^#SBATCH[[:space:]]+--nodes=([0-9]+).*/\1/p' "$src")
  local path="$T/bin:$G2_BIN_DIR:$PATH"
  if [ -n "$array" ]; then
    a=${array%-*} b=${array#*-}
    for ((id = a; id <= b; id++)); do
      (cd "$T/work" && PATH=$path SLURM_JOB_ID=1 SLURM_ARRAY_JOB_ID=1 SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_MIN=$a \
         SLURM_ARRAY_TASK_MAX=$b SLURM_ARRAY_TASK_COUNT=$((b - a + 1)) bash "$s") >"$s.$id.log" 2>&1 &
      pids+=($!)
    done
    for id in "${pids[@]}"; do wait "$id" || rc=1; done
  else
    (cd "$T/work" && PATH=$path SLURM_JOB_ID=1 SLURM_JOB_NUM_NODES=${nodes:-1} bash "$s") >"$s.0.log" 2>&1 || rc=1
  fi
  [ $rc -eq 0 ] || tail -n 5 "$s".*.log | sed 's/^/    /'
  return $rc
}

n=0
for i in "${!EXAMPLES[@]}"; do
  IFS=$'\t' read -r file kind expect doc <<<"${EXAMPLES[$i]}"
  if [ "$kind" = script ]; then
    t0=$(date +%s%N)
    run_script "$doc"
    rc=$?
    n=$((n + 1))
    what="$file: script $(sed -nE 's/^# ([^:]+):.*/\1/p' "$doc" | head -1)"
    if [ $rc -eq 0 ]; then echo "docs_examples: ok ($(( ($(date +%s%N) - t0) / 1000000 )) ms) $what"
    else fail "$what: a simulated task failed"; fi
    continue
  fi
  [ "$kind" = check ] && doc=${doc//[\'\"]/}  # a script's line may end inside a quoted srun command
  mapfile -t words < <(xargs printf '%s\n' <<<"$(rewrite "$doc")")   # words, "quoted" ones whole
  tool=${words[0]}
  for w in "${words[@]:1}"; do
    flag=${w%%=*}
    if [[ $flag == --* ]] && ! has_flag "$tool" "$flag"; then fail "$file: '$doc': $tool has no flag $flag"; fi
  done
  [ "$kind" = check ] && continue
  args=("${words[@]:1}")
  if [ "$tool" = g2convert ]; then
    cmdline=" ${args[*]} "
    if [[ $cmdline == *" --dtype fp8 "* && $cmdline != *" --fp8-scale tensor "* && $cmdline != *" --fp8-scale channel "* \
          && $cmdline != *" --fp8-block "* ]]; then args+=(--fp8-block 8); fi
    if [[ $cmdline != *" --dry-run "* ]]; then
      dst=""; pos=0
      for ((k = 0; k < ${#args[@]}; k++)); do   # the second positional (flags taking a value skip it)
        a=${args[$k]}
        case $a in
          --dry-run|--json|--force) ;;
          --*) k=$((k + 1)) ;;
          *) pos=$((pos + 1)); [ $pos -eq 2 ] && dst=${a%/} ;;
        esac
      done
      used=0
      for later in "${EXAMPLES[@]:$((i + 1))}"; do
        l=$(rewrite "${later##*$'\t'}")
        [[ " $l " == *" $dst "* || " $l " == *" $dst/"* ]] && used=1
      done
      [ $used -eq 1 ] || args+=(--dry-run)
    fi
  fi
  t0=$(date +%s%N)
  (cd "$T/work" && "$G2_BIN_DIR/$tool" "${args[@]}") >"$T/out" 2>&1
  rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  n=$((n + 1))
  if [ $rc -eq "$expect" ] && [ $rc -ne 2 ]; then
    echo "docs_examples: ok (exit $rc, $ms ms) $file: $doc"
  else
    fail "$file: '$doc' exited $rc (expected $expect): $tool ${args[*]}"
    tail -5 "$T/out" | sed 's/^/    /'
  fi
done

# --- README "## Install": each ```sh block as one script (substitutions: see the top) ---
install_blocks() {
  awk '/^## / { install = ($0 ~ /^## Install/) }
       /^```/ { if (in_block) { in_block = 0; if (sh && install) print "\x1e" } else { in_block = 1; sh = ($0 ~ /^```(sh|bash)[[:space:]]*$/) } next }
       in_block && sh && install' "$G2_SOURCE_DIR/README.md"
}
mkdir -p "$T/home"
nb=0
while IFS= read -r -d $'\x1e' block; do
  block=${block#$'\n'}
  [ -n "$block" ] || continue
  nb=$((nb + 1))
  script=$(sed -E -e "s#^make package\$#bash '$G2_SOURCE_DIR/scripts/package.sh' '$BUILD' >/dev/null#" \
                  -e "s#^make build\$#test -x '$BUILD/bin/g2diff'#" \
                  -e "s#^sudo apt install (\./)?build/(\S+\.deb)\$#dpkg-deb -x '$BUILD/'\2 \"\$HOME/debroot\" \&\& export PATH=\"\$HOME/debroot/usr/bin:\$PATH\"#" \
                  -e "s#(^| )(\./)?build/#\1$BUILD/#g" -e "s#(^| )build( |\$)#\1$BUILD\2#g" <<<"$block")
  t0=$(date +%s%N)
  (cd "$G2_SOURCE_DIR" && HOME="$T/home" bash -euo pipefail -c "$script") >"$T/out" 2>&1
  rc=$?
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  if [ $rc -eq 0 ]; then
    echo "docs_examples: ok (exit 0, $ms ms) README.md Install block $nb: $(head -1 <<<"$block") ..."
  else
    fail "README.md Install block $nb exited $rc:"$'\n'"$script"
    tail -8 "$T/out" | sed 's/^/    /'
  fi
done < <(install_blocks)
[ $nb -ge 3 ] || fail "README.md's Install section has $nb sh blocks (expected the .deb, tarball and source ones)"

# --- README flag tables ("### `g2convert` flags" then | `--flag ...` | rows) vs --help ---
declare -A TABLE
current=""
while IFS= read -r line; do
  if [[ $line =~ ^#+\ .*\`(g2convert|g2diff|g2inspect|g2synth)\`\ flags ]]; then current=${BASH_REMATCH[1]}; continue; fi
  [[ $line =~ ^# ]] && current=""
  [ -n "$current" ] || continue
  [[ $line =~ ^\|\ *\`-  ]] || continue
  cell=${line//\\|/ }; cell=${cell#|}; cell=${cell%%|*}   # escaped \| inside a cell is not a separator
  TABLE[$current]+=$(grep -oE -- '--[a-z0-9][a-z0-9-]*' <<<"$cell")$'\n'
done <"$G2_SOURCE_DIR/README.md"
for t in $TOOLS; do
  [ -n "${TABLE[$t]:-}" ] || { fail "README.md has no \`$t\` flags table"; continue; }
  for f in $(sort -u <<<"${TABLE[$t]}"); do has_flag "$t" "$f" || fail "README documents $t $f, which $t --help does not list"; done
  for f in ${HELP[$t]}; do
    [ "$f" = --help ] && continue
    grep -qxF -- "$f" <<<"${TABLE[$t]}" || echo "docs_examples: warning: $t --help lists $f, README's $t flags table does not"
  done
done

echo "docs_examples: $n examples and $nb Install blocks run, $failures failures"
[ $failures -eq 0 ]
