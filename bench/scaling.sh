#!/bin/sh
# Threads and mixed precision, interleaved in one run on this machine, medians over reps:
#   - OpenBLAS's own 1 -> 2 thread speed-up on a large SGEMM (bench/sgemm_threads.c): the ceiling;
#   - the CNN benchmark (float32) at DEEPC_THREADS=1 and 2: deepc's speed-up against that ceiling;
#   - the MLP and CNN benchmarks in float32 and in bf16 (DEEPC_BF16=1) at THREADS threads:
#     ratio of epoch times and difference of test accuracy;
#   - before each 2-thread CNN run, the cores' round trip (bench/core_latency.c): on a virtual
#     machine it changes with where the two CPUs sit, and the 2-thread steps follow it.
# Usage: bench/scaling.sh [reps (3)]   (BUILD=build, THREADS=2, N=2048, CNN_WARM=300 steps)
set -e
cd "$(dirname "$0")/.."
REPS=${1:-3}
BUILD=${BUILD:-build}
THREADS=${THREADS:-2}
N=${N:-2048}
CNN_WARM=${CNN_WARM:-300}
DATA=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
OUT=${OUT:-out/bench}
mkdir -p "$OUT"
LOG="$OUT/scaling-$(date +%Y%m%d-%H%M%S).jsonl"
# side = what varies: threads and precision
tag() { sed "s/^{/{\"side\": \"$1\", \"rep\": $2, /" | grep '^{' >> "$LOG"; }
# OpenMP's default wait policy, as bench/run.sh: with OMP_WAIT_POLICY=passive every parallel
# region wakes sleeping threads, which on this machine doubled the 2-thread CNN epoch.
run() { env -u OPENBLAS_CORETYPE -u DEEPC_BF16 -u OMP_WAIT_POLICY "$@"; }

echo "scaling: $REPS reps, log $LOG"
for r in $(seq 1 "$REPS"); do
  echo "rep $r: sgemm ${N}^3 at 1 and $THREADS threads"; run "$BUILD/bench/sgemm_threads" "$N" 3 1 "$THREADS" | tag blas "$r"
  echo "rep $r: cnn float32 threads=1"; run DEEPC_THREADS=1 "$BUILD/bench/cnn_fashion" "$DATA" 2 "$CNN_WARM" | tag f32_t1 "$r"
  run "$BUILD/bench/core_latency" 3 | tag lat "$r"
  echo "rep $r: cnn float32 threads=$THREADS"; run DEEPC_THREADS="$THREADS" "$BUILD/bench/cnn_fashion" "$DATA" 2 "$CNN_WARM" | tag "f32_t$THREADS" "$r"
  echo "rep $r: cnn bf16 threads=$THREADS"; run DEEPC_BF16=1 DEEPC_THREADS="$THREADS" "$BUILD/bench/cnn_fashion" "$DATA" 2 "$CNN_WARM" | tag "bf16_t$THREADS" "$r"
  echo "rep $r: mlp float32 threads=$THREADS"; run DEEPC_THREADS="$THREADS" "$BUILD/bench/mlp_fashion" "$DATA" | tag "f32_t$THREADS" "$r"
  echo "rep $r: mlp bf16 threads=$THREADS"; run DEEPC_BF16=1 DEEPC_THREADS="$THREADS" "$BUILD/bench/mlp_fashion" "$DATA" | tag "bf16_t$THREADS" "$r"
done
/usr/bin/python3 - "$LOG" "$THREADS" "$N" <<'PY'
import json, statistics, sys
from collections import defaultdict
log, T, N = sys.argv[1], sys.argv[2], sys.argv[3]
v = defaultdict(list)
per = defaultdict(dict)
for l in open(log):
    if l.startswith("{"):
        r = json.loads(l)
        side = r["side"] if r["workload"].startswith("W") or r["workload"] == "core_latency" else f"t{r['threads']}"
        if r["workload"] in ("W2_cnn_fmnist", "core_latency") and r["metric"] in ("mean_epoch_seconds", "round_trip_ns"):
            per[r["rep"]][r["side"]] = r["value"]
        v[(r["workload"], r["metric"], side)].append(r["value"])
med = lambda k: statistics.median(v[k])
n = lambda k: len(v[k])
sg1, sg2 = med((f"sgemm_{N}", "gflops", "t1")), med((f"sgemm_{N}", "gflops", f"t{T}"))
bf1, bf2 = med((f"gemm_bf16_{N}", "gflops", "t1")), med((f"gemm_bf16_{N}", "gflops", f"t{T}"))
c1, c2 = med(("W2_cnn_fmnist", "mean_epoch_seconds", "f32_t1")), med(("W2_cnn_fmnist", "mean_epoch_seconds", f"f32_t{T}"))
print(f"SGEMM {N}^3 (OpenBLAS): {sg1:.1f} GFLOPS at 1 thread, {sg2:.1f} at {T}: speed-up {sg2 / sg1:.2f}x")
print(f"bf16 GEMM {N}^3 (deepc): {bf1:.1f} GFLOPS at 1 thread, {bf2:.1f} at {T}: speed-up {bf2 / bf1:.2f}x")
print(f"CNN epoch (float32): {c1:.3f} s at 1 thread, {c2:.3f} s at {T}: speed-up {c1 / c2:.2f}x "
      f"= {100 * (c1 / c2) / (sg2 / sg1):.0f}% of OpenBLAS's (goal >= 90%)")
for rep in sorted(per):
    p = per[rep]
    if all(k in p for k in ("lat", "f32_t1", f"f32_t{T}")):
        print(f"  rep {rep}: cores' round trip {p['lat']:.0f} ns; CNN {p['f32_t1']:.3f} s at 1 thread, {p[f'f32_t{T}']:.3f} s at {T}: "
              f"{p['f32_t1'] / p[f'f32_t{T}']:.2f}x")
for w, name in (("W1_mlp_fmnist", "MLP"), ("W2_cnn_fmnist", "CNN")):
    f, b = (w, "mean_epoch_seconds", f"f32_t{T}"), (w, "mean_epoch_seconds", f"bf16_t{T}")
    fa, ba = (w, "test_accuracy", f"f32_t{T}"), (w, "test_accuracy", f"bf16_t{T}")
    print(f"{name} epoch at {T} threads: float32 {med(f):.3f} s, bf16 {med(b):.3f} s: ratio {med(b) / med(f):.2f}x (goal <= 0.7x); "
          f"test accuracy float32 {med(fa):.4f}, bf16 {med(ba):.4f}: {100 * (med(ba) - med(fa)):+.2f} points ({n(f)} reps)")
PY
