#!/usr/bin/python3
"""Summarises a bench/run.sh log (JSON lines tagged with side, rep, run_threads and loadavg).

Primary figure: deepc at 1 thread against PyTorch at 1 thread (medians over reps; ratio
deepc / torch, so below 1 is deepc faster for times and smaller for memory). Then the 2-thread
figures: deepc at 2 against torch at 2, and each side's own 1 -> 2 thread speed-up, next to
OpenBLAS SGEMM's 1 -> 2 thread speed-up measured in the same sitting (what the machine gives
two threads at that moment). Then, per side, the OpenBLAS build, the OpenMP wait settings, the
load averages its runs started at and the CPU seconds per wall second (1.0 is one busy core:
a 1-thread run well above it is not running on one thread).
    summary.py LOG.jsonl"""
import json, statistics, sys
from collections import defaultdict

rows, bad = [], 0
for l in open(sys.argv[1]):
    if l.startswith("{"):
        try:
            rows.append(json.loads(l))
        except json.JSONDecodeError:
            bad += 1  # a line a program cut short or wrote wrong: counted, not fatal
if bad:
    print(f"({bad} malformed line{'s' if bad > 1 else ''} left out)")
vals = defaultdict(list)
info = defaultdict(dict)   # side -> run_info fields seen
loads = defaultdict(list)  # (workload, side) -> 1-minute load averages at the runs' starts
for r in rows:
    side = r.get("side", "?")
    if side == "deepc":  # logs before the sides carried thread counts
        side = f"deepc{r.get('threads', '')}"
    if r.get("metric") == "run_info":
        for k in ("openblas_config", "openblas_core", "omp_wait_policy", "gomp_spincount", "omp_num_threads", "torch"):
            if k in r:
                info[side].setdefault(k, set()).add(str(r[k]))
        continue
    if "loadavg" in r and r.get("metric") in ("peak_rss_mb", "gflops"):
        loads[(r["workload"], side)].append(float(r["loadavg"].split()[0]))
    if isinstance(r.get("value"), (int, float)):
        key = (r["workload"], r["metric"], side)
        if r.get("metric") == "gflops":
            key = (r["workload"], "gflops", f"threads{r.get('threads')}")
        vals[key].append(r["value"])

med = lambda k: statistics.median(vals[k]) if vals.get(k) else None
TIMES = ["mean_epoch_seconds", "train_seconds"]
METRICS = TIMES + ["test_accuracy", "inference_images_per_s", "peak_rss_mb", "cpu_per_wall"]
workloads = sorted({k[0] for k in vals if k[1] in TIMES})


def fmt(v, w=10):
    return f"{v:{w}.4f}" if v is not None else f"{'-':>{w}}"


def ratio(a, b):
    return a / b if a is not None and b else None


print("## 1 thread against 1 thread (primary): medians over reps, ratio deepc / torch")
print(f"{'workload':28} {'metric':24} {'deepc1':>10} {'torch1':>10} {'ratio':>7}  reps  load (1 min) at start")
for w in workloads:
    for m in METRICS:
        d, t = med((w, m, "deepc1")), med((w, m, "torch1"))
        if d is None and t is None:
            continue
        ld = loads.get((w, "deepc1"), []) + loads.get((w, "torch1"), [])
        lr = f"{min(ld):.2f}-{max(ld):.2f}" if ld else "-"
        print(f"{w:28} {m:24} {fmt(d)} {fmt(t)} {fmt(ratio(d, t), 7)}  {len(vals.get((w, m, 'deepc1'), [])):4}  {lr}")

sgw = next((k[0] for k in sorted(vals) if k[0].startswith("sgemm_") and k[1] == "gflops"), None)
sg = {t: med((sgw, "gflops", f"threads{t}")) for t in (1, 2)}
sg_up = ratio(sg[2], sg[1])
print()
print("## 2 threads: deepc2 / torch2, and each side's 1 -> 2 thread speed-up (time at 1 / time at 2)")
if sg_up:
    print(f"OpenBLAS {sgw} in the same sitting (median over reps): {sg[1]:.1f} GFLOP/s at 1 thread, {sg[2]:.1f} at 2: "
          f"speed-up {sg_up:.2f}x")
print(f"{'workload':28} {'metric':20} {'deepc2':>10} {'torch2':>10} {'ratio':>7} {'deepc 1->2':>11} {'torch 1->2':>11} {'sgemm 1->2':>11}")
for w in workloads:
    m = next((mm for mm in TIMES if any(vals.get((w, mm, s)) for s in ("deepc1", "deepc2", "torch1", "torch2"))), None)
    if m is None:
        continue
    d1, d2, t1, t2 = (med((w, m, s)) for s in ("deepc1", "deepc2", "torch1", "torch2"))
    print(f"{w:28} {m:20} {fmt(d2)} {fmt(t2)} {fmt(ratio(d2, t2), 7)} {fmt(ratio(d1, d2), 11)} {fmt(ratio(t1, t2), 11)} {fmt(sg_up, 11)}")

print()
print("## Runs: per side, the settings recorded and CPU seconds per wall second (median over workloads' medians)")
for side in sorted(info):
    cpw = [med((w, "cpu_per_wall", side)) for w in workloads if vals.get((w, "cpu_per_wall", side))]
    desc = "; ".join(f"{k}={'|'.join(sorted(v))}" for k, v in sorted(info[side].items()))
    print(f"{side:8} cpu/wall {statistics.median(cpw) if cpw else float('nan'):.2f}  {desc}")
allload = [v for l in loads.values() for v in l]
if allload:
    print(f"load average (1 min) at the runs' starts: {min(allload):.2f} to {max(allload):.2f}, median {statistics.median(allload):.2f}")
