#!/usr/bin/python3
"""Writes the PyTorch golden vectors of deepc's Transformer operations, which
tests/test_golden_attn.c checks: GELU (exact and tanh), layer normalisation, scaled
dot-product attention with key-padding and causal masks, and the MultiHeadAttention layer as
causal cross-attention (attn_mha_cross_causal_*).

Usage: /usr/bin/python3 scripts/golden/gen_golden_attn.py [OUT_DIR]   (default tests/golden).
Needs python3-torch (Debian's PyTorch 1.13, which has no F.scaled_dot_product_attention, so
attention is written out: softmax(q k^T scale + mask) v).

The file format, the per-case seeds (torch.manual_seed(crc32(case name))) and the float32
inputs with float64 references are those of gen_golden.py. Every case stores its inputs, an
upstream gradient gy, the output y and the gradients of sum(y * gy). Adding a case leaves every
other case's file byte-identical (each case draws from its own seed).
"""

import math
import os
import random
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


def causal_allowed(Tq, Tk):
    """[Tq, Tk] bool: query i may see key j when j <= i + (Tk - Tq), deepc's causal rule (the
    last query sees every key; with Tq > Tk the first Tq - Tk queries see none)."""
    i = torch.arange(Tq).view(Tq, 1)
    j = torch.arange(Tk).view(1, Tk)
    return j <= i + (Tk - Tq)


def mha_ref(x, mem, p, heads, mem_mask, separate):
    """nn.MultiheadAttention's forward written out (batch first, causal rule above, key padding
    mem_mask [B, Tk]), through attention_ref, so a query row with no visible key gives a zero
    attention output (then out_proj's bias) where PyTorch gives NaN."""
    B, Tq, D = x.shape
    Tk = mem.shape[1]
    dh = D // heads
    if separate:
        wq, wk, wv = p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"]
    else:
        wq, wk, wv = p["in_proj_weight"].chunk(3)
    bq, bk, bv = p["in_proj_bias"].chunk(3)
    q = F.linear(x, wq, bq).view(B, Tq, heads, dh).transpose(1, 2)
    k = F.linear(mem, wk, bk).view(B, Tk, heads, dh).transpose(1, 2)
    v = F.linear(mem, wv, bv).view(B, Tk, heads, dh).transpose(1, 2)
    o = attention_ref(q, k, v, mem_mask, True, 1.0 / math.sqrt(dh))
    o = o.transpose(1, 2).reshape(B, Tq, D)
    return F.linear(o, p["out_proj_weight"], p["out_proj_bias"])


def mha_cross_causal_case(out_dir, name, B, Tq, Tk, D, heads, Dm=None, mem_mask=None):
    """MultiHeadAttention(heads, causal) wired to two inputs: queries x [B, Tq, D], memory mem
    [B, Tk, Dm] (Dm given: separate projections, nn.MultiheadAttention's kdim = vdim = Dm; else
    the packed in_proj_weight and Dm = D), key padding mem_mask [B, Tk] or None, and the causal
    rule j <= i + (Tk - Tq). The stored y and gradients are mha_ref's; the case asserts that
    nn.MultiheadAttention(attn_mask = the rule's complement, key_padding_mask) gives the same
    output on every query row that sees a key, and the same gradients when every row does."""
    seed = seed_for(name)
    separate = Dm is not None
    Dm = Dm if separate else D
    mha = torch.nn.MultiheadAttention(D, heads, batch_first=True, kdim=Dm, vdim=Dm)  # default init, float32
    names = (["q_proj_weight", "k_proj_weight", "v_proj_weight"] if separate else ["in_proj_weight"]) + \
        ["in_proj_bias", "out_proj_weight", "out_proj_bias"]
    src = dict(mha.named_parameters())
    if separate and mha._qkv_same_embed_dim:  # kdim = D: PyTorch packs q, k, v all the same
        raise ValueError("%s: separate projections need a memory width other than %d" % (name, D))
    p = {}
    for nm in names:
        t = src[nm.replace("out_proj_", "out_proj.")].data
        if t.dim() == 1:  # the biases start at 0: make them matter
            t = t + 0.1 * torch.randn(t.shape)
        p[nm] = f32(t).requires_grad_()
    x = f32(torch.randn(B, Tq, D)).requires_grad_()
    mem = f32(torch.randn(B, Tk, Dm)).requires_grad_()
    km = torch.tensor(mem_mask, dtype=torch.float64).view(B, Tk) if mem_mask is not None else None
    gy = f32(torch.randn(B, Tq, D))
    y = mha_ref(x, mem, p, heads, km, separate)
    y.backward(gy)

    # the same in nn.MultiheadAttention (float64, the same parameter values)
    mt = mha.double()
    with torch.no_grad():
        for nm in names:
            src[nm.replace("out_proj_", "out_proj.")].copy_(p[nm])
    xt = x.detach().clone().requires_grad_()
    memt = mem.detach().clone().requires_grad_()
    kpm = (km == 0) if km is not None else None
    yt = mt(xt, memt, memt, key_padding_mask=kpm, attn_mask=~causal_allowed(Tq, Tk), need_weights=False)[0]
    allowed = causal_allowed(Tq, Tk).view(1, Tq, Tk).expand(B, Tq, Tk)
    if km is not None:
        allowed = allowed & (km != 0).view(B, 1, Tk)
    seen = allowed.any(-1)  # [B, Tq]: query rows that see at least one key
    assert torch.allclose(yt[seen], y.detach()[seen], rtol=1e-12, atol=1e-12), name
    assert torch.isnan(yt[~seen]).all(), name
    if bool(seen.all()):
        (yt * gy).sum().backward()
        pairs = [(xt.grad, x.grad), (memt.grad, mem.grad)] + \
            [(src[nm.replace("out_proj_", "out_proj.")].grad, p[nm].grad) for nm in names]
        for a, b in pairs:
            assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), name

    w = CaseWriter(out_dir, name, seed, "nn.MultiheadAttention(%d, %d head%s, batch_first%s) as cross-attention, x [%d, %d, %d], "
                   "memory [%d, %d, %d], key padding %s, attn_mask: query i sees key j <= i + (Tk - Tq)%s; loss sum(y * gy)"
                   % (D, heads, "" if heads == 1 else "s", ", kdim = vdim = %d" % Dm if separate else "", B, Tq, D, B, Tk, Dm,
                      "yes" if km is not None else "no",
                      "" if bool(seen.all()) else "; rows that see no key: attention output 0"))
    # cfg: heads, separate projections, has memory mask
    w.put("cfg", torch.tensor([heads, float(separate), float(km is not None)], dtype=torch.float64))
    w.put("x", x)
    w.put("mem", mem)
    if km is not None:
        w.put("mem_mask", km)
    for nm in names:
        w.put(nm, p[nm])
    w.put("gy", gy)
    w.put("y", y)
    w.put("dx", x.grad)
    w.put("dmem", mem.grad)
    for nm in names:
        w.put("d_" + nm, p[nm].grad)
    w.close()


MHA_RANDOM_CASES = 8  # attn_mha_cross_causal_r0 .. r7; tests/test_golden_attn.c reads as many


def mha_random_cases(out_dir):
    """Seeded random configurations: batch 1 to 3, 1 to 4 heads of width 1 to 4, Tq and Tk in
    [1, 7] (Tq != Tk), packed or separate projections, with or without memory padding."""
    r = random.Random(1919)
    for n in range(MHA_RANDOM_CASES):
        B, heads, dh = r.randint(1, 3), r.randint(1, 4), r.randint(1, 4)
        Tq = r.randint(1, 7)
        Tk = r.choice([t for t in range(1, 8) if t != Tq])
        Dm = r.randint(1, 9) if r.random() < 0.5 else None
        if Dm == heads * dh:
            Dm += 1  # a memory as wide as the queries would make PyTorch pack the projections
        mask = None
        if r.random() < 0.6:
            mask = [r.random() < 0.7 for _ in range(B * Tk)]
        mha_cross_causal_case(out_dir, "attn_mha_cross_causal_r%d" % n, B, Tq, Tk, heads * dh, heads, Dm=Dm, mem_mask=mask)


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
    # MultiHeadAttention as causal cross-attention (Tq != Tk)
    mha_cross_causal_case(out_dir, "attn_mha_cross_causal", 2, 3, 5, 8, 2)
    mha_cross_causal_case(out_dir, "attn_mha_cross_causal_pad", 2, 4, 6, 8, 2,
                          mem_mask=[1, 1, 1, 1, 0, 0,
                                    0, 0, 0, 1, 1, 1])  # batch 1, query 0 sees only padding
    mha_cross_causal_case(out_dir, "attn_mha_cross_causal_long_q", 2, 5, 3, 6, 3)  # queries 0, 1 see no key
    mha_cross_causal_case(out_dir, "attn_mha_cross_causal_sep", 2, 3, 7, 8, 2, Dm=6,
                          mem_mask=[1, 1, 1, 1, 1, 0, 0,
                                    1, 0, 1, 1, 1, 1, 1])
    mha_cross_causal_case(out_dir, "attn_mha_cross_causal_sep_long_q", 1, 6, 4, 12, 4, Dm=5,
                          mem_mask=[1, 1, 0, 1])
    mha_random_cases(out_dir)


if __name__ == "__main__":
    main()
