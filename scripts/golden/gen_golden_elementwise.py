#!/usr/bin/python3
"""Writes the PyTorch golden vectors of the Elementwise layer (one function applied to every
element: the ONNX operators Neg, Abs, Exp, Log, Sqrt, Reciprocal, Pow, Clip, Softplus,
Softsign, Selu, Celu, HardSigmoid, HardSwish, Erf, ThresholdedRelu, Sin, Cos import as it),
which tests/test_golden_elementwise.c checks.

Usage: /usr/bin/python3 scripts/golden/gen_golden_elementwise.py [OUT_DIR]
(default tests/golden/elementwise). Needs python3-torch (Debian's PyTorch 1.13).

File format, per-case seeds and float32 draws with float64 references are gen_golden.py's.
Every case stores cfg = [op, alpha, beta] (op: the index in OPS below, the layer's "op"
option), the input x0 of shape [2, 3, 4] (drawn away from the function's kinks, so finite
differences hold), a random upstream gradient gy, the output y and the gradient dx0 of
sum(y * gy).
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import CaseWriter, f32, seed_for  # noqa: E402

# name, alpha, beta, f(x, a, b), domain ("pos": x > 0), kink points
OPS = [
    ("neg", 0, 0, lambda x, a, b: -x, None, []),
    ("abs", 0, 0, lambda x, a, b: x.abs(), None, [0]),
    ("exp", 0, 0, lambda x, a, b: x.exp(), None, []),
    ("log", 0, 0, lambda x, a, b: x.log(), "pos", []),
    ("sqrt", 0, 0, lambda x, a, b: x.sqrt(), "pos", []),
    ("reciprocal", 0, 0, lambda x, a, b: x.reciprocal(), "pos", []),
    ("pow", 2.5, 0, lambda x, a, b: x.pow(a), "pos", []),
    ("clip", -0.5, 0.7, lambda x, a, b: x.clamp(a, b), None, [-0.5, 0.7]),
    ("softplus", 0, 0, lambda x, a, b: F.softplus(x), None, []),
    ("softsign", 0, 0, lambda x, a, b: F.softsign(x), None, [0]),
    ("selu", 1.6, 1.1, lambda x, a, b: b * torch.where(x > 0, x, a * torch.expm1(x)), None, [0]),
    ("celu", 1.5, 0, lambda x, a, b: F.celu(x, alpha=a), None, [0]),
    ("hard_sigmoid", 0.2, 0.5, lambda x, a, b: (a * x + b).clamp(0, 1), None, [-2.5, 2.5]),
    ("hard_swish", 0, 0, lambda x, a, b: F.hardswish(x), None, [-3, 3]),
    ("erf", 0, 0, lambda x, a, b: torch.erf(x), None, []),
    ("thresholded_relu", 0.3, 0, lambda x, a, b: torch.where(x > a, x, torch.zeros_like(x)), None, [0.3]),
    ("sin", 0, 0, lambda x, a, b: x.sin(), None, []),
    ("cos", 0, 0, lambda x, a, b: x.cos(), None, []),
    ("tan", 0, 0, lambda x, a, b: x.tan(), "unit", []),
    ("asin", 0, 0, lambda x, a, b: x.asin(), "unit", []),
    ("acos", 0, 0, lambda x, a, b: x.acos(), "unit", []),
    ("atan", 0, 0, lambda x, a, b: x.atan(), None, []),
    ("sinh", 0, 0, lambda x, a, b: x.sinh(), None, []),
    ("cosh", 0, 0, lambda x, a, b: x.cosh(), None, []),
    ("asinh", 0, 0, lambda x, a, b: x.asinh(), None, []),
    ("acosh", 0, 0, lambda x, a, b: x.acosh(), "above1", []),
    ("atanh", 0, 0, lambda x, a, b: x.atanh(), "unit", []),
    ("floor", 0, 0, lambda x, a, b: x.floor(), None, "steps"),
    ("ceil", 0, 0, lambda x, a, b: x.ceil(), None, "steps"),
    ("round", 0, 0, lambda x, a, b: x.round(), None, "halves"),
    ("sign", 0, 0, lambda x, a, b: x.sign(), None, [0]),
    ("shrink", 0.5, 0.2, lambda x, a, b: torch.where(x < -a, x + b, torch.where(x > a, x - b, torch.zeros_like(x))), None,
     [-0.5, 0.5]),
]


def case(out, k):
    name, a, b, f, dom, kinks = OPS[k]
    cname = "ew_" + name
    w = CaseWriter(out, cname, seed_for(cname), "Elementwise %s, alpha %g, beta %g" % (name, a, b))
    x = f32(2.0 * torch.randn(2, 3, 4))
    if dom == "pos":
        x = f32(0.2 + x.abs())
    if dom == "unit":  # inside (-0.9, 0.9)
        x = f32(0.9 * torch.tanh(x))
    if dom == "above1":
        x = f32(1.2 + x.abs())
    if kinks == "steps":  # away from the integers
        kinks = [float(k) for k in range(-8, 9)]
    if kinks == "halves":  # away from the halves where rounding jumps
        kinks = [k + 0.5 for k in range(-8, 8)]
    for p in kinks:
        near = (x - p).abs() < 0.1
        x = f32(torch.where(near, p + 0.1 * torch.where(x >= p, 1.0, -1.0).double(), x))
    x.requires_grad_()
    w.put("cfg", torch.tensor([k, a, b], dtype=torch.float64))
    w.put("x0", x)
    y = f(x, torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64))
    gy = f32(torch.randn(y.shape))
    w.put("gy", gy)
    w.put("y", y)
    (y * gy).sum().backward()
    w.put("dx0", x.grad)
    w.close()
    return cname


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "elementwise")
    os.makedirs(out, exist_ok=True)
    names = [case(out, k) for k in range(len(OPS))]
    with open(os.path.join(out, "cases.list"), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
