#!/usr/bin/python3
"""Writes the PyTorch golden vectors of the sequence layers that tests/test_layers21.c checks deepc
against: Conv1D, MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, Permute, Masking (alone and
in front of a recurrent layer), TimeDistributed (around Dense, Conv2D and Conv1D) and
Bidirectional (around SimpleRNN, LSTM and GRU, every merge mode, with and without
return_sequences and variable lengths).

Usage: /usr/bin/python3 scripts/golden/gen_golden_layers21.py [OUT_DIR]
(default tests/golden/layers21; `make golden` runs it). Needs python3-torch (PyTorch 1.13).

From one fixed seed it draws random configurations and writes one file OUT_DIR/cNNN.txt per
configuration, plus OUT_DIR/cases.txt holding the count ("n"), in the format of
scripts/golden/gen_golden.py (read by tests/golden_io.h):

    cfg      the case kind and its options (layout per kind: see the case_* functions)
    x        the input [N, T, ...]
    lengths  (when the case has a mask) the real steps of each sample, at the front
    g        the upstream gradient, of the output's shape; the loss is sum(y * g)
    p_<n>    every parameter of the layer under test in deepc's name n and layout, '.' as '_'
    y, dx    PyTorch's output and input gradient
    d_<n>    the gradient of every parameter n

PyTorch is [N, C, T] for convolution and pooling: the generator transposes deepc's [N, T, C].
Conv1D's Keras "same" and "causal" paddings are F.pad before F.conv1d. Bidirectional runs
torch.nn.RNN / LSTM / GRU(bidirectional=True, batch_first=True) with deepc's weights set into its
state_dict, on pack_padded_sequence(lengths) when the case has lengths; deepc's Masking cases
compare with the packed final state h_n.

It also writes bilstm_state.safetensors (the state_dict of a module holding a bidirectional
nn.LSTM "rnn" with every bias non-zero, PyTorch's own names) and bilstm_io.safetensors (its input
and PyTorch's output), which the test loads by PyTorch's names.

Inputs, weights and g are drawn in float32, so deepc reads exactly the same numbers; everything
PyTorch computes from them is in float64.
"""

import math
import os
import random
import sys

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from deepc_safetensors import save_file  # noqa: E402

SEED = 2121
N_PER_KIND = {"conv1d": 40, "maxpool1d": 12, "avgpool1d": 12, "gmaxpool1d": 8, "permute": 6, "masking": 6,
              "masked_rec": 12, "td": 15, "bidi": 36}
KIND_ID = {k: i for i, k in enumerate(N_PER_KIND)}
ACT = {"none": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "elu": 5}
ACT_FN = {"none": lambda h: h, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu, "elu": F.elu}
PAD = {"valid": 0, "same": 1, "causal": 2}
REC = ["rnn", "lstm", "gru"]
MERGE = ["concat", "sum", "mul", "ave"]


def rnd(gen, *shape, scale=1.0):
    """float32 values U(-scale, scale), returned as float64 (exactly representable)."""
    return ((torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1) * scale).double()


def leaf(t):
    return t.clone().requires_grad_(True)


def same_pad(n, span, s):
    """Keras/TensorFlow SAME padding along one axis: (before, after), the odd one after."""
    out = -(-n // s)
    total = max((out - 1) * s + span - n, 0)
    return total // 2, total - total // 2


def conv1d_torch(x, w, b, k, s, d, mode):
    """deepc's Conv1D on x [N, T, C] in PyTorch terms: [N, T', F]."""
    T, span = x.shape[1], (k - 1) * d + 1
    pl, pr = (0, 0) if mode == "valid" else (span - 1, 0) if mode == "causal" else same_pad(T, span, s)
    xt = F.pad(x.transpose(1, 2), (pl, pr))
    return F.conv1d(xt, w, b, stride=s, dilation=d).transpose(1, 2)


def case_conv1d(r, gen):
    N, C, Fo = r.choice([1, 2, 3]), r.randint(1, 4), r.randint(1, 4)
    k, s, d = r.randint(1, 5), r.randint(1, 3), r.randint(1, 3)
    mode = r.choice(list(PAD))
    span = (k - 1) * d + 1
    T = r.randint(span if mode == "valid" else 1, span + 8)
    act = r.choice(list(ACT))
    bias = r.random() < 0.8
    x, W = rnd(gen, N, T, C, scale=2), rnd(gen, Fo, C, k, scale=0.6)
    params = {"weight": leaf(W)}
    if bias:
        params["bias"] = leaf(rnd(gen, Fo))
    xl = leaf(x)
    y = ACT_FN[act](conv1d_torch(xl, params["weight"], params.get("bias"), k, s, d, mode))
    desc = f"Conv1D filters={Fo} kernel={k} strides={s} dilation={d} padding={mode} act={act} bias={int(bias)} x={[N, T, C]}"
    return desc, [Fo, k, s, d, PAD[mode], ACT[act], int(bias)], xl, params, y, {}


def pool1d_torch(x, mx, p, s, mode):
    """Keras's pooling over [N, T, C]: padded steps never count (max ignores them, the mean
    divides by the steps inside)."""
    T = x.shape[1]
    pl, pr = (0, 0) if mode == "valid" else same_pad(T, p, s)
    To = (T + pl + pr - p) // s + 1
    outs = []
    for t in range(To):
        lo, hi = max(t * s - pl, 0), min(t * s - pl + p, T)
        win = x[:, lo:hi]
        outs.append(win.max(1).values if mx else win.mean(1))
    return torch.stack(outs, 1)


def case_pool1d(r, gen, kind):
    N, C = r.choice([1, 2, 3]), r.randint(1, 4)
    p, s0 = r.randint(1, 4), r.randint(0, 3)
    s = s0 or p
    mode = r.choice(["valid", "same"])
    T = r.randint(p if mode == "valid" else 1, p + 7)
    x = rnd(gen, N, T, C, scale=2)
    xl = leaf(x)
    if mode == "valid":  # PyTorch's own pooling (no padding)
        fn = F.max_pool1d if kind == "maxpool1d" else F.avg_pool1d
        y = fn(xl.transpose(1, 2), p, stride=s).transpose(1, 2)
    else:
        y = pool1d_torch(xl, kind == "maxpool1d", p, s, mode)
    return f"{kind} pool={p} strides={s0} padding={mode} x={[N, T, C]}", [p, s0, PAD[mode]], xl, {}, y, {}


def lengths_for(r, N, T):
    """Real steps per sample, at least one, the longest sometimes T (pack_padded_sequence's needs)."""
    return [r.randint(1, T) for _ in range(N)]


def case_gmaxpool1d(r, gen):
    N, T, C = r.choice([1, 2, 3]), r.randint(1, 6), r.randint(1, 4)
    masked = r.random() < 0.5
    x = rnd(gen, N, T, C, scale=2)
    xl = leaf(x)
    extra = {}
    if masked:
        L = lengths_for(r, N, T)
        y = torch.stack([xl[i, :L[i]].max(0).values for i in range(N)])
        extra["lengths"] = torch.tensor(L, dtype=torch.float64)
    else:
        y = xl.max(1).values
    return f"GlobalMaxPooling1D masked={int(masked)} x={[N, T, C]}", [int(masked)], xl, {}, y, extra


def case_permute(r, gen):
    rank = r.randint(2, 4)
    shape = [r.choice([1, 2])] + [r.randint(1, 4) for _ in range(rank)]
    dims = list(range(1, rank + 1))
    r.shuffle(dims)
    x = rnd(gen, *shape, scale=2)
    xl = leaf(x)
    y = xl.permute(0, *dims)
    return f"Permute dims={dims} x={shape}", dims, xl, {}, y, {}


def masked_input(r, gen, N, T, Fe, value):
    """x [N, T, Fe] with each sample's steps after its length set to value; the lengths."""
    L = lengths_for(r, N, T)
    x = rnd(gen, N, T, Fe, scale=2)
    for i in range(N):
        x[i, L[i]:] = value
    return x, L


def case_masking(r, gen):
    N, T, Fe = r.choice([1, 2, 3]), r.randint(1, 6), r.randint(1, 4)
    value = r.choice([0.0, -1.0, 2.5])
    x, L = masked_input(r, gen, N, T, Fe, value)
    xl = leaf(x)
    keep = (xl != value).any(-1, keepdim=True).double()
    y = xl * keep
    return f"Masking mask_value={value} x={[N, T, Fe]} lengths={L}", [value], xl, {}, y, {}


def rec_layer(gen, kind, Fi, H, act, bidirectional):
    """A torch.nn.RNN / LSTM / GRU (batch first, float64) with weights drawn in float32, and
    deepc's parameters as the module's own tensors: {"weight_ih": weight_ih_l0, ...}, prefixed
    "forward." / "backward." (weight_ih_l0_reverse, ...) when bidirectional. deepc's single bias
    of SimpleRNN and LSTM is bias_ih, bias_hh being 0 (the same sum)."""
    if kind == "rnn":
        mod = torch.nn.RNN(Fi, H, batch_first=True, nonlinearity=act, bidirectional=bidirectional)
    else:
        mod = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](Fi, H, batch_first=True, bidirectional=bidirectional)
    mod = mod.double()
    a = 1 / math.sqrt(H)
    params = {}
    for sfx, prefix in [("", "forward." if bidirectional else "")] + ([("_reverse", "backward.")] if bidirectional else []):
        for name in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
            p = getattr(mod, name + "_l0" + sfx)
            with torch.no_grad():
                p.copy_(rnd(gen, *p.shape, scale=a))
                if kind != "gru" and name == "bias_hh":
                    p.zero_()
            if kind != "gru" and name.startswith("bias"):
                if name == "bias_ih":
                    params[prefix + "bias"] = p
            else:
                params[prefix + name] = p
    return mod, params


def run_rec(mod, x, L):
    """The module's output [N, T, dirs H] (zeros at padded steps) and final states h_n."""
    inp = pack_padded_sequence(x, torch.tensor(L), batch_first=True, enforce_sorted=False) if L else x
    out, h = mod(inp)
    if L:
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, (h[0] if isinstance(h, tuple) else h)


def case_masked_rec(r, gen):
    N, T, Fi, H = r.choice([1, 2, 3]), r.randint(1, 6), r.randint(1, 4), r.randint(1, 5)
    kind = r.choice(REC)
    act = r.choice(["tanh", "relu"]) if kind == "rnn" else "tanh"
    value = r.choice([0.0, -1.0])
    x, L = masked_input(r, gen, N, T, Fi, value)
    mod, params = rec_layer(gen, kind, Fi, H, act, False)
    xl = leaf(x)
    _, h = run_rec(mod, xl, L)
    desc = f"Masking({value}) + {kind} units={H} act={act} x={[N, T, Fi]} lengths={L}"
    return desc, [value, REC.index(kind), H, ACT[act]], xl, params, h[0], {}


def case_td(r, gen):
    inner = r.choice(["dense", "conv2d", "conv1d"])
    N, T = r.choice([1, 2, 3]), r.randint(1, 4)
    if inner == "dense":
        extra_axis = r.random() < 0.4
        Fi, U = r.randint(1, 5), r.randint(1, 5)
        act = r.choice(list(ACT))
        shape = [N, T] + ([r.randint(1, 3)] if extra_axis else []) + [Fi]
        x = rnd(gen, *shape, scale=2)
        params = {"weight": leaf(rnd(gen, U, Fi)), "bias": leaf(rnd(gen, U))}
        xl = leaf(x)
        y = ACT_FN[act](F.linear(xl, params["weight"], params["bias"]))
        return f"TimeDistributed(Dense units={U} act={act}) x={shape}", [0, U, ACT[act]], xl, params, y, {}
    if inner == "conv2d":
        C, Fo, k, s = r.randint(1, 3), r.randint(1, 3), r.randint(1, 3), r.randint(1, 2)
        mode = r.choice(["valid", "same"])
        H, W = r.randint(k, k + 3), r.randint(k, k + 3)
        act = r.choice(list(ACT))
        x = rnd(gen, N, T, C, H, W, scale=2)
        params = {"weight": leaf(rnd(gen, Fo, C, k, k, scale=0.5)), "bias": leaf(rnd(gen, Fo))}
        xl = leaf(x)
        (pt, pb), (pl, pr) = (same_pad(H, k, s), same_pad(W, k, s)) if mode == "same" else ((0, 0), (0, 0))
        xf = F.pad(xl.reshape(N * T, C, H, W), (pl, pr, pt, pb))
        yf = ACT_FN[act](F.conv2d(xf, params["weight"], params["bias"], stride=s))
        y = yf.reshape(N, T, *yf.shape[1:])
        desc = f"TimeDistributed(Conv2D filters={Fo} kernel={k} stride={s} padding={mode} act={act}) x={[N, T, C, H, W]}"
        return desc, [1, Fo, k, s, PAD[mode], ACT[act]], xl, params, y, {}
    C, Fo, k, s, d = r.randint(1, 3), r.randint(1, 3), r.randint(1, 3), r.randint(1, 2), r.randint(1, 2)
    mode = r.choice(list(PAD))
    span = (k - 1) * d + 1
    T2 = r.randint(span, span + 4)
    act = r.choice(list(ACT))
    x = rnd(gen, N, T, T2, C, scale=2)
    params = {"weight": leaf(rnd(gen, Fo, C, k, scale=0.6)), "bias": leaf(rnd(gen, Fo))}
    xl = leaf(x)
    yf = ACT_FN[act](conv1d_torch(xl.reshape(N * T, T2, C), params["weight"], params["bias"], k, s, d, mode))
    y = yf.reshape(N, T, *yf.shape[1:])
    desc = f"TimeDistributed(Conv1D filters={Fo} kernel={k} strides={s} dilation={d} padding={mode} act={act}) x={[N, T, T2, C]}"
    return desc, [2, Fo, k, s, d, PAD[mode], ACT[act]], xl, params, y, {}


def case_bidi(r, gen, i):
    kind = REC[i % 3]  # each kind in turn, with every merge mode among its cases
    merge = MERGE[(i // 3) % 4]
    N, T, Fi, H = r.choice([1, 2, 3, 4]), r.randint(1, 6), r.randint(1, 4), r.randint(1, 5)
    seq = r.random() < 0.5
    masked = (i // 12) % 2 == 1 or r.random() < 0.3
    act = r.choice(["tanh", "relu"]) if kind == "rnn" else "tanh"
    x = rnd(gen, N, T, Fi, scale=2)
    L = lengths_for(r, N, T) if masked else None
    mod, params = rec_layer(gen, kind, Fi, H, act, True)
    xl = leaf(x)
    out, h = run_rec(mod, xl, L)
    if seq:
        yf, yb = out[..., :H], out[..., H:]
    else:  # Keras: the forward's last state and the backward's state after the whole sequence
        yf, yb = h[0], h[1]
    y = {"concat": lambda: torch.cat([yf, yb], -1), "sum": lambda: yf + yb, "mul": lambda: yf * yb,
         "ave": lambda: (yf + yb) / 2}[merge]()
    extra = {"lengths": torch.tensor(L, dtype=torch.float64)} if masked else {}
    desc = f"Bidirectional({kind} units={H} act={act} return_sequences={int(seq)}) merge={merge} x={[N, T, Fi]} lengths={L}"
    return desc, [REC.index(kind), H, ACT[act], int(seq), MERGE.index(merge)], xl, params, y, extra


def fmt(name, t):
    t = t.detach().double().contiguous()
    shape = list(t.shape)
    vals = " ".join("%.9g" % v for v in t.reshape(-1).tolist())
    return f"{name} {len(shape)} {' '.join(map(str, shape))}\n{vals}\n"


def gname(n):
    return n.replace(".", "_")


def write_state(out):
    """A bidirectional nn.LSTM's state_dict under PyTorch's names, every bias non-zero."""
    torch.manual_seed(21)
    net = torch.nn.Module()
    net.rnn = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for p in net.parameters():
            p.uniform_(-0.5, 0.5)
    x = torch.randn(2, 5, 3)
    y = net.rnn(x)[0]
    save_file({k: v.numpy() for k, v in net.state_dict().items()}, os.path.join(out, "bilstm_state.safetensors"), {"format": "pt"})
    save_file({"x": x.numpy(), "y": y.detach().contiguous().numpy()}, os.path.join(out, "bilstm_io.safetensors"))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/layers21"
    os.makedirs(out, exist_ok=True)
    r = random.Random(SEED)
    gen = torch.Generator().manual_seed(SEED)
    builders = {
        "conv1d": case_conv1d, "maxpool1d": lambda r, g, i: case_pool1d(r, g, "maxpool1d"),
        "avgpool1d": lambda r, g, i: case_pool1d(r, g, "avgpool1d"), "gmaxpool1d": case_gmaxpool1d,
        "permute": case_permute, "masking": case_masking, "masked_rec": case_masked_rec, "td": case_td, "bidi": case_bidi,
    }
    n = 0
    for kind, count in N_PER_KIND.items():
        for i in range(count):
            b = builders[kind]
            desc, cfg, x, params, y, extra = b(r, gen, i) if kind in ("bidi", "maxpool1d", "avgpool1d") else b(r, gen)
            g = rnd(gen, *y.shape)
            (y * g).sum().backward()
            text = [f"# {desc}\n", fmt("cfg", torch.tensor([KIND_ID[kind]] + cfg, dtype=torch.float64)), fmt("x", x)]
            text += [fmt(k, v) for k, v in extra.items()]
            text.append(fmt("g", g))
            text += [fmt("p_" + gname(k), p) for k, p in params.items()]
            text += [fmt("y", y), fmt("dx", x.grad)]
            text += [fmt("d_" + gname(k), p.grad) for k, p in params.items()]
            with open(os.path.join(out, "c%03d.txt" % n), "w") as f:
                f.write("".join(text))
            n += 1
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write(f"# {n} cases c000..c{n - 1:03d} drawn by scripts/golden/gen_golden_layers21.py (seed {SEED})\n")
        f.write(fmt("n", torch.tensor([float(n)])))
    write_state(out)
    print(f"wrote {n} cases and the bidirectional LSTM state_dict to {out}")


if __name__ == "__main__":
    main()
