#!/usr/bin/python3
"""Summarises a bench/run.sh log: per workload and metric, the median over reps of deepc and of
PyTorch at its faster thread setting, and deepc's figure as a ratio of PyTorch's."""
import json, statistics, sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
vals = defaultdict(list)
for r in rows:
    if r["metric"] in ("epoch_seconds", "mean_epoch_seconds", "test_accuracy", "train_seconds",
                       "inference_images_per_s", "peak_rss_mb"):
        vals[(r["workload"], r["metric"], r["side"])].append(r["value"])
keys = sorted({(w, m) for (w, m, s) in vals})
print(f"{'workload':28} {'metric':22} {'deepc':>10} {'torch best':>11} {'ratio':>7}  reps")
for w, m in keys:
    d = vals.get((w, m, "deepc"))
    torch = {s: statistics.median(v) for (ww, mm, s), v in vals.items() if ww == w and mm == m and s.startswith("torch")}
    if not d or not torch:
        continue
    higher_better = m in ("test_accuracy", "inference_images_per_s")
    side = max(torch, key=torch.get) if higher_better else min(torch, key=torch.get)
    dm, tm = statistics.median(d), torch[side]
    print(f"{w:28} {m:22} {dm:10.4f} {tm:11.4f} {dm / tm:7.3f}  {len(d)} ({side})")
