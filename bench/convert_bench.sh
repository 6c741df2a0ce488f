#!/usr/bin/env bash
# Benchmark (not a test): synthesise a multi-GB Grok-2-shaped set, make it a TP8 release-style
# set, then measure g2convert TP8 -> TP4 (and -> FP8) throughput and peak RSS next to `cp -r`
# of the same bytes. usage: bench/convert_bench.sh [WORKDIR] [HIDDEN] [LAYERS] [VOCAB] [THREADS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${1:-/tmp/g2convert_bench}
H=${2:-4096}; L=${3:-2}; V=${4:-32768}; THREADS=${5:-2}
C=${G2_BIN_DIR:-$ROOT/build/bin}/g2convert
rm -rf "$W"; mkdir -p "$W"
python3 "$ROOT/bench/convert_synth_hf.py" "$W/hf" "$H" "$L" "$V"
"$C" "$W/hf" "$W/tp8" --tp 8 --layout tp --threads "$THREADS" 2>/dev/null
BYTES=$(du -sb "$W/tp8" | cut -f1)
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true

measure() {  # label, command...
  local label=$1; shift
  if ! /usr/bin/time -v "$@" 2>"$W/time.$label" >/dev/null; then echo "$label: failed"; tail -3 "$W/time.$label"; return 0; fi
  local secs rss
  secs=$(grep "Elapsed (wall clock)" "$W/time.$label" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident set size" "$W/time.$label" | awk '{print $NF}')
  printf "%-28s %8.2f s  %8.0f MiB/s  peak RSS %6.0f MiB\n" "$label" "$secs" "$(echo "$BYTES / 1048576 / $secs" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
}
echo "set: $(echo "$BYTES / 1073741824" | bc -l | cut -c1-5) GiB, hidden $H, $L layers, vocab $V, threads $THREADS"
measure "cp -r + sync" sh -c "cp -r '$W/tp8' '$W/cp' && sync"
sync
measure "g2convert TP8->TP4" "$C" "$W/tp8" "$W/tp4" --tp 4 --layout tp --threads "$THREADS"
sync
measure "g2convert TP8->TP4 256M" "$C" "$W/tp8" "$W/tp4s" --tp 4 --layout tp --threads "$THREADS" --mem-limit 256M
sync
measure "g2convert TP8->TP16 rank" "$C" "$W/tp8" "$W/tp16" --tp 16 --layout rank --threads "$THREADS"
sync
measure "g2convert TP8->FP8 block" "$C" "$W/tp8" "$W/fp8" --tp 8 --layout tp --dtype fp8 --threads "$THREADS"
rm -rf "$W"
