#!/usr/bin/python3
"""Summarises bench/sweep.sh logs (one or more): per grid point the median over rounds of each
side's step time, deepc's time as a ratio of PyTorch's, deepc's GFLOP/s and its fraction of
OpenBLAS SGEMM's rate on the equivalent product of the same size ("same-size") and on a 1024^3
product (the best of the log's, "peak"); then the median ratio (overall and per layer), the points where deepc is
slower than PyTorch (worst first) and the convolution points below 0.5 of SGEMM.
Markdown on stdout.  Usage: sweep_summary.py LOG.jsonl..."""
import json, statistics, sys
from collections import defaultdict

CONV = ("conv2d", "conv2d_t")


def main(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            rows += [json.loads(l) for l in f if l.startswith("{")]
    meta = [r for r in rows if r.get("point") == "meta"]
    peaks = [r["sgemm_gflops"] for r in rows if r.get("point") == "sgemm_peak"]
    peak = max(peaks) if peaks else None  # the ceiling: the best of the sitting
    order, side = [], defaultdict(lambda: defaultdict(list))
    for r in rows:
        if "seconds" not in r:
            continue
        if r["point"] not in side:
            order.append(r["point"])
        side[r["point"]][r["side"]].append(r)
    loads = [r["loadavg"] for r in rows if r.get("loadavg", -1) >= 0]
    for m in meta:
        print(f"- {m['event']}: {m['date']}, grid {m['grid']}: `{m['uptime']}`")
    if peaks:
        print(f"- OpenBLAS SGEMM 1024^3 alone, 1 thread: {', '.join(f'{p:.1f}' for p in peaks)} GFLOP/s")
    if loads:
        print(f"- load average at the points' starts: min {min(loads):.2f}, median {statistics.median(loads):.2f}, "
              f"max {max(loads):.2f}")
    print()
    print("| point | deepc ms | torch ms | ratio | deepc GFLOP/s | / SGEMM same-size | / SGEMM peak | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    res = []
    for p in order:
        d, t = side[p].get("deepc"), side[p].get("torch")
        if not d or not t:
            print(f"| `{p}` | {'-' if not d else ''} | {'-' if not t else ''} | missing | | | | |")
            continue
        dm = statistics.median(r["seconds"] for r in d)
        tm = statistics.median(r["seconds"] for r in t)
        g = statistics.median(r["gflops"] for r in d) if "gflops" in d[0] else None
        fs = statistics.median(r["frac_sgemm"] for r in d) if "frac_sgemm" in d[0] else None
        fp = g / peak if g is not None and peak else None
        load = statistics.median(r["loadavg"] for r in d + t)
        res.append(dict(point=p, layer=d[0]["layer"], d=dm, t=tm, ratio=dm / tm, g=g, fs=fs, fp=fp))
        fmt = lambda v, f: "" if v is None else format(v, f)
        print(f"| `{p}` | {dm * 1e3:.4g} | {tm * 1e3:.4g} | {dm / tm:.2f} | {fmt(g, '.1f')} | {fmt(fs, '.2f')} | "
              f"{fmt(fp, '.2f')} | {load:.1f} |")
    if not res:
        return 1
    print()
    print(f"**Median ratio (deepc / PyTorch) over {len(res)} points: {statistics.median(r['ratio'] for r in res):.2f}**"
          f" (geometric mean {statistics.geometric_mean(r['ratio'] for r in res):.2f}; at or below 1: "
          f"{sum(r['ratio'] <= 1 for r in res)} of {len(res)}; at or below 0.6: {sum(r['ratio'] <= 0.6 for r in res)})")
    print()
    print("| layer | points | median ratio | min | max |")
    print("|---|---:|---:|---:|---:|")
    by = defaultdict(list)
    for r in res:
        by[r["layer"]].append(r["ratio"])
    for layer, v in by.items():
        print(f"| {layer} | {len(v)} | {statistics.median(v):.2f} | {min(v):.2f} | {max(v):.2f} |")
    slow = sorted((r for r in res if r["ratio"] > 1), key=lambda r: -r["ratio"])
    print()
    print(f"Points where deepc is slower than PyTorch ({len(slow)}), worst first:")
    print()
    for r in slow:
        print(f"- `{r['point']}`: {r['ratio']:.2f}x ({r['d'] * 1e3:.4g} ms against {r['t'] * 1e3:.4g} ms)")
    conv = [r for r in res if r["layer"] in CONV and r["fs"] is not None]
    if conv:
        low = sorted((r for r in conv if r["fs"] < 0.5), key=lambda r: r["fs"])
        print()
        print(f"Convolution points below 0.5 of same-size SGEMM: {len(low)} of {len(conv)}"
              f" (median fraction {statistics.median(r['fs'] for r in conv):.2f}):")
        print()
        for r in low:
            print(f"- `{r['point']}`: {r['fs']:.2f} of same-size SGEMM, "
                  f"{'' if r['fp'] is None else format(r['fp'], '.2f') + ' of peak, '}{r['g']:.1f} GFLOP/s")
        if peak:
            n = sum(r["fp"] < 0.5 for r in conv)
            print()
            print(f"Convolution points below 0.5 of the 1024^3 SGEMM peak ({peak:.1f} GFLOP/s): {n} of {len(conv)}"
                  f" (median fraction {statistics.median(r['fp'] for r in conv):.2f}).")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
