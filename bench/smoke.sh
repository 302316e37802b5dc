#!/bin/sh
# Keeps the benchmarks from rotting (ctest bench_smoke): runs W1-W4 a few batches each
# (DEEPC_BENCH_STEPS), SGEMM on a small matrix and the products' floor (gemm_floor, one sample
# each), checks that each exits 0 and prints its
# figures, and summarises the lines as bench/run.sh tags them with bench/summary.py (where
# Python 3 is installed). Skipped (77) without the Fashion-MNIST files.
#   bench/smoke.sh BUILD_DIR
set -e
B=${1:?usage: bench/smoke.sh BUILD_DIR}
cd "$(dirname "$0")/.."
DATA=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -f "$DATA/train-images-idx3-ubyte.gz" ]; then
  echo "skipped: no Fashion-MNIST under $DATA"
  exit 77
fi
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
load=$(cut -d' ' -f1-3 /proc/loadavg)
tag() { sed "s|^{|{\"side\": \"$1\", \"rep\": 1, \"run_threads\": $2, \"loadavg\": \"$load\", |" | grep '^{' >> "$LOG"; }
"$B/bench/sgemm_threads" 256 1 1 2 | tag sgemm 0
floor=$(DEEPC_THREADS=1 "$B/bench/gemm_floor" 1) || { echo "bench_smoke: gemm_floor failed"; exit 1; }
for k in w1_gemm_floor_seconds w2_gemm_floor_seconds sgemm_1024_gflops; do
  echo "$floor" | grep -q "^$k=" || { echo "bench_smoke: gemm_floor printed no $k"; exit 1; }
done
echo "gemm_floor: ok"
for t in 1 2; do
  for w in mlp cnn lstm transformer; do
    out=$(DEEPC_BENCH_STEPS=20 DEEPC_THREADS=$t "$B/bench/${w}_fashion" "$DATA" 1) || { echo "bench_smoke: ${w}_fashion failed"; exit 1; }
    for m in run_info mean_epoch_seconds test_accuracy peak_rss_train_mb; do
      echo "$out" | grep -q "\"metric\": \"$m\"" || { echo "bench_smoke: ${w}_fashion printed no $m line"; exit 1; }
    done
    echo "$out" | tag "deepc$t" "$t"
    echo "$w at $t thread(s): ok"
  done
done
if [ -x /usr/bin/python3 ]; then
  /usr/bin/python3 bench/summary.py "$LOG" > "$LOG.sum"
  cat "$LOG.sum"
  grep -q "W4_transformer_fmnist_rows" "$LOG.sum" || { echo "bench_smoke: summary.py left out W4"; rm -f "$LOG.sum"; exit 1; }
  rm -f "$LOG.sum"
fi
echo "bench_smoke: ok"
