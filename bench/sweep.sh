#!/bin/sh
# The layer sweep, deepc against PyTorch at one thread: every point of a grid of bench/sweep.c
# (smoke, quick or full) timed by deepc (bench/sweep) and by PyTorch (bench/peers/sweep.py), one
# process per side and point, the two sides interleaved point by point (deepc first on odd
# points, PyTorch first on even ones, so a change in the machine's load falls on both), then
# bench/sweep_summary.py's table. Every line of the log carries the load average at its start,
# the wait policy and (deepc) the OpenBLAS build; the log begins and ends with OpenBLAS SGEMM's
# rate on a 1024^3 product alone and the machine's uptime line.
#   bench/sweep.sh [grid (quick)] [rounds (1)]
#   BUILD (build), MIN_TIME (seconds timed per point and side, 0.3), OUT (out/sweep)
set -e
cd "$(dirname "$0")/.."
GRID=${1:-quick}
ROUNDS=${2:-1}
BUILD=${BUILD:-build}
MIN_TIME=${MIN_TIME:-0.3}
OUT=${OUT:-out/sweep}
mkdir -p "$OUT"
LOG="$OUT/sweep-$GRID-$(date +%Y%m%d-%H%M%S).jsonl"
# One thread everywhere: deepc's pool, OpenMP (the OpenMP build of OpenBLAS, and PyTorch's
# intra-op pool, follow OMP_NUM_THREADS), OpenBLAS's own pthreads build; passive waiting.
export DEEPC_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive
unset OPENBLAS_CORETYPE
SWEEP="$BUILD/bench/sweep"
PY=${PYTHON:-/usr/bin/python3}
[ -x "$SWEEP" ] || { echo "sweep.sh: $SWEEP not built (cmake --build $BUILD --target bench_sweep)" >&2; exit 2; }
POINTS=$("$SWEEP" --list "$GRID")
N=$(echo "$POINTS" | wc -l)
meta() { printf '{"point": "meta", "event": "%s", "date": "%s", "grid": "%s", "uptime": "%s"}\n' \
  "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$GRID" "$(uptime | sed 's/^ *//')" >> "$LOG"; }
dc() { "$SWEEP" --min-time "$MIN_TIME" "$1" | sed "s/^{/{\"round\": $2, /" >> "$LOG"; }
pt() { "$PY" bench/peers/sweep.py --min-time "$MIN_TIME" "$1" | sed "s/^{/{\"round\": $2, /" >> "$LOG"; }

echo "sweep: grid $GRID ($N points), $ROUNDS round(s), log $LOG"
meta start
"$SWEEP" --peak >> "$LOG"
for r in $(seq 1 "$ROUNDS"); do
  i=0
  for p in $POINTS; do
    i=$((i + 1))
    echo "round $r point $i/$N: $p"
    if [ $((i % 2)) -eq 1 ]; then dc "$p" "$r" || true; pt "$p" "$r" || true
    else pt "$p" "$r" || true; dc "$p" "$r" || true; fi
  done
done
"$SWEEP" --peak >> "$LOG"
meta end
"$PY" bench/sweep_summary.py "$LOG"
