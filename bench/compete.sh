#!/bin/sh
# Threads on a shared machine: each benchmark under deepc's default thread settings (an adaptive
# team of up to the cores) against its fixed settings (1 thread; the cores with OpenMP's
# default spinning wait; the cores with OMP_WAIT_POLICY=passive), on a quiet machine and next
# to competing processes (busy loops, one per competing core), interleaved rep by rep; the
# median of each is compared with the best fixed setting's.
# Usage: bench/compete.sh [reps] [workloads...]   workloads: mlp cnn lstm transformer small
#   COMPETE="0 1" (the numbers of busy processes, default "0 1"), TIMEOUT=300 (seconds a run
#   may take; a run past it counts as TIMEOUT seconds).
set -e
cd "$(dirname "$0")/.."
REPS=${1:-3}
[ $# -gt 0 ] && shift
WORK=${*:-mlp cnn lstm transformer small}
BUILD=${BUILD:-build}
COMPETE=${COMPETE:-0 1}
TIMEOUT=${TIMEOUT:-300}
FMNIST=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
OUT=${OUT:-out/bench}
mkdir -p "$OUT"
LOG="$OUT/compete-$(date +%Y%m%d-%H%M%S).jsonl"
CORES=$(nproc)

cmd() {
  case $1 in
    mlp) echo "$BUILD/bench/mlp_fashion $FMNIST 1" ;;
    cnn) echo "$BUILD/bench/cnn_fashion $FMNIST 1" ;;
    lstm) echo "$BUILD/bench/lstm_fashion $FMNIST 1" ;;
    transformer) echo "$BUILD/bench/transformer_fashion $FMNIST 1" ;;
    small) echo "$BUILD/bench/small_loops data/iris.csv" ;;
  esac
}

# The settings: the default first, then the fixed ones.
settings="default t1 tN tNpassive"
envof() {
  case $1 in
    default) echo "-u DEEPC_THREADS -u OMP_WAIT_POLICY" ;;
    t1) echo "-u OMP_WAIT_POLICY DEEPC_THREADS=1" ;;
    tN) echo "-u OMP_WAIT_POLICY DEEPC_THREADS=$CORES" ;;
    tNpassive) echo "DEEPC_THREADS=$CORES OMP_WAIT_POLICY=passive" ;;
  esac
}

# One run: the seconds it trained (the epoch's, or the small loops' sum), TIMEOUT when it ran out.
one() {
  res=$(env $(envof "$2") timeout "$TIMEOUT" $(cmd "$1") 2>/dev/null || true)
  printf '%s\n' "$res" | /usr/bin/python3 -c '
import json, sys
t = None
small = 0.0
for line in sys.stdin:
    if not line.startswith("{"): continue
    d = json.loads(line)
    if d.get("metric") == "mean_epoch_seconds": t = d["value"]
    if d.get("metric") == "train_seconds": small += d["value"]
if t is None and small > 0: t = small
print(t if t is not None else "'"$TIMEOUT"'")'
}

start_busy() {
  BUSY=""
  i=0
  while [ "$i" -lt "$1" ]; do
    sh -c 'while :; do :; done' &
    BUSY="$BUSY $!"
    i=$((i + 1))
  done
}
stop_busy() { [ -n "$BUSY" ] && kill $BUSY 2>/dev/null; wait 2>/dev/null || true; BUSY=""; }
trap stop_busy EXIT INT TERM

echo "compete: $REPS reps of [$WORK] next to [$COMPETE] busy processes on $CORES cores, log $LOG"
for r in $(seq 1 "$REPS"); do
  for c in $COMPETE; do
    for w in $WORK; do
      for s in $settings; do
        start_busy "$c"
        sleep 0.5
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        t=$(one "$w" "$s")
        stop_busy
        echo "{\"rep\": $r, \"busy\": $c, \"workload\": \"$w\", \"setting\": \"$s\", \"seconds\": $t, \"loadavg\": \"$load\", \"cores\": $CORES}" | tee -a "$LOG"
      done
    done
  done
done
/usr/bin/python3 - "$LOG" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = sorted({(r["busy"], r["workload"]) for r in rows}, key=lambda k: (k[0], k[1]))
print("| busy processes | workload | default s | best fixed setting | its s | default / best | 1 thread s | all cores, spinning s | all cores, passive s |")
print("|---|---|---|---|---|---|---|---|---|")
worst = {}
for b, w in keys:
    med = {}
    for s in ("default", "t1", "tN", "tNpassive"):
        v = [r["seconds"] for r in rows if r["busy"] == b and r["workload"] == w and r["setting"] == s]
        if v: med[s] = statistics.median(v)
    fixed = {s: v for s, v in med.items() if s != "default"}
    best = min(fixed, key=fixed.get)
    ratio = med["default"] / fixed[best]
    worst[b] = max(worst.get(b, 0), ratio)
    print("| %d | %s | %.3f | %s | %.3f | %.2f | %.3f | %.3f | %.3f |" % (b, w, med["default"], best, fixed[best], ratio,
          med.get("t1", float("nan")), med.get("tN", float("nan")), med.get("tNpassive", float("nan"))))
for b in sorted(worst):
    print("compete_busy%d_worst_default_over_best=%.2f" % (b, worst[b]))
EOF
