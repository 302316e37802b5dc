#!/usr/bin/python3
"""Writes the PyTorch golden vectors of the general tensor layers that ONNX import builds graphs
from, which tests/test_golden_onnx_layers.c checks: Arithmetic (two inputs, NumPy broadcasting),
ValueArithmetic (an input and a held value, either order), MatMul (batched), Slice and Reduce
(mean, sum, max; keepdims or not).

Usage: /usr/bin/python3 scripts/golden/gen_golden_onnx_layers.py [OUT_DIR]
(default tests/golden/onnx_layers). Needs python3-torch (Debian's PyTorch 1.13).

File format, per-case seeds and float32 draws with float64 references are gen_golden.py's.
Every case stores cfg (kind-specific numbers, below), the inputs x0 (and x1), the held value
p_value (ValueArithmetic), a random upstream gradient gy, the output y, and the gradients dx0,
dx1, d_value of sum(y * gy). Shapes include the batch axis (2 rows).
  arith:  cfg = [kind 0, op]                     op: 0 add, 1 sub, 2 mul, 3 div
  varith: cfg = [kind 1, op, reverse]
  matmul: cfg = [kind 2]
  slice:  cfg = [kind 3, axis, start, stop]      axis 1-based after the batch
  reduce: cfg = [kind 4, op, keepdims, axes...]  op: 0 mean, 1 sum, 2 max; axes 1-based
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import CaseWriter, f32, seed_for  # noqa: E402

OPS = [torch.add, torch.sub, torch.mul, torch.div]
OP_NAMES = ["add", "sub", "mul", "div"]


def positive(shape):
    """Denominators kept away from zero."""
    return f32(1.0 + torch.rand(shape)) * torch.where(torch.rand(shape) < 0.5, -1.0, 1.0).double()


def finish(w, y, gy, grads):
    w.put("gy", gy)
    w.put("y", y)
    (y * gy).sum().backward()
    for name, t in grads:
        w.put(name, t.grad)
    w.close()


def arith(out, op, s0, s1, tag):
    name = "arith_%s_%s" % (OP_NAMES[op], tag)
    w = CaseWriter(out, name, seed_for(name), "Arithmetic %s of %s and %s" % (OP_NAMES[op], s0, s1))
    x0 = f32(torch.randn(s0)).requires_grad_()
    x1 = (positive(s1) if op == 3 else f32(torch.randn(s1))).requires_grad_()
    w.put("cfg", torch.tensor([0.0, op], dtype=torch.float64))
    w.put("x0", x0)
    w.put("x1", x1)
    # deepc gives the lower rank leading axes of 1 after the batch
    a, b = x0, x1
    if b.dim() < a.dim():
        b = b.reshape([b.shape[0]] + [1] * (a.dim() - b.dim()) + list(b.shape[1:]))
    if a.dim() < b.dim():
        a = a.reshape([a.shape[0]] + [1] * (b.dim() - a.dim()) + list(a.shape[1:]))
    y = OPS[op](a, b)
    finish(w, y, f32(torch.randn(y.shape)), [("dx0", x0), ("dx1", x1)])


def varith(out, op, reverse, xs, vs):
    name = "varith_%s_%s" % (OP_NAMES[op], "rev" if reverse else "fwd")
    w = CaseWriter(out, name, seed_for(name), "ValueArithmetic %s, value %s, reverse %d" % (OP_NAMES[op], vs, reverse))
    x = (positive(xs) if op == 3 and reverse else f32(torch.randn(xs))).requires_grad_()
    v = (positive(vs) if op == 3 and not reverse else f32(torch.randn(vs))).requires_grad_()
    w.put("cfg", torch.tensor([1.0, op, reverse], dtype=torch.float64))
    w.put("x0", x)
    w.put("p_value", v)
    y = OPS[op](v, x) if reverse else OPS[op](x, v)
    finish(w, y, f32(torch.randn(y.shape)), [("dx0", x), ("d_value", v)])


def matmul(out):
    name = "matmul"
    w = CaseWriter(out, name, seed_for(name), "MatMul [2, 2, 3, 4] . [2, 2, 4, 5]")
    a = f32(torch.randn(2, 2, 3, 4)).requires_grad_()
    b = f32(torch.randn(2, 2, 4, 5)).requires_grad_()
    w.put("cfg", torch.tensor([2.0], dtype=torch.float64))
    w.put("x0", a)
    w.put("x1", b)
    y = a @ b
    finish(w, y, f32(torch.randn(y.shape)), [("dx0", a), ("dx1", b)])


def slice_case(out, axis, start, stop):
    name = "slice_%d_%d_%d" % (axis, start, stop)
    w = CaseWriter(out, name, seed_for(name), "Slice of axis %d, [%d, %d)" % (axis, start, stop))
    x = f32(torch.randn(2, 5, 3)).requires_grad_()
    w.put("cfg", torch.tensor([3.0, axis, start, stop], dtype=torch.float64))
    w.put("x0", x)
    y = x.narrow(axis, start, stop - start)
    finish(w, y, f32(torch.randn(y.shape)), [("dx0", x)])


def reduce_case(out, op, keep, axes):
    name = "reduce_%s_%d_%s" % (["mean", "sum", "max"][op], keep, "".join(str(a) for a in axes))
    w = CaseWriter(out, name, seed_for(name), "Reduce %s over %s, keepdims %d" % (["mean", "sum", "max"][op], axes, keep))
    x = f32(torch.randn(2, 3, 4, 5)).requires_grad_()
    w.put("cfg", torch.tensor([4.0, op, keep] + list(axes), dtype=torch.float64))
    w.put("x0", x)
    if op == 2:
        y = x
        for a in sorted(axes, reverse=True):
            y = y.amax(dim=a, keepdim=True)
        if not keep:
            y = y.reshape([2] + [d for i, d in enumerate(x.shape[1:], 1) if i not in axes])
    else:
        f = torch.mean if op == 0 else torch.sum
        y = f(x, dim=list(axes), keepdim=bool(keep))
    if y.dim() == 1:
        y = y.reshape(2, 1)  # deepc keeps one value a row as [N, 1]
    finish(w, y, f32(torch.randn(y.shape)), [("dx0", x)])


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "onnx_layers")
    os.makedirs(out, exist_ok=True)
    names = []
    for op in range(4):
        arith(out, op, [2, 3, 4], [2, 1, 4], "bcast")
        arith(out, op, [2, 3, 4], [2, 4], "rank")
        names += ["arith_%s_bcast" % OP_NAMES[op], "arith_%s_rank" % OP_NAMES[op]]
        for rev in (0, 1):
            varith(out, op, rev, [2, 3, 4], [3, 1])
            names.append("varith_%s_%s" % (OP_NAMES[op], "rev" if rev else "fwd"))
    matmul(out)
    names.append("matmul")
    for axis, start, stop in [(1, 1, 4), (2, 0, 1)]:
        slice_case(out, axis, start, stop)
        names.append("slice_%d_%d_%d" % (axis, start, stop))
    for op in range(3):
        for keep in (0, 1):
            reduce_case(out, op, keep, (1, 3))
            names.append("reduce_%s_%d_13" % (["mean", "sum", "max"][op], keep))
    reduce_case(out, 0, 0, (1, 2, 3))
    names.append("reduce_mean_0_123")
    with open(os.path.join(out, "cases.list"), "w") as f:
        f.write("\n".join(names) + "\n")
    print("%d cases in %s" % (len(names), out))


if __name__ == "__main__":
    main()
