#!/usr/bin/python3
"""PyTorch peer of bench/sweep.c: the same grid points (LAYER:key=value,...; see sweep.c's header
for the layers and keys), one training step of a single layer each -- forward in training mode,
backward of the sum of the outputs reaching the input and every parameter -- timed the same way
(warm-up, then samples of several steps until --min-time seconds are timed, median step time).
One JSON line per point, in sweep.c's format.

Layouts: both sides run their natural and identical layouts: images NCHW (deepc's Conv2D is
[N, C, H, W] too), sequences batch first [N, T, F]. The gradients of the parameters and the input
are zeroed in place before each step, as PyTorch 1.13's zero_grad() does by default and as deepc
does: setting them to None instead makes every step allocate them afresh, which costs PyTorch
up to 3x on large gradients (fresh pages from the system each time) and saves little on small ones.
Keras's "same" padding is asymmetric for even totals (the extra row at the bottom): the symmetric
torch padding that gives the same output size is used (as a PyTorch user writes padding=k//2),
with an explicit F.pad only where none does.

Usage: sweep.py [--min-time S] [--threads N] SPEC...
"""
import json, os, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

KEYS = ("n", "c", "f", "h", "k", "s", "i", "o", "t", "d", "heads", "bn", "pad")
NEEDS = {"conv2d": "n c f h k", "conv2d_t": "n c f h k", "maxpool": "n c h", "avgpool": "n c h", "dense": "n i o",
         "lstm": "n t f h", "gru": "n t f h", "rnn": "n t f h", "mha": "n t d heads", "layernorm": "n t d"}


def parse(spec):
    layer, _, rest = spec.partition(":")
    if layer not in NEEDS:
        raise ValueError(f"{spec}: unknown layer")
    v = {}
    for kv in filter(None, rest.split(",")):
        k, _, val = kv.partition("=")
        if k not in KEYS:
            raise ValueError(f"{spec}: unknown key {k}")
        if k == "pad" and val not in ("valid", "same"):
            raise ValueError(f"{spec}: pad must be valid or same")
        v[k] = {"valid": 0, "same": 1}[val] if k == "pad" else int(val)  # int() raises ValueError
    for k in NEEDS[layer].split():
        if v.get(k, 0) < 1:
            raise ValueError(f"{spec}: {layer} needs {k} >= 1")
    if layer == "mha" and v["d"] % v["heads"]:
        raise ValueError(f"{spec}: d {v['d']} is not divisible by heads {v['heads']}")
    v.setdefault("s", 1)
    v.setdefault("pad", 0)
    v.setdefault("bn", 0)
    return layer, v


class Crop(nn.Module):
    """Pads (Keras's asymmetric "same" for Conv2D) or crops (Conv2DTranspose) to a given output."""

    def __init__(self, inner, pad=None, crop=None):
        super().__init__()
        self.inner, self.pad, self.crop = inner, pad, crop

    def forward(self, x):
        if self.pad:
            x = F.pad(x, self.pad)
        y = self.inner(x)
        if self.crop:
            t, b, l, r = self.crop
            y = y[:, :, t:y.shape[2] - b, l:y.shape[3] - r]
        return y


def conv_module(v):
    c, f, h, k, s = v["c"], v["f"], v["h"], v["k"], v["s"]
    if not v["pad"]:
        return nn.Conv2d(c, f, k, stride=s)
    oh = -(-h // s)
    total = max((oh - 1) * s + k - h, 0)
    p = (total + 1) // 2
    if (h + 2 * p - k) // s + 1 == oh:
        return nn.Conv2d(c, f, k, stride=s, padding=p)
    top = total // 2
    return Crop(nn.Conv2d(c, f, k, stride=s), pad=(top, total - top, top, total - top))


def convt_module(v):
    c, f, h, k, s = v["c"], v["f"], v["h"], v["k"], v["s"]
    if not v["pad"]:
        return nn.ConvTranspose2d(c, f, k, stride=s)
    # Keras's SAME: output h * s, the full (h - 1) s + k output cropped by k - s
    if k >= s:
        p = (k - s + 1) // 2
        op = s - k + 2 * p
        if 0 <= op < s:
            return nn.ConvTranspose2d(c, f, k, stride=s, padding=p, output_padding=op)
        crop = k - s
        return Crop(nn.ConvTranspose2d(c, f, k, stride=s), crop=(crop // 2, crop - crop // 2, crop // 2, crop - crop // 2))
    return nn.ConvTranspose2d(c, f, k, stride=s, output_padding=s - k)


def build(layer, v):
    n = v["n"]
    if layer in ("conv2d", "conv2d_t"):
        m = conv_module(v) if layer == "conv2d" else convt_module(v)
        if layer == "conv2d" and v["bn"]:
            m = nn.Sequential(m, nn.BatchNorm2d(v["f"], eps=1e-5, momentum=0.1))
        return m, (n, v["c"], v["h"], v["h"])
    if layer in ("maxpool", "avgpool"):
        return (nn.MaxPool2d(2, 2) if layer == "maxpool" else nn.AvgPool2d(2, 2)), (n, v["c"], v["h"], v["h"])
    if layer == "dense":
        return nn.Linear(v["i"], v["o"]), (n, v["i"])
    if layer in ("lstm", "gru", "rnn"):
        cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[layer]
        rec = cls(v["f"], v["h"], batch_first=True)

        class Seq(nn.Module):
            def __init__(self):
                super().__init__()
                self.rec = rec

            def forward(self, x):
                return self.rec(x)[0]

        return Seq(), (n, v["t"], v["f"])
    if layer == "mha":
        att = nn.MultiheadAttention(v["d"], v["heads"], dropout=0.0, batch_first=True)

        class Self(nn.Module):
            def __init__(self):
                super().__init__()
                self.att = att

            def forward(self, x):
                return self.att(x, x, x, need_weights=False)[0]

        return Self(), (n, v["t"], v["d"])
    return nn.LayerNorm(v["d"], eps=1e-5), (n, v["t"], v["d"])


def flops(layer, v):
    """sweep.c's count: 3 products of the forward's size (forward, input and weight gradients)."""
    if layer == "conv2d":
        oh = -(-v["h"] // v["s"]) if v["pad"] else (v["h"] - v["k"]) // v["s"] + 1
        return 6.0 * v["n"] * oh * oh * v["f"] * v["c"] * v["k"] ** 2
    if layer == "conv2d_t":
        return 6.0 * v["n"] * v["h"] ** 2 * v["f"] * v["k"] ** 2 * v["c"]
    if layer == "dense":
        return 6.0 * v["n"] * v["o"] * v["i"]
    if layer in ("lstm", "gru", "rnn"):
        g = {"lstm": 4, "gru": 3, "rnn": 1}[layer]
        return 6.0 * v["t"] * v["n"] * g * v["h"] * (v["f"] + v["h"])
    if layer == "mha":
        n, t, d = v["n"], v["t"], v["d"]
        return 3.0 * (8.0 * n * t * d * d + 4.0 * n * t * t * d)
    return 0.0


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return -1.0


def run(spec, min_time):
    layer, v = parse(spec)
    m, shape = build(layer, v)
    m.train()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=g).requires_grad_(True)
    params = list(m.parameters())

    def step():
        for p in params + [x]:
            if p.grad is not None:
                p.grad.zero_()
        m(x).sum().backward()

    load = loadavg()
    t0, warm = time.perf_counter(), 0
    one = 0.0
    while warm < 2 or time.perf_counter() - t0 < 0.05:
        s0 = time.perf_counter()
        step()
        one = time.perf_counter() - s0
        warm += 1
    one = min(one, (time.perf_counter() - t0) / warm)
    reps = 1 if one >= min_time / 10 else int(min_time / 10 / max(one, 1e-7)) + 1
    samples, timed = [], 0.0
    while len(samples) < 256 and (len(samples) < 5 or timed < min_time):
        s0 = time.perf_counter()
        for _ in range(reps):
            step()
        dt = time.perf_counter() - s0
        samples.append(dt / reps)
        timed += dt
        if dt < min_time / 40 and reps < 1000000:
            reps *= 2
    med = sorted(samples)[len(samples) // 2]  # as sweep.c
    out = {"side": "torch", "point": spec, "layer": layer}
    for k in KEYS:
        if k in v and k != "pad" and (k != "bn" or layer == "conv2d") and (k != "s" or layer in ("conv2d", "conv2d_t")):
            out[k] = v[k]
    if layer in ("conv2d", "conv2d_t"):
        out["pad"] = "same" if v["pad"] else "valid"
    out.update(seconds=float(f"{med:.6g}"), samples=len(samples), reps=reps)
    fl = flops(layer, v)
    if fl > 0:
        out.update(flops=fl, gflops=round(fl / med * 1e-9, 4))
    out.update(threads=torch.get_num_threads(), torch=torch.__version__,
               omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", ""), loadavg=load)
    print(json.dumps(out), flush=True)


def main(argv):
    min_time, threads, specs = 0.2, 1, []
    it = iter(argv)
    for a in it:
        if a == "--min-time":
            min_time = float(next(it))
        elif a == "--threads":
            threads = int(next(it))
        else:
            specs.append(a)
    if not specs:
        print(__doc__, file=sys.stderr)
        return 2
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    failed = 0
    for s in specs:
        try:
            run(s, min_time)
        except (ValueError, RuntimeError) as e:
            print(f"sweep.py: {s}: {e}" if not str(e).startswith(s) else f"sweep.py: {e}", file=sys.stderr)
            failed += 1
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
