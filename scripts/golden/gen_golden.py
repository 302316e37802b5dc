#!/usr/bin/python3
"""Writes the PyTorch golden vectors that tests/test_golden.c checks deepc against.

Usage: /usr/bin/python3 scripts/golden/gen_golden.py [OUT_DIR]   (default tests/golden;
`make golden` runs it). Needs python3-torch (Debian's PyTorch 1.13).

Every case is one text file OUT_DIR/<case>.txt of named tensors. Lines starting with '#'
are comments. Each tensor takes two lines:

    name ndim d0 d1 ...
    v0 v1 v2 ...          (exactly d0*d1*... values, row-major, printed with %.9g)

Inputs (x, weights, targets, optimiser gradients) are drawn in float32 with a fixed seed
per case, so deepc reads exactly the same numbers; the reference results are then
computed by PyTorch in float64, so the goldens carry no float32 rounding of their own.
"""

import os
import sys
import zlib

import torch
import torch.nn.functional as F

N, IN, HID, K = 4, 5, 6, 3  # batch, inputs, hidden units, outputs (classes)

ACTS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda h: F.leaky_relu(h, 0.01),
    "elu": lambda h: F.elu(h, 1.0),
}

# losses: target kind, and how the loss is made from the logits z [N, K].
# Returns (loss, intermediate tensor deepc also produces or None).


def loss_mse(z, y):
    return F.mse_loss(z, y), None


def loss_mae(z, y):
    return F.l1_loss(z, y), None


def loss_bce(z, y):
    p = torch.sigmoid(z)
    return F.binary_cross_entropy(p, y), p


def loss_bce_logits(z, y):
    return F.binary_cross_entropy_with_logits(z, y), None


def loss_softmax_sparse_cce(z, lab):
    return F.cross_entropy(z, lab.long()), None


def loss_softmax_cce(z, y):
    return -(y * F.log_softmax(z, dim=1)).sum(1).mean(), None


def loss_nll(z, lab):
    lp = F.log_softmax(z, dim=1)
    return F.nll_loss(lp, lab.long()), lp


def loss_cce(z, y):
    p = F.softmax(z, dim=1)
    return -(y * torch.log(p)).sum(1).mean(), p


def loss_sparse_cce(z, lab):
    p = F.softmax(z, dim=1)
    return -torch.log(p[torch.arange(z.shape[0]), lab.long()]).mean(), p


LOSSES = {
    # name: (loss function, target kind)
    "mse": (loss_mse, "real"),
    "mae": (loss_mae, "real"),
    "bce": (loss_bce, "binary"),
    "bce_logits": (loss_bce_logits, "binary"),
    "softmax_sparse_cce": (loss_softmax_sparse_cce, "labels"),
    "softmax_cce": (loss_softmax_cce, "soft"),
    "nll": (loss_nll, "labels"),
    "cce": (loss_cce, "onehot"),
    "sparse_cce": (loss_sparse_cce, "labels"),
}

# Optimisers: torch constructor and the hyperparameters, in the order the C test checks
# them: hp = [lr, a, b, eps, weight_decay, nesterov] where a/b are momentum, rho/alpha or
# the Adam betas.
OPTIMS = [
    ("sgd", lambda p: torch.optim.SGD([p], lr=0.1), [0.1, 0, 0, 0, 0, 0]),
    ("sgd_momentum", lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9), [0.1, 0.9, 0, 0, 0, 0]),
    ("sgd_nesterov", lambda p: torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True),
     [0.1, 0.9, 0, 0, 0, 1]),
    ("sgd_wd", lambda p: torch.optim.SGD([p], lr=0.1, weight_decay=0.01), [0.1, 0, 0, 0, 0.01, 0]),
    ("adagrad", lambda p: torch.optim.Adagrad([p], lr=0.1, eps=1e-10), [0.1, 0, 0, 1e-10, 0, 0]),
    ("adadelta", lambda p: torch.optim.Adadelta([p], lr=1.0, rho=0.9, eps=1e-6), [1.0, 0.9, 0, 1e-6, 0, 0]),
    ("rmsprop", lambda p: torch.optim.RMSprop([p], lr=0.01, alpha=0.99, eps=1e-8), [0.01, 0.99, 0, 1e-8, 0, 0]),
    ("adam", lambda p: torch.optim.Adam([p], lr=1e-3, betas=(0.9, 0.999), eps=1e-8),
     [1e-3, 0.9, 0.999, 1e-8, 0, 0]),
    ("adam_wd", lambda p: torch.optim.Adam([p], lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
     [1e-3, 0.9, 0.999, 1e-8, 0.01, 0]),
]
OPT_PARAMS, OPT_STEPS = 10, 3


def seed_for(name):
    """A fixed seed per case that does not depend on the order of the cases."""
    seed = zlib.crc32(name.encode("ascii"))
    torch.manual_seed(seed)
    return seed


def fmt(t):
    t = t.detach().reshape(-1).to(torch.float64)
    return " ".join("%.9g" % v for v in t.tolist())


class CaseWriter:
    def __init__(self, out_dir, name, seed, what):
        self.path = os.path.join(out_dir, name + ".txt")
        self.lines = [
            "# deepc golden case %s: %s" % (name, what),
            "# made by scripts/golden/gen_golden.py with PyTorch %s, torch.manual_seed(%d)" % (torch.__version__, seed),
        ]

    def put(self, name, t):
        shape = list(t.shape) if t.dim() > 0 else [1]  # scalars (losses) are written as [1]
        self.lines.append("%s %d %s" % (name, len(shape), " ".join(str(d) for d in shape)))
        self.lines.append(fmt(t))

    def close(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(self.lines) + "\n")
        os.replace(tmp, self.path)


def f32(t):
    """float32 draw -> float64 tensor holding exactly the same values."""
    return t.to(torch.float32).to(torch.float64)


def make_target(kind):
    if kind == "real":
        return f32(torch.randn(N, K))
    if kind == "binary":
        return f32(torch.bernoulli(torch.full((N, K), 0.5)))
    if kind == "labels":
        return f32(torch.randint(0, K, (N,)))
    if kind == "onehot":
        return F.one_hot(torch.randint(0, K, (N,)), K).to(torch.float64)
    if kind == "soft":
        return f32(F.softmax(2 * torch.randn(N, K), dim=1))
    raise ValueError(kind)


def dense_case(out_dir, act, loss):
    name = "dense_%s_%s" % (act, loss)
    seed = seed_for(name)
    lossfn, tkind = LOSSES[loss]
    x = f32(torch.randn(N, IN)).requires_grad_()
    l1 = torch.nn.Linear(IN, HID)
    l2 = torch.nn.Linear(HID, K)
    W1 = f32(l1.weight.data).requires_grad_()
    b1 = f32(l1.bias.data).requires_grad_()
    W2 = f32(l2.weight.data).requires_grad_()
    b2 = f32(l2.bias.data).requires_grad_()
    y = make_target(tkind)

    h = ACTS[act](F.linear(x, W1, b1))
    z = F.linear(h, W2, b2)
    lossv, p = lossfn(z, y)
    lossv.backward()

    w = CaseWriter(out_dir, name, seed, "x -> Linear(%d,%d) -> %s -> Linear(%d,%d) -> %s" % (IN, HID, act, HID, K, loss))
    for nm, t in (("x", x), ("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2), ("target", y), ("h", h), ("z", z)):
        w.put(nm, t)
    if p is not None:
        w.put("p", p)
    w.put("loss", lossv)
    for nm, t in (("dx", x), ("dW1", W1), ("db1", b1), ("dW2", W2), ("db2", b2)):
        w.put(nm, t.grad)
    w.close()


def softmax_case(out_dir, name, fn):
    seed = seed_for(name)
    z = f32(2 * torch.randn(3, 7)).requires_grad_()
    gy = f32(torch.randn(3, 7))
    y = fn(z, dim=1)
    y.backward(gy)
    w = CaseWriter(out_dir, name, seed, "%s over the last axis of z [3, 7], backward with upstream gradient gy" % name)
    w.put("z", z)
    w.put("gy", gy)
    w.put("y", y)
    w.put("dz", z.grad)
    w.close()


def optim_case(out_dir, name, make, hp):
    case = "optim_" + name
    seed = seed_for(case)
    w0 = f32(torch.randn(OPT_PARAMS))
    grads = [f32(torch.randn(OPT_PARAMS)) for _ in range(OPT_STEPS)]
    p = torch.nn.Parameter(w0.clone())
    opt = make(p)
    w = CaseWriter(out_dir, case, seed, "%d steps of torch.optim %s from w0 with gradients g1..g%d; wS = weights after step S"
                   % (OPT_STEPS, name, OPT_STEPS))
    w.put("hp", torch.tensor(hp, dtype=torch.float64))
    w.put("w0", w0)
    for s, g in enumerate(grads, 1):
        p.grad = g.clone()
        opt.step()
        w.put("g%d" % s, g)
        w.put("w%d" % s, p.data)
    w.close()


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden"
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    cases = [(a, "mse") for a in ACTS] + [(a, "softmax_sparse_cce") for a in ACTS]
    cases += [("tanh", l) for l in LOSSES if l not in ("mse", "softmax_sparse_cce")]
    for act, loss in cases:
        dense_case(out_dir, act, loss)
    softmax_case(out_dir, "softmax", F.softmax)
    softmax_case(out_dir, "log_softmax", F.log_softmax)
    for name, make, hp in OPTIMS:
        optim_case(out_dir, name, make, hp)
    n = len(cases) + 2 + len(OPTIMS)
    print("wrote %d golden cases to %s (PyTorch %s)" % (n, out_dir, torch.__version__))


if __name__ == "__main__":
    main()
