#!/usr/bin/python3
"""Writes the randomised PyTorch golden vectors of deepc's losses (dc_loss_ex), which
tests/test_golden_loss.c checks forward and backward against.

Usage: /usr/bin/python3 scripts/golden/gen_golden_loss.py [OUT_DIR]   (default tests/golden/loss).
Needs python3-torch (Debian's PyTorch 1.13).

A master seed (SEED) draws CASES random configurations over every loss: the loss and its
options (from_logits, label smoothing, Huber's delta, focal's gamma and alpha), the reduction
(mean, sum, none), sample weights [N] and class weights [K] or none, and shapes of rank 1 to 3
with batch 1 and size-1 axes. Half of the cases take extreme inputs: probabilities near 0 and
1 (down to 1e-12 and up to 1 - 6e-8, on both sides of the 1e-7 clamp), logits up to +-90, Poisson
rates near 0, log-probabilities down to -80.

Case i is the file OUT_DIR/c<i>_<loss>.txt (format of scripts/golden/gen_golden.py, read by
tests/golden_io.h), listed in OUT_DIR/cases.txt. It holds:
  opts       [5]: from_logits, label_smoothing, delta, gamma, alpha (float32 values)
  reduction  [1]: 0 mean, 1 sum, 2 none
  pred, target    (labels as floats for sparse_categorical_crossentropy and nll)
  sample_weight [N], class_weight [K]   when drawn
  gy [N]     the upstream gradient of a 'none' reduction (backward of sum(loss * gy))
  loss       [1] or [N]
  dpred      d loss / d pred
  dtarget    d loss / d target, for the losses that give the target a gradient
Inputs are drawn in float32, so deepc reads the same numbers; PyTorch computes in float64.

The references follow deepc's conventions (include/deepc/ops.h): each row's loss is the mean of
its element terms (element-wise losses) or of its positions' terms (class-axis losses over the
last axis); sample weights multiply rows, class weights the terms of class k; mean divides by N.
Each loss's terms come from PyTorch's own function where it has one:
  mse F.mse_loss, mae F.l1_loss, huber F.huber_loss(delta), bce F.binary_cross_entropy on
  probabilities clamped to [1e-7, 1 - 1e-7] (float32 bounds) or F.binary_cross_entropy_with_logits,
  categorical / sparse categorical crossentropy from logits F.cross_entropy(weight=,
  label_smoothing=) with probability or index targets (on probabilities: the same sum on
  log(clamp(p))), nll F.nll_loss(weight=), kl_divergence F.kl_div(log(clamp(p, 1e-7, 1)),
  clamp(y, 1e-7, 1)).sum(-1) (Keras's convention), poisson F.poisson_nll_loss(log_input=False,
  eps=1e-7), binary focal torchvision.ops.sigmoid_focal_loss (transcribed below: torchvision is
  not installed beside Debian's torch) and its probability form with the clamped BCE, hinge and
  squared hinge Keras's formulas with its {0, 1} -> {-1, 1} conversion, cosine similarity
  -(F.normalize(p, eps=1e-6) * F.normalize(y, eps=1e-6)).sum(-1) (Keras's l2_normalize),
  checked against -F.cosine_similarity where the norms are not small.
"""

import os
import random
import sys

import torch
import torch.nn.functional as F

SEED = 19
CASES = 160

F32_EPS = float(torch.tensor(1e-7, dtype=torch.float32))
F32_HI = float(torch.tensor(1.0, dtype=torch.float32) - torch.tensor(1e-7, dtype=torch.float32))

ELEMENTWISE = ["mse", "mae", "huber", "binary_crossentropy", "hinge", "squared_hinge",
               "binary_focal_crossentropy", "poisson"]
CLASS_AXIS = ["categorical_crossentropy", "sparse_categorical_crossentropy", "nll", "kl_divergence",
              "cosine_similarity"]
LOGITS = {"binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
          "binary_focal_crossentropy"}
SMOOTHING = {"categorical_crossentropy", "sparse_categorical_crossentropy"}
LABELS = {"sparse_categorical_crossentropy", "nll"}
NO_TARGET_GRAD = LABELS | {"hinge", "squared_hinge", "binary_focal_crossentropy"}
REDUCTIONS = ["mean", "sum", "none"]


def f32(t):
    """float32 rounding, kept as float64 (the values deepc reads)."""
    return t.to(torch.float32).to(torch.float64)


def fl(x):
    return float(torch.tensor(x, dtype=torch.float32))


def fmt(t):
    t = t.detach().reshape(-1).to(torch.float64)
    return " ".join("%.9g" % v for v in t.tolist())


# ---- inputs ----

EXTREME_P = [1e-12, 1e-9, 1e-7, 1.5e-7, 1e-6, 1e-4, 0.5, 1 - 1e-4, 1 - 1e-6, 1 - 1.2e-7, 1 - 6e-8]


def probs(shape, extreme, rng):
    p = torch.rand(shape, dtype=torch.float64) * 0.98 + 0.01
    if extreme:
        flat = p.reshape(-1)
        for i in range(flat.numel()):
            if rng.random() < 0.6:
                flat[i] = rng.choice(EXTREME_P)
    return f32(p)


def logits(shape, extreme, rng):
    z = torch.randn(shape, dtype=torch.float64) * 2
    if extreme:
        flat = z.reshape(-1)
        for i in range(flat.numel()):
            if rng.random() < 0.5:
                flat[i] = rng.choice([-1, 1]) * rng.uniform(15, 90)
    return f32(z)


def row_probs(shape, extreme, rng):
    """Probability vectors over the last axis (softmax of random logits; extreme: peaked)."""
    z = logits(shape, extreme, rng)
    return f32(F.softmax(z, dim=-1))


def draw_shape(rng, cls):
    n = rng.choice([1, 1, 2, 3, 4, 5, 7])
    if cls:
        k = rng.choice([1, 2, 3, 4, 5, 6, 9])
        if rng.random() < 0.3:
            return [n, rng.choice([1, 2, 3]), k]
        return [n, k]
    r = rng.random()
    if r < 0.2:
        return [n]
    if r < 0.7:
        return [n, rng.choice([1, 1, 2, 3, 4, 6])]
    return [n, rng.choice([1, 2, 3]), rng.choice([1, 2, 4])]


# ---- the per-term references ----

def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0):
    """torchvision.ops.sigmoid_focal_loss with reduction='none' (torchvision/ops/focal_loss.py)."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    return loss


def focal_probs(p, y, alpha, gamma):
    """The same on probabilities: BCE on p clamped as deepc does, the factor on the raw p."""
    ce = F.binary_cross_entropy(p.clamp(F32_EPS, F32_HI), y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
    return loss


def elementwise_terms(loss, p, y, o):
    if loss == "mse":
        return F.mse_loss(p, y, reduction="none")
    if loss == "mae":
        return F.l1_loss(p, y, reduction="none")
    if loss == "huber":
        return F.huber_loss(p, y, reduction="none", delta=o["delta"])
    if loss == "binary_crossentropy":
        if o["from_logits"]:
            return F.binary_cross_entropy_with_logits(p, y, reduction="none")
        return F.binary_cross_entropy(p.clamp(F32_EPS, F32_HI), y, reduction="none")
    if loss in ("hinge", "squared_hinge"):
        yd = y.detach()
        yy = 2 * y - 1 if bool(((yd == 0) | (yd == 1)).all()) else y
        m = torch.relu(1 - yy * p)
        return m if loss == "hinge" else m * m
    if loss == "binary_focal_crossentropy":
        if o["from_logits"]:
            return sigmoid_focal_loss(p, y, alpha=o["alpha"], gamma=o["gamma"])
        return focal_probs(p, y, o["alpha"], o["gamma"])
    if loss == "poisson":
        return F.poisson_nll_loss(p, y, log_input=False, full=False, eps=F32_EPS, reduction="none")
    raise ValueError(loss)


def class_terms(loss, p, y, o, cw):
    """The term of each position: [N, ..., K] -> [N, ...]."""
    K = p.shape[-1]
    lead = p.shape[:-1]
    w = cw if cw is not None else torch.ones(K, dtype=torch.float64)
    eps = o["label_smoothing"]
    if loss in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        sparse = loss == "sparse_categorical_crossentropy"
        if o["from_logits"]:
            z2 = p.reshape(-1, K)
            t2 = y.reshape(-1).long() if sparse else y.reshape(-1, K)
            out = F.cross_entropy(z2, t2, weight=cw, label_smoothing=eps, reduction="none")
            return out.reshape(lead)
        t = F.one_hot(y.long(), K).to(torch.float64) if sparse else y
        q = (1 - eps) * t + eps / K
        return -(w * q * torch.log(p.clamp(F32_EPS, F32_HI))).sum(-1)
    if loss == "nll":
        out = F.nll_loss(p.reshape(-1, K), y.reshape(-1).long(), weight=cw, reduction="none")
        return out.reshape(lead)
    if loss == "kl_divergence":
        kl = F.kl_div(torch.log(p.clamp(F32_EPS, 1.0)), y.clamp(F32_EPS, 1.0), reduction="none")
        return (w * kl).sum(-1)
    if loss == "cosine_similarity":
        out = -(F.normalize(p, dim=-1, eps=1e-6) * F.normalize(y, dim=-1, eps=1e-6)).sum(-1)
        big = (p.norm(dim=-1) > 1e-3) & (y.norm(dim=-1) > 1e-3)
        ref = -F.cosine_similarity(p, y, dim=-1)
        assert torch.allclose(out[big], ref[big], rtol=1e-9, atol=1e-12)
        return out
    raise ValueError(loss)


def reduce_rows(per, n):
    """Mean over every axis but the first: [N, ...] -> [N]."""
    return per.reshape(n, -1).mean(dim=1)


# ---- one case ----

def draw_case(i, rng, loss=None, red=None, from_logits=None):
    """A random configuration; loss, reduction and from_logits are drawn unless given."""
    loss = loss or rng.choice(ELEMENTWISE + CLASS_AXIS)
    cls = loss in CLASS_AXIS
    o = {"from_logits": False, "label_smoothing": 0.0, "delta": 1.0, "gamma": 2.0, "alpha": 0.25}
    if loss in LOGITS:
        o["from_logits"] = rng.random() < 0.5 if from_logits is None else from_logits
    if loss in SMOOTHING and rng.random() < 0.5:
        o["label_smoothing"] = fl(rng.choice([0.05, 0.1, 0.3, 1.0]))
    if loss == "huber":
        o["delta"] = fl(rng.choice([0.1, 0.5, 1.0, 1.35, 3.0]))
    if loss == "binary_focal_crossentropy":
        o["gamma"] = fl(rng.choice([0.0, 0.5, 1.0, 2.0, 3.5]))
        o["alpha"] = fl(rng.choice([-1.0, 0.25, 0.6, 1.0]))
    red = red or rng.choice(REDUCTIONS)
    shape = draw_shape(rng, cls)
    extreme = rng.random() < 0.5
    return {"name": "c%03d_%s" % (i, loss), "loss": loss, "opts": o, "reduction": red, "shape": shape,
            "extreme": extreme, "sw": rng.random() < 0.4,
            "cw": loss != "cosine_similarity" and rng.random() < 0.4}


def make_inputs(cfg, rng):
    loss, shape, ex, o = cfg["loss"], cfg["shape"], cfg["extreme"], cfg["opts"]
    K = shape[-1] if len(shape) >= 2 else 1
    if loss in ("mse", "mae", "huber"):
        p = f32(torch.randn(shape, dtype=torch.float64) * (30 if ex else 1.5))
        y = f32(torch.randn(shape, dtype=torch.float64) * (30 if ex else 1.5))
    elif loss in ("binary_crossentropy", "binary_focal_crossentropy"):
        p = logits(shape, ex, rng) if o["from_logits"] else probs(shape, ex, rng)
        if rng.random() < 0.7:
            y = f32(torch.bernoulli(torch.full(shape, 0.5, dtype=torch.float64)))
        else:
            y = f32(torch.rand(shape, dtype=torch.float64))
    elif loss in ("hinge", "squared_hinge"):
        p = f32(torch.randn(shape, dtype=torch.float64) * (20 if ex else 1.5))
        y = torch.bernoulli(torch.full(shape, 0.5, dtype=torch.float64))
        if rng.random() < 0.5:
            y = 2 * y - 1  # {-1, 1} labels
    elif loss == "poisson":
        p = torch.exp(torch.randn(shape, dtype=torch.float64) * 1.5)
        if ex:
            flat = p.reshape(-1)
            for j in range(flat.numel()):
                if rng.random() < 0.5:
                    flat[j] = rng.choice([0.0, 1e-12, 1e-8, 1e-7, 1e-3, 50.0, 1e3])
        p = f32(p)
        y = f32(torch.poisson(torch.full(shape, 2.0, dtype=torch.float64)))
    elif loss == "categorical_crossentropy":
        p = logits(shape, ex, rng) if o["from_logits"] else row_probs(shape, ex, rng)
        if rng.random() < 0.5:
            y = F.one_hot(torch.randint(0, K, shape[:-1]), K).to(torch.float64)
        else:
            y = row_probs(shape, False, rng)
    elif loss == "sparse_categorical_crossentropy":
        p = logits(shape, ex, rng) if o["from_logits"] else row_probs(shape, ex, rng)
        y = torch.randint(0, K, shape[:-1]).to(torch.float64)
    elif loss == "nll":
        p = f32(F.log_softmax(logits(shape, ex, rng), dim=-1))
        y = torch.randint(0, K, shape[:-1]).to(torch.float64)
    elif loss == "kl_divergence":
        p = row_probs(shape, ex, rng)
        if rng.random() < 0.4:
            y = F.one_hot(torch.randint(0, K, shape[:-1]), K).to(torch.float64)  # zeros: clamped to 1e-7
        else:
            y = row_probs(shape, ex, rng)
    elif loss == "cosine_similarity":
        p = f32(torch.randn(shape, dtype=torch.float64) * (1e3 if ex else 1))
        y = f32(torch.randn(shape, dtype=torch.float64))
    else:
        raise ValueError(loss)
    return p, y


def run_case(out_dir, cfg, rng):
    torch.manual_seed(rng.randrange(1 << 31))
    loss, red, o = cfg["loss"], cfg["reduction"], cfg["opts"]
    p, y = make_inputs(cfg, rng)
    N = p.shape[0]
    K = p.shape[-1] if p.dim() >= 2 else 1
    sw = f32(torch.rand(N, dtype=torch.float64) * 2) if cfg["sw"] else None
    cw = f32(torch.rand(K, dtype=torch.float64) * 2 + 0.05) if cfg["cw"] else None
    tgrad = loss not in NO_TARGET_GRAD
    p = p.clone().requires_grad_()
    y = y.clone().requires_grad_(tgrad)
    if loss in CLASS_AXIS:
        per = class_terms(loss, p, y, o, cw)
    else:
        per = elementwise_terms(loss, p, y, o)
        if cw is not None:
            per = per * cw  # broadcast over the last axis ([1] for a 1-D pred)
    rows = reduce_rows(per, N)
    if sw is not None:
        rows = rows * sw
    gy = None
    if red == "mean":
        out = rows.sum() / N
        out.backward()
    elif red == "sum":
        out = rows.sum()
        out.backward()
    else:
        out = rows
        gy = f32(torch.randn(N, dtype=torch.float64))
        out.backward(gy)
    assert torch.isfinite(out).all() and torch.isfinite(p.grad).all(), cfg
    lines = [
        "# deepc golden loss case %s: %s, reduction %s, shape %s, %s inputs%s%s, options %s"
        % (cfg["name"], loss, red, list(p.shape), "extreme" if cfg["extreme"] else "plain",
           ", sample weights" if sw is not None else "", ", class weights" if cw is not None else "", o),
        "# made by scripts/golden/%s with PyTorch %s, master seed %d"
        % (os.path.basename(sys.argv[0]), torch.__version__, SEED),
    ]

    def put(name, t):
        shape = list(t.shape) if t.dim() > 0 else [1]
        lines.append("%s %d %s" % (name, len(shape), " ".join(str(d) for d in shape)))
        lines.append(fmt(t))

    put("opts", torch.tensor([float(o["from_logits"]), o["label_smoothing"], o["delta"], o["gamma"], o["alpha"]],
                             dtype=torch.float64))
    put("reduction", torch.tensor([float(REDUCTIONS.index(red))], dtype=torch.float64))
    put("pred", p)
    put("target", y)
    if sw is not None:
        put("sample_weight", sw)
    if cw is not None:
        put("class_weight", cw)
    if gy is not None:
        put("gy", gy)
    put("loss", out)
    put("dpred", p.grad)
    if tgrad:
        assert torch.isfinite(y.grad).all(), cfg
        put("dtarget", y.grad)
    path = os.path.join(out_dir, cfg["name"] + ".txt")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "golden", "loss")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    rng = random.Random(SEED)
    cfgs = [draw_case(i, rng) for i in range(CASES)]
    # every loss, with and without logits where it has them, under every reduction
    seen = {(c["loss"], c["opts"]["from_logits"], c["reduction"]) for c in cfgs}
    for loss in ELEMENTWISE + CLASS_AXIS:
        for lg in ([False, True] if loss in LOGITS else [False]):
            for red in REDUCTIONS:
                if (loss, lg, red) not in seen:
                    cfgs.append(draw_case(len(cfgs), rng, loss, red, lg))
    for cfg in cfgs:
        run_case(out_dir, cfg, rng)
    with open(os.path.join(out_dir, "cases.txt"), "w") as f:
        f.write("# the golden loss cases, one file stem per line: c<index>_<loss name>\n")
        f.write("".join(c["name"] + "\n" for c in cfgs))
    print("%d loss cases written to %s" % (len(cfgs), out_dir))


if __name__ == "__main__":
    main()
