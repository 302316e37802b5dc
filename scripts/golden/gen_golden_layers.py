#!/usr/bin/python3
"""Writes the randomised PyTorch golden vectors of single layers that tests/test_golden_layers.c
checks deepc against (issue 19, "Randomised tests against PyTorch").

Usage: /usr/bin/python3 scripts/golden/gen_golden_layers.py [OUT_DIR]
(default tests/golden/layers; `make golden` runs it). Needs python3-torch (PyTorch 1.13).

From one fixed seed it draws random configurations of Dense, Conv2D, MaxPooling2D,
AveragePooling2D, UpSampling2D, BatchNormalization (training and inference), LayerNormalization,
Embedding, SimpleRNN, LSTM, GRU and MultiHeadAttention (self-attention), with batch 1 and axes of
size 1 among them, and writes one file OUT_DIR/cNNN.txt per configuration, plus OUT_DIR/cases.txt
holding the count ("n"). The format is that of scripts/golden/gen_golden.py (read by
tests/golden_io.h): a '#' comment line describing the case, then named tensors:

    cfg    the layer kind and its constructor arguments (layout per kind, see KIND_* below)
    x      the input [N, ...] (token ids as whole numbers for Embedding)
    g      the upstream gradient, of the output's shape; the loss is sum(y * g)
    p_<n>  every parameter and state tensor in deepc's name n and layout, '.' written as '_'
    y      PyTorch's output
    dx     the input gradient (not for Embedding)
    d_<n>  the gradient of every trainable parameter n
    rm_after, rv_after   BatchNormalization in training: the updated running mean / variance

Inputs, weights and g are drawn in float32, so deepc reads exactly the same numbers; everything
PyTorch computes from them is in float64, so the goldens carry no float32 rounding of their own.
"""

import math
import os
import random
import sys

import torch
import torch.nn.functional as F

SEED = 1919
N_PER_KIND = {  # configurations per layer kind (at least 150 in all)
    "dense": 16, "conv": 24, "maxpool": 10, "avgpool": 10, "upsample": 8, "bn": 16, "ln": 10,
    "emb": 8, "rnn": 12, "lstm": 12, "gru": 12, "mha": 14,
}
KIND_ID = {k: i for i, k in enumerate(N_PER_KIND)}
# deepc's dc_activation values (include/deepc/kernels.h)
ACT = {"none": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "leaky_relu": 4, "elu": 5, "softmax": 6,
       "gelu": 8, "gelu_tanh": 9}
ACT_FN = {
    "none": lambda h: h, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
    "leaky_relu": lambda h: F.leaky_relu(h, 0.01), "elu": lambda h: F.elu(h, 1.0),
    "softmax": lambda h: torch.softmax(h, -1), "gelu": F.gelu,
    "gelu_tanh": lambda h: F.gelu(h, approximate="tanh"),
}


def rnd(gen, *shape, scale=1.0):
    """float32 values U(-scale, scale), returned as float64 (exactly representable)."""
    return ((torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1) * scale).double()


def f32(t):
    """Rounds to float32 values (kept in float64), so deepc reads exactly what PyTorch used."""
    return t.float().double()


def leaf(t):
    return t.clone().requires_grad_(True)


def same_pad(n, k, s):
    """Keras/TensorFlow SAME padding along one axis: (before, after), the odd one after."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def case_dense(r, gen):
    N, IN, U = r.choice([1, 2, 3, 5]), r.randint(1, 6), r.randint(1, 6)
    act = r.choice(list(ACT))
    x, W, b = rnd(gen, N, IN, scale=2), rnd(gen, U, IN), rnd(gen, U)
    params = {"weight": leaf(W), "bias": leaf(b)}
    xl = leaf(x)
    y = ACT_FN[act](F.linear(xl, params["weight"], params["bias"]))
    return f"Dense units={U} act={act} x={list(x.shape)}", [U, ACT[act], IN], xl, params, y, {}


def case_conv(r, gen):
    N, C, Fo = r.choice([1, 2, 3]), r.randint(1, 4), r.randint(1, 4)
    kh, kw = r.randint(1, 5), r.randint(1, 5)
    sh = r.randint(1, 3)
    sw = sh if r.random() < 0.6 else r.randint(1, 3)
    mode = r.choice(["valid", "same", "explicit"])
    act = r.choice(["none", "relu", "tanh", "sigmoid", "elu", "leaky_relu"])
    if mode == "explicit":
        pad = [r.randint(0, kh - 1), r.randint(0, kw - 1), r.randint(0, kh - 1), r.randint(0, kw - 1)]
        H, W = r.randint(max(1, kh - pad[0] - pad[2]), 7), r.randint(max(1, kw - pad[1] - pad[3]), 7)
    elif mode == "valid":
        pad = [0, 0, 0, 0]
        H, W = r.randint(kh, kh + 5), r.randint(kw, kw + 5)
    else:
        H, W = r.randint(1, 7), r.randint(1, 7)
        (pt, pb), (pl, pr) = same_pad(H, kh, sh), same_pad(W, kw, sw)
        pad = [pt, pl, pb, pr]
    x, Wt, b = rnd(gen, N, C, H, W, scale=2), rnd(gen, Fo, C, kh, kw, scale=0.5), rnd(gen, Fo)
    params = {"weight": leaf(Wt), "bias": leaf(b)}
    xl = leaf(x)
    xp = F.pad(xl, (pad[1], pad[3], pad[0], pad[2]))
    y = ACT_FN[act](F.conv2d(xp, params["weight"], params["bias"], stride=(sh, sw)))
    m = {"valid": 0, "same": 1, "explicit": 2}[mode]
    desc = f"Conv2D filters={Fo} kernel={kh}x{kw} strides={sh},{sw} padding={mode}{pad} act={act} x={list(x.shape)}"
    return desc, [Fo, kh, kw, sh, sw, m] + pad + [ACT[act]], xl, params, y, {}


def case_pool(r, gen, kind):
    N, C = r.choice([1, 2, 3]), r.randint(1, 4)
    kh, kw, s = r.randint(1, 3), r.randint(1, 3), r.randint(0, 3)  # stride 0: the window size
    sh, sw = (kh, kw) if s == 0 else (s, s)
    H, W = r.randint(kh, kh + 5), r.randint(kw, kw + 5)
    x = rnd(gen, N, C, H, W, scale=2)
    xl = leaf(x)
    fn = F.max_pool2d if kind == "maxpool" else F.avg_pool2d
    y = fn(xl, (kh, kw), stride=(sh, sw))
    return f"{kind} pool={kh}x{kw} stride={s} x={list(x.shape)}", [kh, kw, s], xl, {}, y, {}


def case_upsample(r, gen):
    N, C, H, W = r.choice([1, 2]), r.randint(1, 3), r.randint(1, 4), r.randint(1, 4)
    fh, fw = r.randint(1, 3), r.randint(1, 3)
    x = rnd(gen, N, C, H, W, scale=2)
    xl = leaf(x)
    y = xl.repeat_interleave(fh, dim=2).repeat_interleave(fw, dim=3)
    return f"UpSampling2D size={fh}x{fw} x={list(x.shape)}", [fh, fw], xl, {}, y, {}


def case_bn(r, gen):
    training = r.random() < 0.6
    four = r.random() < 0.6
    C = r.randint(1, 4)
    if four:
        N, H, W = r.choice([1, 2, 3]), r.randint(1, 4), r.randint(1, 4)
        if training and N * H * W < 2:
            W = 2  # PyTorch refuses batch statistics of one value per channel
        shape = [N, C, H, W]
    else:
        N = r.choice([2, 3, 5]) if training else r.choice([1, 2, 3])
        shape = [N, C]
    mom, eps = r.choice([0.1, 0.01, 0.5, 1.0]), r.choice([1e-3, 1e-5])
    # float32 momentum/eps: deepc reads them as floats
    mom, eps = float(torch.tensor(mom, dtype=torch.float32)), float(torch.tensor(eps, dtype=torch.float32))
    x = f32(rnd(gen, *shape, scale=2) + rnd(gen, 1).item())
    params = {"gamma": leaf(f32(rnd(gen, C) + 1.0)), "beta": leaf(rnd(gen, C)),
              "running_mean": rnd(gen, C), "running_var": f32(rnd(gen, C) * 0.5 + 1.0)}
    rm, rv = params["running_mean"].clone(), params["running_var"].clone()
    xl = leaf(x)
    y = F.batch_norm(xl, rm, rv, params["gamma"], params["beta"], training=training, momentum=mom, eps=eps)
    extra = {"rm_after": rm, "rv_after": rv} if training else {}
    desc = f"BatchNormalization training={int(training)} momentum={mom} eps={eps} x={shape}"
    return desc, [int(training), mom, eps], xl, params, y, extra


def case_ln(r, gen):
    N, T, D = r.choice([1, 2, 3]), r.randint(1, 4), r.randint(1, 6)
    shape = [N, T, D] if r.random() < 0.7 else [N, D]
    eps = float(torch.tensor(r.choice([1e-5, 1e-3]), dtype=torch.float32))
    x = rnd(gen, *shape, scale=2)
    params = {"weight": leaf(f32(rnd(gen, D) + 1.0)), "bias": leaf(rnd(gen, D))}
    xl = leaf(x)
    y = F.layer_norm(xl, (D,), params["weight"], params["bias"], eps)
    return f"LayerNormalization eps={eps} x={shape}", [eps], xl, params, y, {}


def case_emb(r, gen):
    N, T, V, D = r.choice([1, 2, 3]), r.randint(1, 6), r.randint(1, 8), r.randint(1, 5)
    ids = torch.randint(0, V, (N, T), generator=gen).double()  # repeats add up in the gradient
    params = {"weight": leaf(rnd(gen, V, D))}
    y = F.embedding(ids.long(), params["weight"])
    return f"Embedding vocabulary={V} dim={D} ids={[N, T]}", [V, D], ids, params, y, {}


def case_rec(r, gen, kind):
    N, T, Fi, H = r.choice([1, 1, 2, 3]), r.randint(1, 6), r.randint(1, 4), r.randint(1, 5)
    seq = r.random() < 0.5
    act = r.choice(["tanh", "relu"]) if kind == "rnn" else "tanh"
    G = {"rnn": 1, "lstm": 4, "gru": 3}[kind] * H
    a = 1 / math.sqrt(H)
    x = rnd(gen, N, T, Fi, scale=2)
    W_ih, W_hh, b_ih, b_hh = rnd(gen, G, Fi, scale=a), rnd(gen, G, H, scale=a), rnd(gen, G, scale=a), rnd(gen, G, scale=a)
    params = {"weight_ih": leaf(W_ih), "weight_hh": leaf(W_hh)}
    if kind == "gru":
        params["bias_ih"], params["bias_hh"] = leaf(b_ih), leaf(b_hh)
        bi, bh = params["bias_ih"], params["bias_hh"]
    else:  # one bias b = b_ih + b_hh; PyTorch gets b and zeros, which is the same sum
        params["bias"] = leaf(b_ih)
        bi, bh = params["bias"], torch.zeros(G, dtype=torch.float64)
    xl = leaf(x)
    h = torch.zeros(N, H, dtype=torch.float64)
    c = torch.zeros(N, H, dtype=torch.float64)
    outs = []
    for t in range(T):
        gi = xl[:, t] @ params["weight_ih"].t() + bi
        gh = h @ params["weight_hh"].t() + bh
        if kind == "rnn":
            h = ACT_FN[act](gi + gh)
        elif kind == "lstm":
            i, f, g, o = (gi + gh).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        else:
            ir, iz, inn = gi.chunk(3, 1)
            hr, hz, hn = gh.chunk(3, 1)
            rg, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
            n = torch.tanh(inn + rg * hn)
            h = (1 - z) * n + z * h
        outs.append(h)
    y = torch.stack(outs, 1) if seq else h
    cfg = [H, ACT[act], int(seq)]
    return f"{kind} units={H} act={act} return_sequences={int(seq)} x={[N, T, Fi]}", cfg, xl, params, y, {}


def case_mha(r, gen):
    N, T = r.choice([1, 1, 2, 3]), r.randint(1, 5)
    heads = r.randint(1, 3)
    D = heads * r.randint(1, 3)
    causal = r.random() < 0.3
    x = rnd(gen, N, T, D, scale=2)
    a = 1 / math.sqrt(D)
    params = {"in_proj_weight": leaf(rnd(gen, 3 * D, D, scale=a * 1.7)), "in_proj_bias": leaf(rnd(gen, 3 * D, scale=0.3)),
              "out_proj.weight": leaf(rnd(gen, D, D, scale=a)), "out_proj.bias": leaf(rnd(gen, D, scale=0.3))}
    xl = leaf(x)
    q, k, v = F.linear(xl, params["in_proj_weight"], params["in_proj_bias"]).chunk(3, -1)
    dh = D // heads

    def split(t):
        return t.reshape(N, T, heads, dh).transpose(1, 2)

    s = split(q) @ split(k).transpose(-1, -2) / math.sqrt(dh)
    if causal:
        s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    o = (torch.softmax(s, -1) @ split(v)).transpose(1, 2).reshape(N, T, D)
    y = F.linear(o, params["out_proj.weight"], params["out_proj.bias"])
    return f"MultiHeadAttention heads={heads} causal={int(causal)} x={[N, T, D]}", [heads, int(causal)], xl, params, y, {}


def fmt(name, t):
    t = t.detach().double().contiguous()
    shape = list(t.shape)
    vals = " ".join("%.9g" % v for v in t.reshape(-1).tolist())
    return f"{name} {len(shape)} {' '.join(map(str, shape))}\n{vals}\n"


def gname(n):
    return n.replace(".", "_")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/layers"
    os.makedirs(out, exist_ok=True)
    r = random.Random(SEED)
    gen = torch.Generator().manual_seed(SEED)
    builders = {
        "dense": case_dense, "conv": case_conv, "maxpool": lambda r, g: case_pool(r, g, "maxpool"),
        "avgpool": lambda r, g: case_pool(r, g, "avgpool"), "upsample": case_upsample, "bn": case_bn,
        "ln": case_ln, "emb": case_emb, "rnn": lambda r, g: case_rec(r, g, "rnn"),
        "lstm": lambda r, g: case_rec(r, g, "lstm"), "gru": lambda r, g: case_rec(r, g, "gru"), "mha": case_mha,
    }
    n = 0
    for kind, count in N_PER_KIND.items():
        for _ in range(count):
            desc, cfg, x, params, y, extra = builders[kind](r, gen)
            g = rnd(gen, *y.shape)
            if x.requires_grad or any(p.requires_grad for p in params.values()):
                (y * g).sum().backward()
            text = [f"# {desc}\n", fmt("cfg", torch.tensor([KIND_ID[kind]] + cfg, dtype=torch.float64)), fmt("x", x),
                    fmt("g", g)]
            text += [fmt("p_" + gname(k), p) for k, p in params.items()]
            text.append(fmt("y", y))
            if x.requires_grad:
                text.append(fmt("dx", x.grad))
            text += [fmt("d_" + gname(k), p.grad) for k, p in params.items() if p.requires_grad]
            text += [fmt(k, v) for k, v in extra.items()]
            with open(os.path.join(out, "c%03d.txt" % n), "w") as f:
                f.write("".join(text))
            n += 1
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write(f"# {n} cases c000..c{n - 1:03d} drawn by scripts/golden/gen_golden_layers.py (seed {SEED})\n")
        f.write(fmt("n", torch.tensor([float(n)])))
    print(f"wrote {n} cases to {out}")


if __name__ == "__main__":
    main()
