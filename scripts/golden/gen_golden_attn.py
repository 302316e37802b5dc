#!/usr/bin/python3
"""Writes the PyTorch golden vectors of deepc's Transformer operations, which
tests/test_golden_attn.c checks: GELU (exact and tanh), layer normalisation and scaled
dot-product attention with key-padding and causal masks.

Usage: /usr/bin/python3 scripts/golden/gen_golden_attn.py [OUT_DIR]   (default tests/golden).
Needs python3-torch (Debian's PyTorch 1.13, which has no F.scaled_dot_product_attention, so
attention is written out: softmax(q k^T scale + mask) v).

The file format, the per-case seeds (torch.manual_seed(crc32(case name))) and the float32
inputs with float64 references are those of gen_golden.py. Every case stores its inputs, an
upstream gradient gy, the output y and the gradients of sum(y * gy).
"""

import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import CaseWriter, f32, seed_for  # noqa: E402  (one file format for every case)


def gelu_case(out_dir, name, approximate):
    seed = seed_for(name)
    x = f32(3 * torch.randn(4, 9)).requires_grad_()
    gy = f32(torch.randn(4, 9))
    y = F.gelu(x, approximate=approximate)
    y.backward(gy)
    w = CaseWriter(out_dir, name, seed, "F.gelu(x [4, 9], approximate='%s'); loss sum(y * gy)" % approximate)
    for nm, t in (("x", x), ("gy", gy), ("y", y), ("dx", x.grad)):
        w.put(nm, t)
    w.close()


def layer_norm_case(out_dir, name, shape, affine, eps):
    seed = seed_for(name)
    D = shape[-1]
    x = f32(2 * torch.randn(*shape) + 0.5).requires_grad_()
    gamma = f32(1 + 0.5 * torch.randn(D)).requires_grad_() if affine else None
    beta = f32(0.5 * torch.randn(D)).requires_grad_() if affine else None
    gy = f32(torch.randn(*shape))
    y = F.layer_norm(x, (D,), gamma, beta, eps)
    y.backward(gy)
    w = CaseWriter(out_dir, name, seed, "F.layer_norm(x %s, (%d,), gamma, beta, eps=%g)%s; loss sum(y * gy)"
                   % (list(shape), D, eps, "" if affine else " without gamma and beta"))
    w.put("cfg", torch.tensor([float(affine), eps], dtype=torch.float64))
    w.put("x", x)
    if affine:
        w.put("gamma", gamma)
        w.put("beta", beta)
    w.put("gy", gy)
    w.put("y", y)
    w.put("dx", x.grad)
    if affine:
        w.put("dgamma", gamma.grad)
        w.put("dbeta", beta.grad)
    w.close()


def attention_ref(q, k, v, key_mask, causal, scale):
    """softmax(q k^T scale + mask) v; a query row with every key masked gives zeros."""
    B, H, Tq, d = q.shape
    Tk = k.shape[2]
    logits = torch.matmul(q, k.transpose(-1, -2)) * scale
    allowed = torch.ones(B, 1, Tq, Tk, dtype=torch.bool)
    if key_mask is not None:
        allowed = allowed & (key_mask != 0).view(B, 1, 1, Tk)
    if causal:
        i = torch.arange(Tq).view(Tq, 1)
        j = torch.arange(Tk).view(1, Tk)
        allowed = allowed & (j <= i + (Tk - Tq)).view(1, 1, Tq, Tk)
    allowed = allowed.expand(B, H, Tq, Tk)
    any_key = allowed.any(-1, keepdim=True)
    masked = torch.where(allowed, logits, torch.tensor(-math.inf, dtype=logits.dtype))
    masked = torch.where(any_key, masked, torch.zeros_like(masked))  # avoid NaN in rows with no key
    p = torch.softmax(masked, dim=-1)
    p = torch.where(any_key, p, torch.zeros_like(p))
    return torch.matmul(p, v)


def attention_case(out_dir, name, B, H, Tq, Tk, d, dv, key_mask=None, causal=False, scale=0.0):
    seed = seed_for(name)
    q = f32(torch.randn(B, H, Tq, d)).requires_grad_()
    k = f32(torch.randn(B, H, Tk, d)).requires_grad_()
    v = f32(torch.randn(B, H, Tk, dv)).requires_grad_()
    gy = f32(torch.randn(B, H, Tq, dv))
    km = torch.tensor(key_mask, dtype=torch.float64).view(B, Tk) if key_mask is not None else None
    s = scale if scale > 0 else 1.0 / math.sqrt(d)
    y = attention_ref(q, k, v, km, causal, s)
    y.backward(gy)
    w = CaseWriter(out_dir, name, seed, "softmax(q k^T * %g + mask) v, q [%d, %d, %d, %d], k [.., %d, %d], v [.., %d, %d], "
                   "key mask %s, causal %s; loss sum(y * gy)" % (s, B, H, Tq, d, Tk, d, Tk, dv,
                                                                 "yes" if km is not None else "no", causal))
    # cfg: causal, scale passed to deepc (0 = default 1/sqrt(d)), has key mask
    w.put("cfg", torch.tensor([float(causal), scale, float(km is not None)], dtype=torch.float64))
    for nm, t in (("q", q), ("k", k), ("v", v)):
        w.put(nm, t)
    if km is not None:
        w.put("key_mask", km)
    w.put("gy", gy)
    w.put("y", y)
    for nm, t in (("dq", q), ("dk", k), ("dv", v)):
        w.put(nm, t.grad)
    w.close()


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "golden")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    gelu_case(out_dir, "attn_gelu", "none")
    gelu_case(out_dir, "attn_gelu_tanh", "tanh")
    layer_norm_case(out_dir, "attn_layer_norm_2d", (5, 8), True, 1e-5)
    layer_norm_case(out_dir, "attn_layer_norm_3d", (2, 3, 16), True, 1e-5)
    layer_norm_case(out_dir, "attn_layer_norm_3d_plain", (2, 4, 6), False, 1e-3)
    attention_case(out_dir, "attn_sdpa", 2, 2, 5, 5, 4, 4)
    attention_case(out_dir, "attn_sdpa_key_mask", 2, 3, 4, 6, 5, 3,
                   key_mask=[1, 1, 0, 1, 1, 0,
                             1, 1, 1, 0, 0, 0])
    attention_case(out_dir, "attn_sdpa_padded_batch", 2, 2, 3, 4, 4, 4,
                   key_mask=[1, 1, 1, 0,
                             0, 0, 0, 0])
    attention_case(out_dir, "attn_sdpa_causal", 2, 2, 3, 6, 4, 5, causal=True)
    attention_case(out_dir, "attn_sdpa_causal_mask", 2, 2, 5, 5, 3, 3, causal=True,
                   key_mask=[0, 1, 1, 1, 1,
                             1, 1, 1, 0, 1])
    attention_case(out_dir, "attn_sdpa_scale", 1, 4, 7, 9, 6, 2, scale=0.3)
    attention_case(out_dir, "attn_sdpa_long", 1, 2, 70, 80, 8, 4, causal=True,
                   key_mask=[1] * 75 + [0] * 5, scale=0.25)


if __name__ == "__main__":
    main()
