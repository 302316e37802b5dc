#!/usr/bin/python3
"""Writes the randomised PyTorch golden vectors of deepc's CTC loss (dc_ctc_loss), which
tests/test_golden_ctc.c checks forward and backward against.

Usage: /usr/bin/python3 scripts/golden/gen_golden_ctc.py [OUT_DIR]   (default tests/golden/ctc).
Needs python3-torch (Debian's PyTorch 1.13).

A master seed (SEED) draws CASES random configurations: batch N, steps T, classes C, the blank's
index (first, last or any), the reduction (mean, sum, none), zero_infinity, target lengths from 0
up (empty targets), labels with repeats forced in (equal neighbours need a blank between them),
input lengths below T, samples whose target no alignment of their steps gives (infinite loss,
with and without zero_infinity) and, in some cases, logits scaled up to make probabilities as
small as e^-60. Every (reduction, zero_infinity) pair appears with an infeasible sample.

Case i is the file OUT_DIR/c<i>.txt (format of scripts/golden/gen_golden.py, read by
tests/golden_io.h), listed in OUT_DIR/cases.txt. deepc is batch first, so every [N, T, C] tensor
here is PyTorch's [T, N, C] transposed. It holds:
  config     [7]: N T C S blank zero_infinity reduction (0 mean, 1 sum, 2 none)
  input_lengths [N], targets [N, S]: each row the labels, then -1 padding (the target length is
             the count before the first negative, as deepc reads it)
  logits     [N, T, C] z, float32 values
  logp       [N, T, C] log_softmax(z) rounded to float32: the log-probabilities deepc reads
  gy [N]     the upstream gradient of a 'none' reduction (backward of sum(loss * gy))
  loss       [1] or [N], F.ctc_loss(log_softmax(z)) (float64 from the float32 logits)
  loss_lp    the same on logp as given
  loss_inf   [1] or [N]: 1 where the loss is +inf (the value written there is 0; golden files
             hold finite numbers only)
  dlogits    d loss / d z (PyTorch's autograd through log_softmax)
  dlogp      d loss / d logp, the true derivative -gamma (the posterior occupancy) times each
             sample's factor: PyTorch's own gradient for log_probs is exp(logp) - gamma, the
             logits' gradient it assumes a log_softmax below; the difference, exp(logp) times the
             factor on each sample's steps t < T_n, is removed here (samples zeroed by
             zero_infinity get 0 from PyTorch and keep it)
  nan_rows   [N]: 1 where PyTorch gives the sample NaN gradients on its steps t < T_n (an
             infeasible target without zero_infinity); those values are written as 0
Inputs are drawn in float32, so deepc reads the same numbers; PyTorch computes in float64.
"""

import os
import random
import sys

import torch
import torch.nn.functional as F

SEED = 21
CASES = 72
REDUCTIONS = ["mean", "sum", "none"]


def f32(t):
    return t.to(torch.float32).to(torch.float64)


def fmt(t):
    t = t.detach().reshape(-1).to(torch.float64)
    return " ".join("%.9g" % v for v in t.tolist())


def min_steps(lab):
    return len(lab) + sum(1 for i in range(1, len(lab)) if lab[i] == lab[i - 1])


def draw_case(i, rng, red=None, zinf=None, infeasible=None):
    big = i % 24 == 23  # a few longer sequences with more classes
    N = rng.choice([1, 2, 3] if big else [1, 2, 3, 4, 5, 6])
    T = rng.randint(20, 50) if big else rng.randint(1, 14)
    C = rng.randint(8, 20) if big else rng.randint(2, 9)
    blank = rng.choice([0, C - 1, rng.randrange(C)])
    red = red or rng.choice(REDUCTIONS)
    zinf = rng.random() < 0.4 if zinf is None else zinf
    infeasible = rng.random() < 0.35 if infeasible is None else infeasible
    labels = [c for c in range(C) if c != blank]
    ilen, targets = [], []
    for n in range(N):
        Tn = T if rng.random() < 0.5 else rng.randint(1, T)
        lab = []
        if rng.random() > 0.15:  # else an empty target
            want = rng.randint(1, max(1, Tn))
            while len(lab) < want:
                if lab and rng.random() < 0.3:
                    lab.append(lab[-1])  # a repeat
                else:
                    lab.append(rng.choice(labels))
                if min_steps(lab) > Tn:
                    lab.pop()
                    break
        ilen.append(Tn)
        targets.append(lab)
    if infeasible:  # one sample whose target needs more steps than it has
        n = rng.randrange(N)
        Tn = ilen[n]
        lab = [rng.choice(labels) for _ in range(Tn + 1)] if rng.random() < 0.5 else []
        while min_steps(lab) <= Tn:  # or fewer labels, made infeasible by repeats
            lab.append(lab[-1] if lab else rng.choice(labels))
        targets[n] = lab
    S = max(1, max(len(t) for t in targets))
    scale = rng.choice([1.0, 1.0, 3.0, 20.0])
    return {"name": "c%03d" % i, "N": N, "T": T, "C": C, "S": S, "blank": blank, "red": red, "zinf": zinf,
            "ilen": ilen, "targets": targets, "scale": scale}


def run_case(out_dir, cfg, rng):
    torch.manual_seed(rng.randrange(1 << 31))
    N, T, C, S = cfg["N"], cfg["T"], cfg["C"], cfg["S"]
    red, zinf, blank = cfg["red"], cfg["zinf"], cfg["blank"]
    ilen = torch.tensor(cfg["ilen"], dtype=torch.long)
    tlen = torch.tensor([len(t) for t in cfg["targets"]], dtype=torch.long)
    padded = torch.full((N, S), -1.0, dtype=torch.float64)
    tgt = torch.zeros((N, S), dtype=torch.long)  # PyTorch's padded form: anything after the length
    for n, lab in enumerate(cfg["targets"]):
        for k, v in enumerate(lab):
            padded[n, k] = v
            tgt[n, k] = v
    z = f32(torch.randn(N, T, C, dtype=torch.float64) * cfg["scale"])
    gy = f32(torch.randn(N, dtype=torch.float64)) if red == "none" else None

    def ctc(lp_ntc):
        return F.ctc_loss(lp_ntc.transpose(0, 1), tgt, ilen, tlen, blank=blank, reduction=red, zero_infinity=zinf)

    def backward(loss):
        if red == "none":
            (loss * gy).sum().backward()
        else:
            loss.backward()

    zl = z.clone().requires_grad_()
    loss = ctc(F.log_softmax(zl, dim=-1))
    backward(loss)
    logp = f32(F.log_softmax(z, dim=-1))
    x = logp.clone().requires_grad_()
    loss_lp = ctc(x)
    backward(loss_lp)

    feasible = torch.tensor([min_steps(t) <= int(ilen[n]) for n, t in enumerate(cfg["targets"])])
    # each sample's factor in the reduced loss, which PyTorch's gradients carry
    if red == "mean":
        fac = 1.0 / (N * tlen.clamp(min=1).to(torch.float64))
    elif red == "sum":
        fac = torch.ones(N, dtype=torch.float64)
    else:
        fac = gy.clone()
    steps = (torch.arange(T)[None, :] < ilen[:, None]).to(torch.float64)  # [N, T]
    nan_rows = (~feasible) & (not zinf)
    live = (feasible.to(torch.float64) * fac)[:, None] * steps  # where PyTorch's gradient has the exp term
    dlogp = x.grad - torch.exp(logp) * live[:, :, None]
    dlogits = zl.grad.clone()
    for n in range(N):
        Tn = int(ilen[n])
        for g in (dlogp, dlogits):
            if nan_rows[n]:
                assert torch.isnan(g[n, :Tn]).all() and not torch.isnan(g[n, Tn:]).any(), cfg["name"]
                g[n] = 0
            assert torch.isfinite(g[n]).all(), cfg["name"]
        if feasible[n] and Tn > 0:  # the occupancy sums to 1 on each step
            assert torch.allclose(dlogp[n, :Tn].sum(-1), torch.full((Tn,), -float(fac[n]), dtype=torch.float64), atol=1e-9)
        if not feasible[n] and zinf:
            assert (dlogp[n] == 0).all() and (dlogits[n] == 0).all(), cfg["name"]

    def finite(v):
        v = v.detach().reshape(-1).clone()
        inf = torch.isinf(v)
        assert not torch.isnan(v).any() and (v[inf] > 0).all(), cfg["name"]
        v[inf] = 0
        return v, inf.to(torch.float64)

    lv, linf = finite(loss)
    lpv, lpinf = finite(loss_lp)
    assert torch.equal(linf, lpinf), cfg["name"]
    if red != "none":  # a reduced loss is infinite when a sample's is
        assert bool(linf.any()) == bool(nan_rows.any()), cfg["name"]

    lines = [
        "# deepc golden CTC case %s: N %d, T %d, C %d, S %d, blank %d, reduction %s, zero_infinity %s, logits x%g, "
        "input lengths %s, targets %s"
        % (cfg["name"], N, T, C, S, blank, red, zinf, cfg["scale"], cfg["ilen"], cfg["targets"]),
        "# made by scripts/golden/%s with PyTorch %s, master seed %d"
        % (os.path.basename(sys.argv[0]), torch.__version__, SEED),
    ]

    def put(name, t):
        shape = list(t.shape) if t.dim() > 0 else [1]
        lines.append("%s %d %s" % (name, len(shape), " ".join(str(d) for d in shape)))
        lines.append(fmt(t))

    put("config", torch.tensor([N, T, C, S, blank, float(zinf), REDUCTIONS.index(red)], dtype=torch.float64))
    put("input_lengths", ilen.to(torch.float64))
    put("targets", padded)
    put("logits", z)
    put("logp", logp)
    if gy is not None:
        put("gy", gy)
    put("loss", lv)
    put("loss_lp", lpv)
    put("loss_inf", linf)
    put("dlogits", dlogits)
    put("dlogp", dlogp)
    put("nan_rows", nan_rows.to(torch.float64))
    path = os.path.join(out_dir, cfg["name"] + ".txt")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "golden", "ctc")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    rng = random.Random(SEED)
    cfgs = [draw_case(i, rng) for i in range(CASES)]
    # every reduction with and without zero_infinity, with an infeasible sample
    for red in REDUCTIONS:
        for zinf in (False, True):
            cfgs.append(draw_case(len(cfgs), rng, red, zinf, True))
    for cfg in cfgs:
        run_case(out_dir, cfg, rng)
    with open(os.path.join(out_dir, "cases.txt"), "w") as f:
        f.write("# the golden CTC cases, one file stem per line\n")
        f.write("".join(c["name"] + "\n" for c in cfgs))
    print("%d CTC cases written to %s" % (len(cfgs), out_dir))


if __name__ == "__main__":
    main()
