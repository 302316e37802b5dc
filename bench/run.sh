#!/bin/sh
# Side-by-side benchmarks: deepc and the PyTorch peers, interleaved in one run on this machine
# (A B A B ...), medians compared. Usage: bench/run.sh [reps] [workloads...]
#   workloads: mlp cnn lstm transformer small (default: all)
# Every workload runs on both sides at 1 thread and at 2 threads (THREAD_COUNTS), and every rep
# starts with OpenBLAS SGEMM's own 1- and 2-thread rate (bench/sgemm_threads), so that the
# 2-thread figures can be read against the speed-up the machine gives at that moment.
# PyTorch runs through bench/peers/torch_run.py, which bounds it to the thread count
# (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, torch.set_num_threads: with the OpenMP build of
# OpenBLAS, OPENBLAS_NUM_THREADS alone no longer bounds it). OPENBLAS_CORETYPE is unset for both
# sides so OpenBLAS picks its best kernels; OMP_WAIT_POLICY and GOMP_SPINCOUNT pass through as
# the caller sets them, the same for both sides.
# Every log line carries the side, the rep, the thread count, the load average when its run
# started and the OpenMP wait settings; each program's first line (metric run_info) describes
# its OpenBLAS build; GNU time adds each run's peak RSS and CPU seconds per wall second.
set -e
cd "$(dirname "$0")/.."
REPS=${1:-3}
[ $# -gt 0 ] && shift
WORK=${*:-mlp cnn lstm transformer small}
BUILD=${BUILD:-build}
PEERS=${PEERS:-../shared/peers}
OUT=${OUT:-out/bench}
THREAD_COUNTS=${THREAD_COUNTS:-1 2}
mkdir -p "$OUT"
LOG="$OUT/bench-$(date +%Y%m%d-%H%M%S).jsonl"
RES=$(mktemp)
trap 'rm -f "$RES"' EXIT
unset OPENBLAS_CORETYPE
# Each run goes through GNU time: peak resident set (KB), user and system CPU seconds, wall.
timed() { /usr/bin/time -f '%M %U %S %e' -o "$RES" "$@"; }
# the run's GNU time figures as two log lines for workload $1
res() {
  read -r kb u s e < "$RES"
  echo "{\"workload\": \"$1\", \"metric\": \"peak_rss_mb\", \"value\": $((kb / 1024))}"
  echo "{\"workload\": \"$1\", \"metric\": \"cpu_per_wall\", \"value\": $(awk -v u="$u" -v s="$s" -v e="$e" 'BEGIN {printf "%.3f", (e > 0) ? (u + s) / e : 0}'), \"wall_seconds\": $e}"
}
py() { t=$1; shift; timed /usr/bin/python3 bench/peers/torch_run.py "$t" "$@"; }
dc() { t=$1; shift; timed env DEEPC_THREADS="$t" "$@"; }
LOAD=
# tag SIDE REP THREADS: prefixes each JSON line with the run's side, rep, threads, the load
# average when it started and the wait settings (the programs' own "threads" keys stay theirs)
tag() {
  sed "s|^{|{\"side\": \"$1\", \"rep\": $2, \"run_threads\": $3, \"loadavg\": \"$LOAD\", \"omp_wait_policy\": \"${OMP_WAIT_POLICY:-}\", \"gomp_spincount\": \"${GOMP_SPINCOUNT:-}\", |" |
    grep '^{' >> "$LOG"
}
# pair NAME WORKLOAD "DEEPC_CMD" "PEER_CMD": both sides at each thread count (the commands are
# split at spaces; the peer script gets the thread count as its first argument)
pair() {
  name=$1 wl=$2 dcmd=$3 pcmd=$4
  for t in $THREAD_COUNTS; do
    LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "rep $r: $name deepc threads=$t (load $LOAD)"
    # shellcheck disable=SC2086
    { dc "$t" $dcmd || failed "$wl"; res "$wl"; } | tag "deepc$t" "$r" "$t"
    LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "rep $r: $name torch threads=$t (load $LOAD)"
    # shellcheck disable=SC2086
    { py "$t" $pcmd || failed "$wl"; res "$wl"; } | tag "torch$t" "$r" "$t"
  done
}
failed() { echo "{\"workload\": \"$1\", \"metric\": \"failed\", \"value\": 1}"; }

echo "bench: $REPS reps of [$WORK] at threads [$THREAD_COUNTS], log $LOG; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$REPS"); do
  LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "rep $r: sgemm (load $LOAD)"
  # shellcheck disable=SC2086
  "$BUILD/bench/sgemm_threads" 2048 3 $THREAD_COUNTS | tag sgemm "$r" 0
  for w in $WORK; do
    case $w in
      mlp) pair mlp W1_mlp_fmnist "$BUILD/bench/mlp_fashion" "$PEERS/mlp_fashion.py" ;;
      cnn) pair cnn W2_cnn_fmnist "$BUILD/bench/cnn_fashion" "$PEERS/cnn_fashion.py" ;;
      lstm) pair lstm W3_lstm_fmnist_rows "$BUILD/bench/lstm_fashion" "$PEERS/lstm_fashion.py" ;;
      transformer) pair transformer W4_transformer_fmnist_rows "$BUILD/bench/transformer_fashion" "$PEERS/transformer_fashion.py" ;;
      small) pair small small_loops "$BUILD/bench/small_loops data/iris.csv" "bench/peers/small_loops.py data/iris.csv" ;;
    esac
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 bench/summary.py "$LOG"
