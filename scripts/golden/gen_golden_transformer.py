"""Golden vectors of deepc's Transformer layers against PyTorch 1.13.

    /usr/bin/python3 scripts/golden/gen_golden_transformer.py [OUT_DIR]   (default tests/golden/transformer)

For each case: <case>.safetensors holds the layer's parameters under "layer.<PyTorch name>" (a
deepc layer named "layer" has the same keys), the input "x", a key padding mask "mask" (1 = real
step) where the case has one, the upstream gradient "g", PyTorch's output "y", "grad.x" = dL/dx
and "grad.layer.<name>" for every parameter, with L = sum(y * g). Dropout is 0, so the layer is
deterministic; computed in float64, stored as float32.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from deepc_safetensors import save_file  # noqa: E402

torch.set_default_dtype(torch.float64)


def case(out, name, module, x, mask=None, causal=False, call=None, mem=None, mem_mask=None):
    x = x.clone().requires_grad_(True)
    module.zero_grad()  # a module may serve several cases
    if mem is not None:
        mem = mem.clone().requires_grad_(True)
        y = call(module, x, mem)
    else:
        y = call(module, x) if call else module(x)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    t = {f"layer.{k}": v.detach() for k, v in module.state_dict().items()}
    t["x"], t["g"], t["y"], t["grad.x"] = x.detach(), g, y.detach(), x.grad
    for k, p in module.named_parameters():
        t[f"grad.layer.{k}"] = p.grad
    if mask is not None:
        t["mask"] = mask.to(torch.float64)
    if mem is not None:
        t["mem"], t["grad.mem"] = mem.detach(), mem.grad
    if mem_mask is not None:
        t["mem_mask"] = mem_mask.to(torch.float64)
    save_file({k: v.numpy().astype(np.float32) for k, v in t.items()}, os.path.join(out, name + ".safetensors"),
              {"causal": str(int(causal))})
    print(f"{name}: y {tuple(y.shape)}")


def encoder(d, heads, ff, act, norm_first):
    m = torch.nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, activation=act, batch_first=True, norm_first=norm_first)
    with torch.no_grad():  # non-zero biases and norms, so every gradient is exercised
        for p in m.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
    return m


def decoder(d, heads, ff, act, norm_first):
    m = torch.nn.TransformerDecoderLayer(d, heads, ff, dropout=0.0, activation=act, batch_first=True, norm_first=norm_first)
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn_like(p))
    return m


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(11)
    N, T, D = 2, 5, 8
    x = torch.randn(N, T, D)
    pad = torch.ones(N, T)
    pad[1, 3:] = 0  # the second sequence has 3 real steps
    causal = torch.triu(torch.full((T, T), float("-inf")), 1)

    m = encoder(D, 2, 16, "relu", False)
    case(out, "encoder_post_relu", m, x)
    m = encoder(D, 2, 16, "gelu", True)
    case(out, "encoder_pre_gelu", m, x)
    m = encoder(D, 4, 12, "relu", False)
    case(out, "encoder_padding", m, x, mask=pad, call=lambda mod, v: mod(v, src_key_padding_mask=pad == 0))
    m = encoder(D, 2, 16, "gelu", False)
    case(out, "encoder_causal", m, x, causal=True, call=lambda mod, v: mod(v, src_mask=causal))

    mha = torch.nn.MultiheadAttention(D, 2, batch_first=True)
    with torch.no_grad():
        mha.in_proj_bias.add_(0.1 * torch.randn(3 * D))
        mha.out_proj.bias.add_(0.1 * torch.randn(D))
    case(out, "mha_self", mha, x, call=lambda mod, v: mod(v, v, v, need_weights=False)[0])
    case(out, "mha_self_padding_causal", mha, x, mask=pad, causal=True,
         call=lambda mod, v: mod(v, v, v, key_padding_mask=pad == 0, attn_mask=causal, need_weights=False)[0])

    # cross-attention and the decoder: the memory has its own length and padding
    S = 6
    mem = torch.randn(N, S, D)
    mpad = torch.ones(N, S)
    mpad[0, 4:] = 0
    case(out, "mha_cross", mha, x, mem=mem, mem_mask=mpad,
         call=lambda mod, v, k: mod(v, k, k, key_padding_mask=mpad == 0, need_weights=False)[0])
    # separate projections: a memory of another width (kdim = vdim = 6)
    mha_k = torch.nn.MultiheadAttention(D, 2, batch_first=True, kdim=6, vdim=6)
    with torch.no_grad():
        mha_k.in_proj_bias.add_(0.1 * torch.randn(3 * D))
        mha_k.out_proj.bias.add_(0.1 * torch.randn(D))
    mem6 = torch.randn(N, S, 6)
    case(out, "mha_cross_kdim", mha_k, x, mem=mem6, mem_mask=mpad,
         call=lambda mod, v, k: mod(v, k, k, key_padding_mask=mpad == 0, need_weights=False)[0])
    m = decoder(D, 2, 16, "relu", False)
    case(out, "decoder_post_relu", m, x, causal=True, mem=mem, mem_mask=mpad,
         call=lambda mod, v, k: mod(v, k, tgt_mask=causal, memory_key_padding_mask=mpad == 0))
    m = decoder(D, 4, 12, "gelu", True)
    case(out, "decoder_pre_gelu", m, x, mask=pad, causal=True, mem=mem,
         call=lambda mod, v, k: mod(v, k, tgt_mask=causal, tgt_key_padding_mask=pad == 0))

    ln = torch.nn.LayerNorm(D)
    with torch.no_grad():
        ln.weight.add_(0.1 * torch.randn(D))
        ln.bias.add_(0.1 * torch.randn(D))
    case(out, "layer_norm", ln, x)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/transformer")
