#!/usr/bin/python3
"""Writes the PyTorch golden trajectories of deepc's optimisers and learning-rate schedules that
tests/test_golden_optim.c checks: random configurations drawn from a fixed seed, each 20 steps of
torch.optim with torch.optim.lr_scheduler in float64.

Usage: /usr/bin/python3 scripts/golden/gen_golden_optim.py [OUT_DIR]   (default tests/golden/optim)

Needs python3-torch (Debian's PyTorch 1.13). Deterministic: running it again gives
byte-identical files.

Every case is one file OUT_DIR/NN.txt in the format of tests/golden/README.md (named tensors,
`name ndim d0 d1 ...` then the values, printed with %.9g); OUT_DIR/index.txt holds `cases`, the
number of case files. A case holds:

  opt_class, sched_class   indices into OPTIMIZERS and SCHEDULES below (the C test has the same
                           tables and checks the names it finds in the registry)
  o_<option>               each optimiser option, by the name deepc's model files give it, in
                           the order the test sets them ("lr" first, "momentum" before
                           "nesterov")
  s_<option>               each schedule option (enumerations by index)
  segs [k, 2]              the parameter tensors, in the flat buffer's order: rows and columns
                           of a matrix, or 0 and the length of a 1-D tensor (a bias, a
                           normalisation scale): deepc's dc_part_seg rows/len
  w0 [n]                   the start weights
  g [20, n]                the raw gradient of each step (before clipping)
  lr [20]                  the learning rate PyTorch used at each step
  w [20, n]                the weights after each step
  spe, metric [E]          ReduceLROnPlateau only: steps per epoch, and the monitored value
                           given to scheduler.step(metric) (deepc: dc_optimizer_epoch_end)
                           after every spe steps

Inputs and every hyper-parameter are float32 values (deepc keeps its options as floats), so
deepc reads exactly the numbers PyTorch used; PyTorch then runs in float64, so the references
carry no float32 rounding of their own.

The reference step, for each of the 20 steps:
  1. clipping as deepc documents it, in float64: g *= min(1, clipnorm / ||g||) over all the
     tensors together, then clamp to [-clipvalue, clipvalue] (PyTorch's clip_grad_norm_ adds
     1e-6 to the norm, which deepc and Keras's global_clipnorm do not; the formula is applied by
     hand for that reason);
  2. optimizer.step() of torch.optim.SGD / Adagrad / Adadelta / RMSprop / Adam / AdamW, with
     weight_decay; with decay_bias_and_norm false the 1-D tensors are a second parameter group
     with weight_decay 0 (the usual PyTorch recipe);
  3. scheduler.step() for the step-based schedules (deepc changes the rate every optimiser
     step), scheduler.step(metric) at each epoch end for ReduceLROnPlateau.
Schedules, in PyTorch terms:
  StepLR(step_size, gamma), ExponentialLR(gamma),
  CosineWarmup = SequentialLR([LinearLR(f, 1, W)], CosineAnnealingLR(T - W, min_lr),
                 ConstantLR(min_lr / base) from T on]) (the parts that apply: no LinearLR when
                 W = 0; f = 0 is run as f = 1e-300, since LinearLR divides by f; the generator
                 asserts the rates equal deepc's closed form to 1e-12),
  OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy="cos", cycle_momentum=False,
             div_factor, final_div_factor), total_steps >= 20 (PyTorch stops at total_steps),
  ReduceLROnPlateau(mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps).
The first 36 cases pair every optimiser with every schedule kind (and none); the rest are drawn
at random. The generator asserts that the draws cover every option (momentum, Nesterov,
centred, AMSGrad, clipping that acts, decay that skips 1-D tensors, a plateau that lowers
the rate, ...).
"""

import math
import os
import random
import struct
import sys
import warnings
import zlib

import torch

SEED = 19190001
STEPS = 20
NCASES = 64
OPTIMIZERS = ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW"]
SCHEDULES = ["none", "StepLR", "ExponentialLR", "CosineWarmup", "OneCycleLR", "ReduceLROnPlateau"]


def f32(x):
    """The float32 nearest x, as a Python float."""
    return struct.unpack("f", struct.pack("f", x))[0]


def log_uniform(r, lo, hi):
    return f32(10 ** r.uniform(lo, hi))


def fmt_vals(vals):
    return " ".join("%.9g" % v for v in vals)


class CaseWriter:
    def __init__(self, path, what, seed):
        self.path = path
        self.lines = [
            "# deepc golden optimiser case: %s" % what,
            "# made by scripts/golden/%s with PyTorch %s, seed %d"
            % (os.path.basename(sys.argv[0]), torch.__version__, seed),
        ]

    def put(self, name, shape, vals):
        vals = list(vals)
        assert len(vals) == math.prod(shape), name
        self.lines.append("%s %d %s" % (name, len(shape), " ".join(str(d) for d in shape)))
        self.lines.append(fmt_vals(vals))

    def scalar(self, name, v):
        self.put(name, [1], [v])

    def close(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(self.lines) + "\n")
        os.replace(tmp, self.path)


# ---------------------------------------------------------------------------------------------
# configurations
# ---------------------------------------------------------------------------------------------


def draw_optimizer(r, cls):
    """The options in deepc's names and order (lr first; momentum before nesterov)."""
    o = {}
    if cls == "SGD":
        o["lr"] = log_uniform(r, -2.5, -0.7)
        o["momentum"] = f32(r.uniform(0.5, 0.95)) if r.random() < 0.7 else 0.0
        o["nesterov"] = 1 if o["momentum"] > 0 and r.random() < 0.5 else 0
    elif cls == "Adagrad":
        o["lr"] = log_uniform(r, -2, -0.7)
        o["epsilon"] = log_uniform(r, -10, -6)
    elif cls == "Adadelta":
        o["lr"] = f32(r.uniform(0.5, 2.0))
        o["rho"] = f32(r.uniform(0.8, 0.99))
        o["epsilon"] = log_uniform(r, -7, -5)
    elif cls == "RMSprop":
        o["lr"] = log_uniform(r, -3, -1.7)
        o["rho"] = f32(r.uniform(0.8, 0.99))
        o["epsilon"] = log_uniform(r, -8, -6)
        o["momentum"] = f32(r.uniform(0.5, 0.9)) if r.random() < 0.5 else 0.0
        o["centered"] = 1 if r.random() < 0.5 else 0
    else:  # Adam, AdamW
        o["lr"] = log_uniform(r, -3, -1.7)
        o["beta1"] = f32(r.uniform(0.8, 0.95))
        o["beta2"] = f32(r.uniform(0.95, 0.999))
        o["epsilon"] = log_uniform(r, -8, -6)
        o["amsgrad"] = 1 if r.random() < 0.5 else 0
    if r.random() < 0.3:
        o["weight_decay"] = 0.0
    else:
        o["weight_decay"] = log_uniform(r, -2, -0.5) if cls == "AdamW" else log_uniform(r, -3, -1)
    o["decay_bias_and_norm"] = 1 if r.random() < 0.5 else 0
    o["clipnorm"] = f32(r.uniform(1.5, 5)) if r.random() < 0.5 else 0.0
    o["clipvalue"] = f32(r.uniform(0.5, 2)) if r.random() < 0.4 else 0.0
    return o


def draw_schedule(r, kind, base):
    s = {}
    if kind == "StepLR":
        s["step_size"] = r.randint(1, 8)
        s["gamma"] = f32(r.uniform(0.3, 0.95))
    elif kind == "ExponentialLR":
        s["gamma"] = f32(r.uniform(0.8, 1.05))
    elif kind == "CosineWarmup":
        s["total_steps"] = r.randint(8, 40)  # below 20: the rate is held at min_lr after it
        s["warmup_steps"] = r.randint(0, min(s["total_steps"] - 1, 8))
        s["min_lr"] = f32(base * r.uniform(0, 0.3)) if r.random() < 0.6 else 0.0
        s["warmup_start_factor"] = f32(r.uniform(0.05, 1)) if r.random() < 0.7 else 0.0
    elif kind == "OneCycleLR":
        s["total_steps"] = r.randint(STEPS, 40)
        s["max_lr"] = f32(base * r.uniform(1, 3)) if r.random() < 0.5 else 0.0  # 0: the optimiser's lr
        s["pct_start"] = f32(r.uniform(0.1, 0.5))
        s["div_factor"] = f32(r.uniform(5, 30))
        s["final_div_factor"] = log_uniform(r, 1, 4)
    elif kind == "ReduceLROnPlateau":
        s["mode"] = r.randint(0, 1)  # 0 min, 1 max
        s["factor"] = f32(r.uniform(0.2, 0.8))
        s["patience"] = r.randint(0, 3)
        s["threshold"] = log_uniform(r, -4, -1.3)
        s["threshold_mode"] = r.randint(0, 1)  # 0 rel, 1 abs
        s["cooldown"] = r.randint(0, 2)
        s["min_lr"] = f32(base * r.uniform(0.1, 0.6)) if r.random() < 0.5 else 0.0
        s["eps"] = f32(1e-8)
    return s


def draw_segments(r):
    """2 to 4 tensors, at least one matrix and (mostly) one 1-D tensor."""
    while True:
        segs = []
        for _ in range(r.randint(2, 4)):
            if r.random() < 0.5:
                segs.append((r.randint(1, 3), r.randint(1, 4)))
            else:
                segs.append((0, r.randint(1, 5)))
        if any(s[0] > 0 for s in segs):
            return segs


def draw_metrics(r, epochs, mode):
    """A monitored value per epoch with improvements, plateaus and worsening, float32 values."""
    vals, best = [], 1.0
    for _ in range(epochs):
        u = r.random()
        if u < 0.35:
            v = best * (1 - r.uniform(0.02, 0.3))
        elif u < 0.6 and vals:
            v = vals[-1]
        else:
            v = best * (1 + r.uniform(0, 0.2))
        v = f32(v)
        best = min(best, v)
        vals.append(v)
    return vals if mode == 0 else [f32(-v) for v in vals]


# ---------------------------------------------------------------------------------------------
# the reference run
# ---------------------------------------------------------------------------------------------


def make_torch_optimizer(cls, o, mats, vecs):
    wd = o["weight_decay"]
    if wd > 0 and not o["decay_bias_and_norm"] and mats and vecs:
        params = [{"params": mats}, {"params": vecs, "weight_decay": 0.0}]
    elif wd > 0 and not o["decay_bias_and_norm"] and not mats:
        params, wd = vecs, 0.0
    else:
        params = mats + vecs
    lr = o["lr"]
    if cls == "SGD":
        return torch.optim.SGD(params, lr=lr, momentum=o["momentum"], nesterov=bool(o["nesterov"]), weight_decay=wd)
    if cls == "Adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=o["epsilon"], weight_decay=wd)
    if cls == "Adadelta":
        return torch.optim.Adadelta(params, lr=lr, rho=o["rho"], eps=o["epsilon"], weight_decay=wd)
    if cls == "RMSprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=o["rho"], eps=o["epsilon"], weight_decay=wd,
                                   momentum=o["momentum"], centered=bool(o["centered"]))
    Opt = torch.optim.Adam if cls == "Adam" else torch.optim.AdamW
    return Opt(params, lr=lr, betas=(o["beta1"], o["beta2"]), eps=o["epsilon"], weight_decay=wd,
               amsgrad=bool(o["amsgrad"]))


def make_torch_schedule(kind, s, opt, base):
    L = torch.optim.lr_scheduler
    if kind == "StepLR":
        return L.StepLR(opt, step_size=s["step_size"], gamma=s["gamma"])
    if kind == "ExponentialLR":
        return L.ExponentialLR(opt, gamma=s["gamma"])
    if kind == "CosineWarmup":
        W, T = s["warmup_steps"], s["total_steps"]
        parts, milestones = [], []
        if W > 0:
            f = s["warmup_start_factor"] if s["warmup_start_factor"] > 0 else 1e-300
            parts.append(L.LinearLR(opt, start_factor=f, end_factor=1.0, total_iters=W))
        parts.append(L.CosineAnnealingLR(opt, T_max=T - W, eta_min=s["min_lr"]))
        if W > 0:
            milestones.append(W)
        if T < STEPS:
            parts.append(L.ConstantLR(opt, factor=s["min_lr"] / base, total_iters=10 ** 9))
            milestones.append(T)
        return parts[0] if len(parts) == 1 else L.SequentialLR(opt, parts, milestones=milestones)
    if kind == "OneCycleLR":
        max_lr = s["max_lr"] if s["max_lr"] > 0 else base
        return L.OneCycleLR(opt, max_lr=max_lr, total_steps=s["total_steps"], pct_start=s["pct_start"],
                            anneal_strategy="cos", cycle_momentum=False, div_factor=s["div_factor"],
                            final_div_factor=s["final_div_factor"])
    if kind == "ReduceLROnPlateau":
        return L.ReduceLROnPlateau(opt, mode=["min", "max"][s["mode"]], factor=s["factor"], patience=s["patience"],
                                   threshold=s["threshold"], threshold_mode=["rel", "abs"][s["threshold_mode"]],
                                   cooldown=s["cooldown"], min_lr=s["min_lr"], eps=s["eps"])
    return None


def cosine_warmup_closed_form(s, k, base):
    """deepc's CosineWarmup (src/optim/sched_cosine.c), to check the PyTorch composition against."""
    W, T, f, lo = s["warmup_steps"], s["total_steps"], s["warmup_start_factor"], s["min_lr"]
    if k < W:
        return base * (f + (1 - f) * k / W)
    if k >= T:
        return lo
    return lo + (base - lo) * (1 + math.cos(math.pi * (k - W) / (T - W))) / 2


def run_case(idx, r, cov, out_dir):
    if idx < len(OPTIMIZERS) * len(SCHEDULES):
        cls, kind = OPTIMIZERS[idx % len(OPTIMIZERS)], SCHEDULES[idx // len(OPTIMIZERS)]
    else:
        cls, kind = r.choice(OPTIMIZERS), r.choice(SCHEDULES)
    o = draw_optimizer(r, cls)
    s = draw_schedule(r, kind, o["lr"])
    segs = draw_segments(r)
    spe, metrics = 0, []
    if kind == "ReduceLROnPlateau":
        spe = r.randint(1, 3)
        metrics = draw_metrics(r, STEPS // spe, s["mode"])

    seed = zlib.crc32(("optim_%02d" % idx).encode("ascii"))
    torch.manual_seed(seed)
    sizes = [rows * cols if rows else cols for rows, cols in segs]
    n = sum(sizes)
    w0 = torch.randn(n, dtype=torch.float32).to(torch.float64)
    grads = [torch.randn(n, dtype=torch.float32).to(torch.float64) for _ in range(STEPS)]

    params, off = [], 0
    for (rows, cols), sz in zip(segs, sizes):
        t = w0[off:off + sz].clone()
        params.append(torch.nn.Parameter(t.reshape(rows, cols) if rows else t))
        off += sz
    mats = [p for p, (rows, _) in zip(params, segs) if rows]
    vecs = [p for p, (rows, _) in zip(params, segs) if not rows]
    opt = make_torch_optimizer(cls, o, mats, vecs)
    base = o["lr"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's step(0) warns about the epoch argument
        sched = make_torch_schedule(kind, s, opt, base)

        lrs, ws = [], []
        for k in range(STEPS):
            g = grads[k].clone()
            if o["clipnorm"] > 0:
                norm = math.sqrt(float((g * g).sum()))
                if norm > o["clipnorm"]:
                    g = g * (o["clipnorm"] / norm)
                    cov.add("clipnorm acts")
            if o["clipvalue"] > 0:
                if float(g.abs().max()) > o["clipvalue"]:
                    cov.add("clipvalue acts")
                g = g.clamp(-o["clipvalue"], o["clipvalue"])
            off = 0
            for p, sz in zip(params, sizes):
                p.grad = g[off:off + sz].clone().reshape(p.shape)
                off += sz
            lr = opt.param_groups[0]["lr"]
            assert all(grp["lr"] == lr for grp in opt.param_groups)
            if kind == "CosineWarmup":
                want = cosine_warmup_closed_form(s, k, base)
                assert abs(lr - want) <= 1e-12 * base, (idx, k, lr, want)
            lrs.append(lr)
            opt.step()
            if kind == "ReduceLROnPlateau":
                if (k + 1) % spe == 0:
                    sched.step(metrics[(k + 1) // spe - 1])
            elif sched is not None:
                sched.step()
            ws.append(torch.cat([p.detach().reshape(-1) for p in params]))

    # coverage of what the cases are meant to exercise
    cov.add("class " + cls)
    cov.add("schedule " + kind)
    if cls == "SGD":
        cov.add("SGD momentum" if o["momentum"] > 0 else "SGD plain")
        if o["nesterov"]:
            cov.add("SGD nesterov")
    if cls == "RMSprop":
        cov.add("RMSprop momentum %d centered %d" % (o["momentum"] > 0, o["centered"]))
    if cls in ("Adam", "AdamW"):
        cov.add("%s amsgrad %d" % (cls, o["amsgrad"]))
    if o["weight_decay"] > 0 and vecs and mats:
        cov.add("%s decay skips 1-D" % ("decoupled" if cls == "AdamW" else "L2") if not o["decay_bias_and_norm"]
                else "decay on all")
    if kind == "ReduceLROnPlateau" and min(lrs) < base:
        cov.add("plateau lowers the rate")
        if s["min_lr"] > 0 and min(lrs) == s["min_lr"]:
            cov.add("plateau at min_lr")
    if kind == "CosineWarmup":
        if s["total_steps"] < STEPS:
            cov.add("cosine past total_steps")
        if s["warmup_steps"] > 0 and s["warmup_start_factor"] == 0:
            cov.add("cosine warm-up from 0")
    if kind == "OneCycleLR" and s["max_lr"] == 0:
        cov.add("one-cycle max_lr from the optimiser")

    desc = "%s + %s: %d steps, %d parameters in %d tensors" % (cls, kind, STEPS, n, len(segs))
    w = CaseWriter(os.path.join(out_dir, "%02d.txt" % idx), desc, seed)
    w.scalar("opt_class", OPTIMIZERS.index(cls))
    w.scalar("sched_class", SCHEDULES.index(kind))
    for key, v in o.items():
        w.scalar("o_" + key, v)
    for key, v in s.items():
        w.scalar("s_" + key, v)
    w.put("segs", [len(segs), 2], [x for seg in segs for x in seg])
    if kind == "ReduceLROnPlateau":
        w.scalar("spe", spe)
        w.put("metric", [len(metrics)], metrics)
    w.put("w0", [n], w0.tolist())
    w.put("g", [STEPS, n], torch.cat(grads).tolist())
    w.put("lr", [STEPS], lrs)
    w.put("w", [STEPS, n], torch.cat(ws).tolist())
    w.close()


REQUIRED = (
    ["class " + c for c in OPTIMIZERS] + ["schedule " + k for k in SCHEDULES]
    + ["SGD plain", "SGD momentum", "SGD nesterov"]
    + ["RMSprop momentum %d centered %d" % (a, b) for a in (0, 1) for b in (0, 1)]
    + ["%s amsgrad %d" % (c, a) for c in ("Adam", "AdamW") for a in (0, 1)]
    + ["clipnorm acts", "clipvalue acts", "L2 decay skips 1-D", "decoupled decay skips 1-D", "decay on all",
       "plateau lowers the rate", "plateau at min_lr", "cosine past total_steps", "cosine warm-up from 0",
       "one-cycle max_lr from the optimiser"]
)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/optim"
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    r = random.Random(SEED)
    cov = set()
    for idx in range(NCASES):
        run_case(idx, r, cov, out_dir)
    missing = [c for c in REQUIRED if c not in cov]
    assert not missing, "the draws miss: %s (change SEED or NCASES)" % ", ".join(missing)
    w = CaseWriter(os.path.join(out_dir, "index.txt"), "the number of case files NN.txt", SEED)
    w.scalar("cases", NCASES)
    w.close()
    print("wrote %d optimiser cases to %s (PyTorch %s)" % (NCASES, out_dir, torch.__version__))


if __name__ == "__main__":
    main()
