#!/usr/bin/python3
"""Writes the PyTorch golden vectors of deepc's transposed convolution, which
tests/test_golden_convt.c checks: the op dc_conv2d_transpose with any padding, output padding
included, and the Conv2DTranspose layer with VALID and SAME padding, over seeded random
kernel / stride / size combinations (many with a kernel smaller than the stride, where SAME
needs output padding) and the three configurations of issue 19.

Usage: /usr/bin/python3 scripts/golden/gen_golden_convt.py [OUT_DIR]   (default tests/golden/convt).
Needs python3-torch (Debian's PyTorch 1.13).

The file format, the per-case seeds (torch.manual_seed(crc32(case name))) and the float32
inputs with float64 references are those of gen_golden.py. Every case stores
  cfg = [stride_h, stride_w, top, left, bottom, right, has_bias, mode, kh, kw]
(the padding in deepc's {top, left, bottom, right} order; mode 0 explicit padding, for the op
only; 1 VALID and 2 SAME, for the op with that padding and for the layer), then x [N, C, H, W],
w [C, F, kh, kw] (PyTorch's layout, as deepc's), b [F] when has_bias, a random upstream
gradient gy, the output y and the gradients dx, dw (and db) of sum(y * gy).

deepc's padding crops the full output (H - 1) stride + kh: top rows at the top, bottom rows at
the bottom; a negative bottom (right) is output padding, -bottom rows added at the bottom that no
input reaches (bias only), as PyTorch's output_padding. PyTorch's nn.ConvTranspose2d(padding=p,
output_padding=op) is deepc's {p, p, p - op, p - op} per axis, so a case whose top - bottom is in
[0, stride) per axis runs that module directly; any other one runs the module with padding 0 and
output_padding max(-bottom, 0), whose output is then cropped by top and max(bottom, 0) (the
generator checks that both ways agree where both apply).

SAME is Keras's: output H * stride, the full output cropped by max(kh - stride, 0) rows, the
odd one at the bottom (TensorFlow's conv2d_transpose is the gradient of a SAME convolution of an
H * stride input); with kh < stride no row is cropped and stride - kh rows are added at the
bottom: top 0, bottom kh - stride < 0.
"""

import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import CaseWriter, f32, seed_for  # noqa: E402  (one file format for every case)

RANDOM_CASES = 48  # convt_r00 .. convt_r47; tests/test_golden_convt.c reads as many
MODES = {"explicit": 0, "valid": 1, "same": 2}


def same_pads(n, k, s):
    """Keras's SAME for a transposed convolution along one axis: (lo, hi) crops of the full
    output (n - 1) s + k that leave n s; hi < 0 adds rows."""
    lo = max(k - s, 0) // 2
    hi = (n - 1) * s + k - lo - n * s
    return lo, hi


def module(C, F_, kh, kw, stride, padding, output_padding, w, b):
    """nn.ConvTranspose2d in float64 holding the float32 draws w and b."""
    m = torch.nn.ConvTranspose2d(C, F_, (kh, kw), stride=stride, padding=padding, output_padding=output_padding,
                                 bias=b is not None).double()
    with torch.no_grad():
        m.weight.copy_(w)
        if b is not None:
            m.bias.copy_(b)
    return m


def reference(x, w, b, stride, pads):
    """y for deepc's padding pads = (top, left, bottom, right) from nn.ConvTranspose2d, and the
    module (for its gradients); also how it was computed."""
    C, F_, kh, kw = w.shape
    top, left, bottom, right = pads
    op = (top - bottom, left - right)
    direct = all(0 <= op[a] < stride[a] for a in range(2))
    if direct:
        m = module(C, F_, kh, kw, stride, (top, left), op, w, b)
        return m(x), m, "nn.ConvTranspose2d(padding=(%d, %d), output_padding=(%d, %d))" % (top, left, op[0], op[1])
    extra = (max(-bottom, 0), max(-right, 0))
    m = module(C, F_, kh, kw, stride, 0, extra, w, b)
    full = m(x)
    y = full[:, :, top:full.shape[2] - max(bottom, 0), left:full.shape[3] - max(right, 0)]
    return y, m, ("nn.ConvTranspose2d(padding=0, output_padding=(%d, %d)) cropped by (top %d, left %d, bottom %d, right %d)"
                  % (extra[0], extra[1], top, left, max(bottom, 0), max(right, 0)))


def convt_case(out_dir, name, N, C, H, W, F_, kh, kw, stride, mode, pads=None, bias=True):
    seed = seed_for(name)
    if mode == "valid":
        pads = (0, 0, 0, 0)
    elif mode == "same":
        (top, bottom), (left, right) = same_pads(H, kh, stride[0]), same_pads(W, kw, stride[1])
        pads = (top, left, bottom, right)
    init = torch.nn.ConvTranspose2d(C, F_, (kh, kw), stride=stride, bias=bias)  # PyTorch's default initialisation
    x = f32(torch.randn(N, C, H, W)).requires_grad_()
    w = f32(init.weight.data)
    b = f32(init.bias.data + 0.1 * torch.randn(F_)) if bias else None  # small default biases: make them matter
    y, m, how = reference(x, w, b, stride, pads)
    OH = (H - 1) * stride[0] + kh - pads[0] - pads[2]
    OW = (W - 1) * stride[1] + kw - pads[1] - pads[3]
    assert tuple(y.shape) == (N, F_, OH, OW), name
    if mode == "same":
        assert (OH, OW) == (H * stride[0], W * stride[1]), name
    gy = f32(torch.randn(y.shape))
    (y * gy).sum().backward()
    # the other way, where both apply: padding 0 and output padding, then the crop
    extra = (max(-pads[2], 0), max(-pads[3], 0))
    if all(extra[a] < stride[a] for a in range(2)):
        xo = x.detach().clone().requires_grad_()
        mo = module(C, F_, kh, kw, stride, 0, extra, w, b)
        full = mo(xo)
        yo = full[:, :, pads[0]:full.shape[2] - max(pads[2], 0), pads[1]:full.shape[3] - max(pads[3], 0)]
        (yo * gy).sum().backward()
        assert torch.allclose(yo, y, rtol=1e-12, atol=1e-12), name
        assert torch.allclose(xo.grad, x.grad, rtol=1e-12, atol=1e-12), name
        assert torch.allclose(mo.weight.grad, m.weight.grad, rtol=1e-12, atol=1e-12), name

    wr = CaseWriter(out_dir, name, seed, "%s%s, stride (%d, %d), x [%d, %d, %d, %d], w [%d, %d, %d, %d]%s -> y [%d, %d, %d, %d]; "
                    "loss sum(y * gy)" % ("" if mode == "explicit" else mode.upper() + ": ", how, stride[0], stride[1], N, C, H, W,
                                          C, F_, kh, kw, "" if bias else ", no bias", N, F_, OH, OW))
    wr.put("cfg", torch.tensor([stride[0], stride[1], pads[0], pads[1], pads[2], pads[3], int(bias), MODES[mode], kh, kw],
                               dtype=torch.float64))
    wr.put("x", x)
    wr.put("w", w)
    if bias:
        wr.put("b", b)
    wr.put("gy", gy)
    wr.put("y", y)
    wr.put("dx", x.grad)
    wr.put("dw", m.weight.grad)
    if bias:
        wr.put("db", m.bias.grad)
    wr.close()


def random_cases(out_dir):
    """Seeded random configurations: batch 1 to 3, 1 to 3 channels in and out, H and W in
    [1, 7], kernels 1 to 5 and strides 1 to 4 per axis (a kernel smaller than the stride in
    about a third of the axes); a third each SAME, VALID and explicit padding (random crops, and
    output padding 1 to stride - 1 at the bottom or right), some without bias."""
    r = random.Random(19)
    for n in range(RANDOM_CASES):
        mode = ("same", "valid", "explicit")[n % 3]
        N, C, F_ = r.randint(1, 3), r.randint(1, 3), r.randint(1, 3)
        H, W = r.randint(1, 7), r.randint(1, 7)
        kh, kw, sh, sw = r.randint(1, 5), r.randint(1, 5), r.randint(1, 4), r.randint(1, 4)
        pads = None
        if mode == "explicit":
            while True:
                pads = (r.randint(0, kh - 1), r.randint(0, kw - 1), r.randint(1 - sh, kh - 1), r.randint(1 - sw, kw - 1))
                if (H - 1) * sh + kh - pads[0] - pads[2] > 0 and (W - 1) * sw + kw - pads[1] - pads[3] > 0:
                    break
        convt_case(out_dir, "convt_r%02d" % n, N, C, H, W, F_, kh, kw, (sh, sw), mode, pads=pads, bias=r.random() < 0.8)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "golden", "convt")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    # issue 19: SAME with a kernel smaller than the stride gave (H - 1) stride + k
    convt_case(out_dir, "convt_same_2x3_k1_s3", 2, 2, 2, 3, 3, 1, 1, (3, 3), "same")    # 6x9, was 4x7
    convt_case(out_dir, "convt_same_2x3_k2_s3", 2, 2, 2, 3, 3, 2, 2, (3, 3), "same")    # 6x9, was 5x8
    convt_case(out_dir, "convt_same_11x10_k1_s2", 1, 2, 11, 10, 2, 1, 1, (2, 2), "same")  # 22x20, was 21x19
    # SAME with an odd crop (kernel - stride = 3: top 1, bottom 2) and output padding on one axis
    convt_case(out_dir, "convt_same_k5_s2_k1_s3", 2, 3, 4, 5, 2, 5, 1, (2, 3), "same")
    # output padding at the op: PyTorch's padding 1, output_padding (1, 2)
    convt_case(out_dir, "convt_output_padding", 2, 3, 3, 4, 2, 3, 3, (2, 3), "explicit", pads=(1, 1, 0, -1))
    random_cases(out_dir)


if __name__ == "__main__":
    main()
