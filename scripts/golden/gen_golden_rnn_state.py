#!/usr/bin/python3
"""Writes the randomised PyTorch golden vectors of the recurrent layers' states that
tests/test_rnn_state.c checks deepc against: the final states out (Keras's return_state) and
initial states in (Keras's initial_state), with variable lengths, and their gradients.

Usage: /usr/bin/python3 scripts/golden/gen_golden_rnn_state.py [OUT_DIR]
(default tests/golden/rnn_state; `make golden` runs it). Needs python3-torch (PyTorch 1.13).

From one fixed seed it draws random configurations of torch.nn.RNN (tanh or relu), LSTM and GRU
(batch_first) and writes one file OUT_DIR/sNNN.txt per configuration, plus OUT_DIR/cases.txt
holding the count ("n"). The format is that of scripts/golden/gen_golden.py (read by
tests/golden_io.h): '#' comment lines describing the case, then named tensors.

Two kinds of case:

"single": one layer on x [N, T, F], given initial states or not, its sequences whole or of
variable lengths, padded at the end (PyTorch runs pack_padded_sequence) or at the front (PyTorch
runs each sequence's real steps on their own). deepc's masked run keeps the state on a padded
step, so its y repeats the final state after an end-padded sequence ends and the initial state
(zeros without one) before a front-padded one starts: y here is that sequence, made from
PyTorch's outputs, and h_n, c_n are the states after each sequence's last real step, as PyTorch
returns them. The graph deepc builds is
    x [, h0 [, c0]] -> layer(return_state, return_sequences) -> [o, h_n (, c_n)]
    out = concat(flatten(o), h_n (, c_n))      (o = y with return_sequences, else h_n)
and the loss sum(out * g).

"chain": the encoder-decoder pattern. An encoder layer on x (variable lengths as above) gives
its final states to a decoder layer of the same kind as its initial states; the decoder runs on
x2 [N, T2, F2] (whole sequences) and returns its sequences y2; out = y2, loss sum(out * g).
The gradients reach the encoder through the states.

Tensors:
    cfg        [chain, cell, act, N, T, F, H, return_sequences, has_init, padding, T2, F2]
               (chain 0 single, 1 chain; cell 0 SimpleRNN, 1 LSTM, 2 GRU; act 0 tanh, 1 relu;
               padding 0 none, 1 end, 2 front; T2, F2 0 for a single case)
    x, x2      inputs; h0, c0 the initial states (with has_init)
    lengths, mask   the real steps per sequence, and the [N, T] mask (padded cases)
    p_<name>   the parameters in deepc's names and layouts (chain: p_enc_..., p_dec_...);
               LSTM and SimpleRNN keep one bias b = b_ih + b_hh: PyTorch gets b as b_ih and
               zeros as b_hh, which is the same sum
    g          the upstream gradient of out
    y, h_n, c_n    the layer's sequences (deepc's convention above) and final states (single)
    out        what the loss multiplies by g
    dx, dx2, dh0, dc0, d_<name>   the gradients of sum(out * g)

Inputs, weights and g are drawn in float32, so deepc reads exactly the same numbers; PyTorch
computes everything from them in float64, so the goldens carry no float32 rounding of their own.
"""

import math
import os
import random
import sys

import torch

SEED = 2121
N_SINGLE = {"rnn": 14, "lstm": 16, "gru": 14}
N_CHAIN = {"rnn": 4, "lstm": 6, "gru": 4}
CELL_ID = {"rnn": 0, "lstm": 1, "gru": 2}
PAD_ID = {None: 0, "end": 1, "front": 2}


def rnd(gen, *shape, scale=1.0):
    """float32 values U(-scale, scale), returned as float64 (exactly representable)."""
    return ((torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1) * scale).double()


def leaf(t):
    return t.clone().requires_grad_(True)


def make_module(r, gen, kind, act, F, H):
    """A float64 PyTorch module with float32-drawn weights, and its parameters in deepc's names."""
    if kind == "lstm":
        mod = torch.nn.LSTM(F, H, batch_first=True)
    elif kind == "gru":
        mod = torch.nn.GRU(F, H, batch_first=True)
    else:
        mod = torch.nn.RNN(F, H, nonlinearity=act, batch_first=True)
    mod.double()
    G = {"rnn": 1, "lstm": 4, "gru": 3}[kind] * H
    a = 1 / math.sqrt(H)
    with torch.no_grad():
        mod.weight_ih_l0.copy_(rnd(gen, G, F, scale=a))
        mod.weight_hh_l0.copy_(rnd(gen, G, H, scale=a))
        mod.bias_ih_l0.copy_(rnd(gen, G, scale=a))
        mod.bias_hh_l0.copy_(rnd(gen, G, scale=a) if kind == "gru" else torch.zeros(G, dtype=torch.float64))
    params = {"weight_ih": mod.weight_ih_l0, "weight_hh": mod.weight_hh_l0}
    if kind == "gru":
        params["bias_ih"], params["bias_hh"] = mod.bias_ih_l0, mod.bias_hh_l0
    else:
        params["bias"] = mod.bias_ih_l0  # its gradient is the sum's (bias_hh's is the same)
    return mod, params


def run(kind, mod, x, h0, c0, padding, lengths):
    """The layer over x as deepc runs it: y [N, T, H] (padded steps repeat the state), h_n, c_n."""
    N, T, _ = x.shape
    H = mod.hidden_size
    lstm = kind == "lstm"

    def hx(rows):
        if h0 is None:
            return None
        h = h0[rows].unsqueeze(0)
        return (h, c0[rows].unsqueeze(0)) if lstm else h

    def states(hn):
        return (hn[0][0], hn[1][0]) if lstm else (hn[0], None)

    if padding is None:
        y, hn = mod(x, hx(slice(None)))
        h_n, c_n = states(hn)
    elif padding == "end":
        mask = torch.arange(T).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        outp, hn = mod(packed, hx(slice(None)))
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(outp, batch_first=True, total_length=T)
        h_n, c_n = states(hn)
        y = torch.where(mask.unsqueeze(2), out, h_n.unsqueeze(1).expand(N, T, H))
    else:
        rows, hs, cs = [], [], []
        for n in range(N):
            start = T - lengths[n]
            out, hn = mod(x[n:n + 1, start:], hx(slice(n, n + 1)))
            before = (h0[n] if h0 is not None else torch.zeros(H, dtype=torch.float64)).expand(start, H)
            rows.append(torch.cat([before, out[0]], 0))
            h, c = states(hn)
            hs.append(h)
            cs.append(c)
        y = torch.stack(rows)
        h_n = torch.cat(hs, 0)
        c_n = torch.cat(cs, 0) if lstm else None
    return y, h_n, c_n


def draw_lengths(r, N, T, padding):
    if padding is None:
        return None
    return [r.randint(1, T) for _ in range(N)]


def mask_of(N, T, padding, lengths):
    ar = torch.arange(T).unsqueeze(0)
    ln = torch.tensor(lengths).unsqueeze(1)
    m = ar < ln if padding == "end" else ar >= T - ln
    return m.to(torch.float64)


def fmt(name, t):
    t = t.detach().double().contiguous()
    shape = list(t.shape)
    vals = " ".join("%.9g" % v for v in t.reshape(-1).tolist())
    return f"{name} {len(shape)} {' '.join(map(str, shape))}\n{vals}\n"


def case(r, gen, kind, chain):
    N, T, F, H = r.choice([1, 2, 3, 4]), r.randint(1, 6), r.randint(1, 5), r.randint(1, 5)
    act = r.choice(["tanh", "relu"]) if kind == "rnn" else "tanh"
    seq = r.random() < 0.5
    has_init = r.random() < 0.6
    padding = r.choice([None, "end", "end", "front"])
    lengths = draw_lengths(r, N, T, padding)
    T2, F2 = (r.randint(1, 5), r.randint(1, 4)) if chain else (0, 0)
    lstm = kind == "lstm"
    x = leaf(rnd(gen, N, T, F, scale=2))
    h0 = leaf(rnd(gen, N, H)) if has_init else None
    c0 = leaf(rnd(gen, N, H, scale=2)) if has_init and lstm else None
    mod, params = make_module(r, gen, kind, act, F, H)
    prefix = "p_enc_" if chain else "p_"
    named = {prefix + k: p for k, p in params.items()}
    y, h_n, c_n = run(kind, mod, x, h0, c0, padding, lengths)
    extra = []
    if chain:
        x2 = leaf(rnd(gen, N, T2, F2, scale=2))
        dec, dparams = make_module(r, gen, kind, act, F2, H)
        named.update({"p_dec_" + k: p for k, p in dparams.items()})
        out, _, _ = run(kind, dec, x2, h_n, c_n, None, None)
        extra.append(("x2", x2))
    else:
        o = y if seq else h_n
        parts = [o.reshape(N, -1), h_n] + ([c_n] if lstm else [])
        out = torch.cat(parts, 1)
    g = rnd(gen, *out.shape)
    (out * g).sum().backward()

    desc = "%s %s(%d, %d%s) on x %s%s%s%s" % (
        "chain" if chain else "single", {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[kind], F, H,
        ", nonlinearity=%s" % act if kind == "rnn" else "", [N, T, F],
        ", return_sequences" if seq and not chain else "", ", given h0" + (", c0" if lstm else "") if has_init else "",
        "" if padding is None else "; lengths %s padded at the %s" % (lengths, padding))
    if chain:
        desc += "; its final states start a second %s(%d, %d) on x2 %s" % (kind.upper(), F2, H, [N, T2, F2])
    cfg = [int(chain), CELL_ID[kind], 0 if act == "tanh" else 1, N, T, F, H, int(seq), int(has_init),
           PAD_ID[padding], T2, F2]
    text = ["# %s\n" % desc, fmt("cfg", torch.tensor(cfg, dtype=torch.float64)), fmt("x", x)]
    text += [fmt(k, v) for k, v in extra]
    if h0 is not None:
        text.append(fmt("h0", h0))
    if c0 is not None:
        text.append(fmt("c0", c0))
    if padding is not None:
        text.append(fmt("lengths", torch.tensor(lengths, dtype=torch.float64)))
        text.append(fmt("mask", mask_of(N, T, padding, lengths)))
    text += [fmt(k, p) for k, p in named.items()]
    text.append(fmt("g", g))
    if not chain:
        text.append(fmt("y", y))
        text.append(fmt("h_n", h_n))
        if lstm:
            text.append(fmt("c_n", c_n))
    text.append(fmt("out", out))
    text.append(fmt("dx", x.grad))
    for k, v in extra:
        text.append(fmt("d" + k, v.grad))
    if h0 is not None:
        text.append(fmt("dh0", h0.grad))
    if c0 is not None:
        text.append(fmt("dc0", c0.grad))
    text += [fmt("d" + k[1:], p.grad) for k, p in named.items()]  # p_name -> d_name
    return "".join(text)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/rnn_state"
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(SEED)  # the modules' own initialisation, overwritten anyway
    r = random.Random(SEED)
    gen = torch.Generator().manual_seed(SEED)
    n = 0
    for chain, counts in ((False, N_SINGLE), (True, N_CHAIN)):
        for kind, count in counts.items():
            for _ in range(count):
                text = case(r, gen, kind, chain)
                with open(os.path.join(out_dir, "s%03d.txt" % n), "w") as f:
                    f.write(text)
                n += 1
    with open(os.path.join(out_dir, "cases.txt"), "w") as f:
        f.write(f"# {n} cases s000..s{n - 1:03d} drawn by scripts/golden/gen_golden_rnn_state.py (seed {SEED}) "
                f"with PyTorch {torch.__version__}\n")
        f.write(fmt("n", torch.tensor([float(n)])))
    print(f"wrote {n} cases to {out_dir}")


if __name__ == "__main__":
    main()
