#!/bin/sh
# Two builds of deepc side by side: the same benchmark workloads from build A and build B,
# interleaved (A B A B ...) on this machine, the medians of their mean epoch seconds and the
# ratio B/A. For measuring a change against the commit before it:
#   git worktree add /tmp/deepc-before HEAD~1 && cmake -S /tmp/deepc-before -B /tmp/deepc-before/build
#   cmake --build /tmp/deepc-before/build --target bench_mlp_fashion bench_cnn_fashion
#   bench/ab.sh /tmp/deepc-before/build build 5 1 mlp cnn
# Usage: bench/ab.sh BUILD_A BUILD_B [reps] [threads] [workloads: mlp cnn lstm transformer]
# Prints the medians of the epochs' wall seconds and, where the benchmarks report them, of their
# CPU seconds, their ratio B/A and the median of the pairs' own ratios.
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
      env -u OPENBLAS_CORETYPE DEEPC_THREADS="$THREADS" OMP_WAIT_POLICY=passive "$dir/bench/${w}_fashion" "$DATA" "$EPOCHS" > "$TMP/out"
      sed -n 's/.*"mean_epoch_seconds", "value": \([0-9.]*\).*/\1/p' "$TMP/out" >> "$TMP/$w.$side"
      sed -n 's/.*"mean_epoch_cpu_seconds", "value": \([0-9.]*\).*/\1/p' "$TMP/out" >> "$TMP/$w.$side.cpu"
    done
  done
done
median() { sort -n "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# wall: the epoch's elapsed seconds; cpu (where both builds' benchmarks print it): the process's
# CPU seconds in the epoch, which other programs on a shared machine disturb less
for w in $WORK; do
  for m in wall cpu; do
    fa=$TMP/$w.A fb=$TMP/$w.B
    [ "$m" = cpu ] && fa=$fa.cpu fb=$fb.cpu
    [ -s "$fa" ] && [ -s "$fb" ] || continue
    a=$(median "$fa") b=$(median "$fb")
    # the median of each pair's B/A as well: a pair runs back to back, so a load that changes
    # between pairs moves both of its runs
    paste "$fa" "$fb" | awk '{printf "%.4f\n", $2 / $1}' > "$TMP/ratios"
    echo "$w threads=$THREADS $m A=${a}s B=${b}s B/A=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", b / a}') pairs' B/A=$(median "$TMP/ratios") (A: $(tr '\n' ' ' < "$fa")B: $(tr '\n' ' ' < "$fb"))"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
