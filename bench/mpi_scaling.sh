#!/bin/sh
# Data-parallel scaling of the CNN benchmark (bench/cnn_fashion.c, W2: the documents' CNN on
# Fashion-MNIST, batch 32): one process of 1 thread, 2 MPI ranks of 1 thread each (each rank 16 rows
# of every batch of 32), and for comparison one process of 2 threads; interleaved REPS times, medians
# of the timed epoch. With DEEPC_DIST_STATS=1 fit reports its mean step time, the gradient
# all-reduce time per step (2.6 MiB of gradients) and the time waiting for the slower rank.
#   bench/mpi_scaling.sh [reps (3)] [timed epochs (1)]
# Needs a build with MPI (libopenmpi-dev) and dataset-fashion-mnist. Open MPI's ranks spin while
# they wait; on a machine shared with other jobs mpi_yield_when_idle=1 lets a waiting rank give
# its core up (on this machine it cut a 2.7 MB all-reduce from 10-19 ms to 0.6-4 ms).
set -e
cd "$(dirname "$0")/.."
REPS=${1:-3}
EPOCHS=${2:-1}
BUILD=${BUILD:-build}
DATA=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
OUT=${OUT:-out/bench}
mkdir -p "$OUT"
LOG="$OUT/mpi-scaling-$(date +%Y%m%d-%H%M%S).log"
BIN="$BUILD/bench/cnn_fashion"
WARM=200 # warm-up steps before the timed epochs
MPIRUN="mpirun --oversubscribe --allow-run-as-root --bind-to none -np 2"
# OpenMP's default (active) wait policy: a passive one wakes sleeping threads at every parallel
# region, which doubled the 2-thread process's epoch here (1-thread runs have no workers to wait)
unset OMP_WAIT_POLICY
export DEEPC_DIST_STATS=1 OMPI_MCA_mpi_yield_when_idle=1
run() { # tag, command...
  tag=$1; shift
  echo "rep $r: $tag"
  "$@" 2>&1 | sed "s/^/$tag rep=$r /" >> "$LOG"
}
echo "mpi_scaling: $REPS reps, $EPOCHS timed epoch(s), log $LOG"
for r in $(seq 1 "$REPS"); do
  run 1x1 env DEEPC_THREADS=1 "$BIN" "$DATA" "$EPOCHS" "$WARM"
  run 2x1 env DEEPC_THREADS=1 $MPIRUN "$BIN" "$DATA" "$EPOCHS" "$WARM"
  run 1x2 env DEEPC_THREADS=2 "$BIN" "$DATA" "$EPOCHS" "$WARM"
done
/usr/bin/python3 - "$LOG" <<'PY'
import json, re, statistics, sys
from collections import defaultdict
ep, acc, stats = defaultdict(list), defaultdict(list), defaultdict(lambda: defaultdict(list))
seen = defaultdict(int)
for line in open(sys.argv[1]):
    tag, rest = line.split(" ", 1)
    rep, rest = rest.split(" ", 1)
    if rest.startswith("{"):
        j = json.loads(rest)
        if j["metric"] == "mean_epoch_seconds": ep[tag].append(j["value"])
        if j["metric"] == "test_accuracy": acc[tag].append(j["value"])
    elif rest.startswith("dist:"):
        seen[(tag, rep)] += 1
        if seen[(tag, rep)] == 1: continue  # the warm-up fit
        for k, v in re.findall(r"(\w+)=([\d.]+)", rest): stats[tag][k].append(float(v))
med = lambda v: statistics.median(v) if v else float("nan")
base = med(ep["1x1"])
print(f"{'ranks x threads':16} {'epoch s':>8} {'speed-up':>8} {'step ms':>8} {'allreduce ms':>12} {'wait ms':>8} {'test acc':>8}  (medians of {len(ep['1x1'])})")
for tag in ["1x1", "2x1", "1x2"]:
    s = stats[tag]
    print(f"{tag:16} {med(ep[tag]):8.2f} {base / med(ep[tag]):8.2f} {med(s['step_ms']):8.3f} {med(s['allreduce_ms']):12.3f} "
          f"{med(s['wait_ms']):8.3f} {med(acc[tag]):8.4f}")
s = stats["2x1"]
print(f"2 ranks: all-reduce {med(s['allreduce_pct']):.1f}% of the step, waiting for the slower rank {med(s['wait_pct']):.1f}%")
PY
