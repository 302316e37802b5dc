#!/bin/sh
# Two builds of deepc side by side: the same benchmark workloads from build A and build B,
# interleaved (A B A B ...) on this machine, the medians of their mean epoch seconds and the
# ratio B/A. For measuring a change against the commit before it:
#   git worktree add /tmp/deepc-before HEAD~1 && cmake -S /tmp/deepc-before -B /tmp/deepc-before/build
#   cmake --build /tmp/deepc-before/build --target bench_mlp_fashion bench_cnn_fashion
#   bench/ab.sh /tmp/deepc-before/build build 5 1 mlp cnn
# Usage: bench/ab.sh BUILD_A BUILD_B [reps] [threads] [workloads: mlp cnn lstm transformer]
set -e
A=$1 B=$2
REPS=${3:-3}
THREADS=${4:-1}
shift 2; [ $# -gt 0 ] && shift; [ $# -gt 0 ] && shift
WORK=${*:-mlp cnn}
DATA=${FMNIST:-/usr/share/datasets/fashion-mnist}
EPOCHS=${EPOCHS:-1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "ab: $REPS pairs of [$WORK] at $THREADS thread(s), A=$A B=$B; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$REPS"); do
  for w in $WORK; do
    for side in A B; do
      dir=$A; [ "$side" = B ] && dir=$B
      env -u OPENBLAS_CORETYPE DEEPC_THREADS="$THREADS" OMP_WAIT_POLICY=passive "$dir/bench/${w}_fashion" "$DATA" "$EPOCHS" |
        sed -n 's/.*"mean_epoch_seconds", "value": \([0-9.]*\).*/\1/p' >> "$TMP/$w.$side"
    done
  done
done
median() { sort -n "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for w in $WORK; do
  a=$(median "$TMP/$w.A") b=$(median "$TMP/$w.B")
  echo "$w threads=$THREADS A=${a}s B=${b}s B/A=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", b / a}') (A: $(tr '\n' ' ' < "$TMP/$w.A")B: $(tr '\n' ' ' < "$TMP/$w.B"))"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
