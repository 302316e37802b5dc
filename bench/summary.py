#!/usr/bin/python3
"""Summarises a bench/run.sh log. Per workload, PyTorch's thread setting with the lower median
time is taken as the peer ("torch at its best"), and every metric is compared with that setting:
medians over reps, deepc's figure as a ratio of PyTorch's."""
import json, statistics, sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
vals = defaultdict(list)
for r in rows:
    vals[(r["workload"], r["metric"], r["side"])].append(r["value"])
METRICS = ["mean_epoch_seconds", "train_seconds", "test_accuracy", "inference_images_per_s", "peak_rss_mb"]
print(f"{'workload':28} {'metric':24} {'deepc':>10} {'torch':>10} {'ratio':>7}  (reps, torch setting)")
for w in sorted({k[0] for k in vals}):
    time_metric = next((m for m in METRICS[:2] if (w, m, "deepc") in vals), None)
    sides = [s for (ww, m, s) in vals if ww == w and m == time_metric and s.startswith("torch")]
    if not time_metric or not sides:
        continue
    best = min(sides, key=lambda s: statistics.median(vals[(w, time_metric, s)]))
    for m in METRICS:
        d, t = vals.get((w, m, "deepc")), vals.get((w, m, best))
        if d and t:
            dm, tm = statistics.median(d), statistics.median(t)
            print(f"{w:28} {m:24} {dm:10.4f} {tm:10.4f} {dm / tm:7.3f}  ({len(d)}, {best})")
