#!/usr/bin/env bash
# The .clang-format check `make test` runs (ctest style.column_limit): no line of a tracked
# C++/CUDA source is longer than .clang-format's ColumnLimit (columns = UTF-8 characters, as
# clang-format counts them). The rest of the style is not enforced: most of the tree predates
# the file, and reformatting it wholesale would touch every line other work edits.
#
#   scripts/check-format.sh          list every line over the limit; exit 1 if there is one
#   scripts/check-format.sh --fix    reformat exactly those lines with clang-format (--lines),
#                                    then check again (what clang-format cannot shorten, e.g. a
#                                    long string literal or URL, is left to fix by hand)
set -euo pipefail
cd "$(dirname "$0")/.."
fix=0
[ "${1:-}" = --fix ] && fix=1
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cc' '*.h' '*.cu' '*.cuh')
else
  mapfile -t files < <(find bench kernels libconvert libmodel tests tools -name '*.cc' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' | sort)
fi
limit=$(awk -F': *' '$1 == "ColumnLimit" {print $2}' .clang-format)
[ -n "$limit" ] || { echo "check-format: no ColumnLimit in .clang-format" >&2; exit 2; }

# over: FILE:LINE:COLUMNS for every line past the limit
over() {
  python3 - "$limit" "${files[@]}" <<'PY'
import sys
limit = int(sys.argv[1])
for path in sys.argv[2:]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            width = len(line.rstrip("\n").expandtabs(2))
            if width > limit:
                print(f"{path}:{n}:{width}")
PY
}

if [ $fix = 1 ]; then
  command -v clang-format >/dev/null || { echo "check-format: --fix needs clang-format (apt-get install clang-format)" >&2; exit 2; }
  declare -A lines=()
  while IFS=: read -r f n _; do lines[$f]+=" --lines=$n:$n"; done < <(over)
  for f in "${!lines[@]}"; do
    # shellcheck disable=SC2086 # one --lines=N:N word per flagged line
    clang-format -i ${lines[$f]} "$f"
  done
  echo "check-format: reformatted the flagged lines of ${#lines[@]} files"
fi
found=$(over)
if [ -n "$found" ]; then
  echo "$found" | sed "s/:\([0-9]*\)\$/: \1 columns (limit $limit)/"
  echo "check-format: $(echo "$found" | wc -l) lines over the $limit-column limit; scripts/check-format.sh --fix reformats them" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files, no line over $limit columns"
