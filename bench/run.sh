#!/bin/sh
# Side-by-side benchmarks: deepc and the PyTorch peers, interleaved in one run on this machine
# (A B A B ...), medians compared. Usage: bench/run.sh [reps] [workloads...]
#   workloads: mlp cnn lstm transformer small (default: all)
# PyTorch runs at its best settings on these machines (see ../shared/peers/README.md):
# OpenBLAS at 1 thread, torch at 1 and at 2 threads, the faster taken; OPENBLAS_CORETYPE unset
# for both sides so OpenBLAS picks its best kernels.
set -e
cd "$(dirname "$0")/.."
REPS=${1:-3}
[ $# -gt 0 ] && shift
WORK=${*:-mlp cnn lstm transformer small}
BUILD=${BUILD:-build}
PEERS=${PEERS:-../shared/peers}
OUT=${OUT:-out/bench}
mkdir -p "$OUT"
LOG="$OUT/bench-$(date +%Y%m%d-%H%M%S).jsonl"
THREADS=${DEEPC_THREADS:-$(nproc)}
# Each run goes through GNU time, whose peak resident set size becomes a peak_rss_mb line.
RSS=$(mktemp)
trap 'rm -f "$RSS"' EXIT
timed() { /usr/bin/time -f '%M' -o "$RSS" "$@"; }
rss() { echo "{\"workload\": \"$1\", \"metric\": \"peak_rss_mb\", \"value\": $(($(cat "$RSS") / 1024))}"; }
py() { timed env -u OPENBLAS_CORETYPE OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$@"; }
dc() { timed env -u OPENBLAS_CORETYPE DEEPC_THREADS="$THREADS" "$@"; }
tag() { sed "s/^{/{\"side\": \"$1\", \"rep\": $2, /" | grep '^{' >> "$LOG"; }

echo "bench: $REPS reps of [$WORK], log $LOG"
for r in $(seq 1 "$REPS"); do
  for w in $WORK; do
    case $w in
      mlp)
        echo "rep $r: mlp deepc"; { dc "$BUILD/bench/mlp_fashion"; rss W1_mlp_fmnist; } | tag deepc "$r"
        for t in 1 2; do echo "rep $r: mlp torch threads=$t"; { py "$PEERS/mlp_fashion.py" "$t"; rss W1_mlp_fmnist; } | tag "torch$t" "$r"; done ;;
      cnn)
        echo "rep $r: cnn deepc"; { dc "$BUILD/bench/cnn_fashion"; rss W2_cnn_fmnist; } | tag deepc "$r"
        for t in 1 2; do echo "rep $r: cnn torch threads=$t"; { py "$PEERS/cnn_fashion.py" "$t"; rss W2_cnn_fmnist; } | tag "torch$t" "$r"; done ;;
      lstm)
        echo "rep $r: lstm deepc"; { dc "$BUILD/bench/lstm_fashion"; rss W3_lstm_fmnist_rows; } | tag deepc "$r"
        for t in 1 2; do echo "rep $r: lstm torch threads=$t"; { py "$PEERS/lstm_fashion.py" "$t"; rss W3_lstm_fmnist_rows; } | tag "torch$t" "$r"; done ;;
      transformer)
        echo "rep $r: transformer deepc"; { dc "$BUILD/bench/transformer_fashion"; rss W4_transformer_fmnist_rows; } | tag deepc "$r"
        for t in 1 2; do echo "rep $r: transformer torch threads=$t"; { py "$PEERS/transformer_fashion.py" "$t"; rss W4_transformer_fmnist_rows; } | tag "torch$t" "$r"; done ;;
      small)
        echo "rep $r: small deepc"; dc "$BUILD/bench/small_loops" data/iris.csv | tag deepc "$r"
        for t in 1 2; do echo "rep $r: small torch threads=$t"; py bench/peers/small_loops.py "$t" data/iris.csv | tag "torch$t" "$r"; done ;;
    esac
  done
done
/usr/bin/python3 bench/summary.py "$LOG"
