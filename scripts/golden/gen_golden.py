#!/usr/bin/python3
"""Writes the PyTorch golden vectors that tests/test_golden.c, tests/test_golden_conv.c and
tests/test_golden_rnn.c check deepc against.

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
            "# made by scripts/golden/%s with PyTorch %s, torch.manual_seed(%d)"
            % (os.path.basename(sys.argv[0]), torch.__version__, seed),
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


# ----------------------------------------------------------------------------------------
# Image ops (NCHW): convolutions, pooling, up-sampling, batch normalisation. Each case stores
# its inputs, a random upstream gradient gy, the output y and the gradients of sum(y * gy),
# and a `cfg` tensor with the op's settings, which the C test checks against its own table.
# ----------------------------------------------------------------------------------------


CONV_ACTS = {  # activation after a convolution: name -> function of (z, alpha)
    "relu": lambda z, a: F.relu(z),
    "leaky_relu": lambda z, a: F.leaky_relu(z, a),
    "elu": lambda z, a: F.elu(z, a),
    "sigmoid": lambda z, a: torch.sigmoid(z),
    "tanh": lambda z, a: torch.tanh(z),
}


def conv_case(out_dir, name, N, C, H, W, F_, kh, kw, stride, pad, bias=True, act=None, alpha=0.0):
    """F.conv2d; pad = (top, left, bottom, right) as deepc takes it, applied with F.pad;
    optionally followed by an activation (cfg then has alpha as an 8th value)."""
    seed = seed_for(name)
    layer = torch.nn.Conv2d(C, F_, (kh, kw), stride=stride, bias=bias)  # PyTorch's default init
    x = f32(torch.randn(N, C, H, W)).requires_grad_()
    w = f32(layer.weight.data).requires_grad_()
    b = f32(layer.bias.data).requires_grad_() if bias else None
    top, left, bottom, right = pad
    y = F.conv2d(F.pad(x, (left, right, top, bottom)), w, b, stride=stride)
    what = "F.conv2d(F.pad(x, (left %d, right %d, top %d, bottom %d)), w, %s, stride=(%d, %d))" % (
        left, right, top, bottom, "b" if bias else "None", stride[0], stride[1])
    cfg = [stride[0], stride[1], top, left, bottom, right, int(bias)]
    if act is not None:
        y = CONV_ACTS[act](y, alpha)
        what = "%s of %s (alpha %g)" % (act, what, alpha)
        cfg.append(alpha)
    gy = f32(torch.randn(y.shape))
    (y * gy).sum().backward()
    wr = CaseWriter(out_dir, name, seed, what + "; loss sum(y * gy)")
    wr.put("cfg", torch.tensor(cfg, dtype=torch.float64))
    wr.put("x", x)
    wr.put("w", w)
    if bias:
        wr.put("b", b)
    wr.put("gy", gy)
    wr.put("y", y)
    wr.put("dx", x.grad)
    wr.put("dw", w.grad)
    if bias:
        wr.put("db", b.grad)
    wr.close()


def conv_transpose_case(out_dir, name, N, C, H, W, F_, kh, kw, stride, pad):
    """F.conv_transpose2d, weight [C_in, F, kh, kw]; pad = (top, left, bottom, right) crops
    the full output (PyTorch's symmetric `padding` is the same crop on both sides)."""
    seed = seed_for(name)
    layer = torch.nn.ConvTranspose2d(C, F_, (kh, kw), stride=stride)
    x = f32(torch.randn(N, C, H, W)).requires_grad_()
    w = f32(layer.weight.data).requires_grad_()
    b = f32(layer.bias.data).requires_grad_()
    top, left, bottom, right = pad
    if top == bottom and left == right:
        y = F.conv_transpose2d(x, w, b, stride=stride, padding=(top, left))
        how = "padding=(%d, %d)" % (top, left)
    else:
        full = F.conv_transpose2d(x, w, b, stride=stride)
        y = full[:, :, top:full.shape[2] - bottom, left:full.shape[3] - right]
        how = "padding 0, output cropped by (top %d, left %d, bottom %d, right %d)" % pad
    gy = f32(torch.randn(y.shape))
    (y * gy).sum().backward()
    wr = CaseWriter(out_dir, name, seed, "F.conv_transpose2d(x, w [C_in, F, kh, kw], b, stride=(%d, %d)), %s; loss sum(y * gy)"
                    % (stride[0], stride[1], how))
    wr.put("cfg", torch.tensor([stride[0], stride[1], top, left, bottom, right, 1], dtype=torch.float64))
    for nm, t in (("x", x), ("w", w), ("b", b), ("gy", gy), ("y", y), ("dx", x.grad), ("dw", w.grad), ("db", b.grad)):
        wr.put(nm, t)
    wr.close()


def distinct_values(shape):
    """A random arrangement of distinct float32 values (multiples of 1/8 around 0), so every
    pooling window has a unique maximum."""
    n = 1
    for d in shape:
        n *= d
    return ((torch.randperm(n).to(torch.float64) - n / 2) / 8).reshape(shape)


def pool_case(out_dir, name, kind, shape, k, s):
    seed = seed_for(name)
    if kind == "max":
        x = distinct_values(shape).requires_grad_()
        y = F.max_pool2d(x, k, s)
    else:
        x = f32(torch.randn(shape)).requires_grad_()
        y = F.avg_pool2d(x, k, s)
    gy = f32(torch.randn(y.shape))
    (y * gy).sum().backward()
    wr = CaseWriter(out_dir, name, seed, "F.%s_pool2d(x, kernel (%d, %d), stride (%d, %d)); loss sum(y * gy)"
                    % (kind, k[0], k[1], s[0], s[1]))
    wr.put("cfg", torch.tensor([k[0], k[1], s[0], s[1]], dtype=torch.float64))
    for nm, t in (("x", x), ("gy", gy), ("y", y), ("dx", x.grad)):
        wr.put(nm, t)
    wr.close()


def global_avg_pool_case(out_dir, name, shape):
    seed = seed_for(name)
    x = f32(torch.randn(shape)).requires_grad_()
    y = x.mean(dim=(2, 3))
    gy = f32(torch.randn(y.shape))
    (y * gy).sum().backward()
    wr = CaseWriter(out_dir, name, seed, "global average pooling x.mean(dim=(2, 3)); loss sum(y * gy)")
    for nm, t in (("x", x), ("gy", gy), ("y", y), ("dx", x.grad)):
        wr.put(nm, t)
    wr.close()


def upsample_case(out_dir, name, shape, fh, fw):
    seed = seed_for(name)
    x = f32(torch.randn(shape)).requires_grad_()
    y = F.interpolate(x, scale_factor=(fh, fw), mode="nearest")
    ref = x.detach().repeat_interleave(fh, dim=2).repeat_interleave(fw, dim=3)
    assert torch.equal(y.detach(), ref), "F.interpolate nearest is not plain repetition"
    gy = f32(torch.randn(y.shape))
    (y * gy).sum().backward()
    wr = CaseWriter(out_dir, name, seed, "F.interpolate(x, scale_factor=(%d, %d), mode='nearest'); loss sum(y * gy)" % (fh, fw))
    wr.put("cfg", torch.tensor([fh, fw], dtype=torch.float64))
    for nm, t in (("x", x), ("gy", gy), ("y", y), ("dx", x.grad)):
        wr.put(nm, t)
    wr.close()


def batch_norm_case(out_dir, name, shape, training, affine=True, momentum=0.1, eps=1e-3):
    seed = seed_for(name)
    C = shape[1]
    x = f32(1.5 * torch.randn(shape) + 0.5).requires_grad_()
    gamma = f32(1 + 0.5 * torch.randn(C)).requires_grad_() if affine else None
    beta = f32(0.5 * torch.randn(C)).requires_grad_() if affine else None
    rm0 = f32(0.3 * torch.randn(C))
    rv0 = f32(0.5 + torch.rand(C))
    rm, rv = rm0.clone(), rv0.clone()  # F.batch_norm updates these in place in training
    y = F.batch_norm(x, rm, rv, gamma, beta, training=training, momentum=momentum, eps=eps)
    gy = f32(torch.randn(y.shape))
    (y * gy).sum().backward()
    wr = CaseWriter(out_dir, name, seed, "F.batch_norm(x, running_mean, running_var, %s, training=%s, momentum=%g, eps=%g); "
                    "loss sum(y * gy); running_*_out = the running statistics afterwards"
                    % ("gamma, beta" if affine else "None, None", training, momentum, eps))
    wr.put("cfg", torch.tensor([momentum, eps, int(training), int(affine)], dtype=torch.float64))
    wr.put("x", x)
    if affine:
        wr.put("gamma", gamma)
        wr.put("beta", beta)
    wr.put("running_mean", rm0)
    wr.put("running_var", rv0)
    wr.put("gy", gy)
    wr.put("y", y)
    wr.put("running_mean_out", rm)
    wr.put("running_var_out", rv)
    wr.put("dx", x.grad)
    if affine:
        wr.put("dgamma", gamma.grad)
        wr.put("dbeta", beta.grad)
    wr.close()


def image_cases(out_dir):
    """Writes the image-op cases; returns how many."""
    cs = [
        lambda: conv_case(out_dir, "conv2d_3x3", 2, 3, 7, 6, 4, 3, 3, (1, 1), (0, 0, 0, 0)),
        lambda: conv_case(out_dir, "conv2d_3x3_s2_pad1", 2, 3, 7, 6, 4, 3, 3, (2, 2), (1, 1, 1, 1)),
        lambda: conv_case(out_dir, "conv2d_2x3_s21_asym_pad", 2, 3, 7, 6, 4, 2, 3, (2, 1), (1, 2, 2, 0)),
        lambda: conv_case(out_dir, "conv2d_n1_5x5_same", 1, 1, 8, 9, 3, 5, 5, (1, 1), (2, 2, 2, 2)),
        lambda: conv_case(out_dir, "conv2d_nobias", 2, 3, 7, 6, 4, 3, 3, (1, 1), (1, 1, 1, 1), bias=False),
        # activations fused into deepc's Conv2D layer; the padding is Keras's SAME for 7x6
        lambda: conv_case(out_dir, "conv2d_relu_same_s2", 2, 3, 7, 6, 4, 3, 3, (2, 2), (1, 0, 1, 1), act="relu"),
        lambda: conv_case(out_dir, "conv2d_leaky_relu_same", 2, 3, 7, 6, 4, 3, 3, (1, 1), (1, 1, 1, 1), act="leaky_relu",
                          alpha=0.25),
        lambda: conv_case(out_dir, "conv2d_elu_same", 2, 3, 7, 6, 4, 3, 3, (1, 1), (1, 1, 1, 1), act="elu", alpha=0.75),
        lambda: conv_case(out_dir, "conv2d_sigmoid_same", 2, 3, 7, 6, 4, 3, 3, (1, 1), (1, 1, 1, 1), act="sigmoid"),
        lambda: conv_case(out_dir, "conv2d_tanh_same", 2, 3, 7, 6, 4, 3, 3, (1, 1), (1, 1, 1, 1), act="tanh"),
        lambda: conv_transpose_case(out_dir, "conv_transpose2d_3x3_s2_pad1", 2, 3, 4, 5, 4, 3, 3, (2, 2), (1, 1, 1, 1)),
        lambda: conv_transpose_case(out_dir, "conv_transpose2d_2x3_s1", 2, 3, 4, 5, 2, 2, 3, (1, 1), (0, 0, 0, 0)),
        lambda: conv_transpose_case(out_dir, "conv_transpose2d_3x2_s12_asym_pad", 2, 3, 4, 5, 2, 3, 2, (1, 2), (1, 0, 2, 1)),
        lambda: pool_case(out_dir, "max_pool2d_2x2_s2", "max", (2, 3, 6, 7), (2, 2), (2, 2)),
        lambda: pool_case(out_dir, "max_pool2d_3x3_s2", "max", (2, 2, 7, 9), (3, 3), (2, 2)),
        lambda: pool_case(out_dir, "avg_pool2d_2x2_s2", "avg", (2, 3, 6, 7), (2, 2), (2, 2)),
        lambda: global_avg_pool_case(out_dir, "global_avg_pool2d", (2, 3, 5, 4)),
        lambda: upsample_case(out_dir, "upsample2d_nearest_2x2", (2, 3, 3, 4), 2, 2),
        lambda: upsample_case(out_dir, "upsample2d_nearest_2x3", (1, 2, 3, 2), 2, 3),
        lambda: batch_norm_case(out_dir, "batch_norm2d_train", (4, 3, 5, 5), True),
        lambda: batch_norm_case(out_dir, "batch_norm1d_train", (8, 5), True),
        lambda: batch_norm_case(out_dir, "batch_norm2d_train_no_affine", (4, 3, 5, 5), True, affine=False),
        lambda: batch_norm_case(out_dir, "batch_norm2d_eval", (4, 3, 5, 5), False),
        lambda: batch_norm_case(out_dir, "batch_norm1d_eval", (8, 5), False),
    ]
    for c in cs:
        c()
    return len(cs)


# ----------------------------------------------------------------------------------------
# Recurrent layers and Embedding (tests/test_golden_rnn.c). Sequences are batch first,
# x [RN, RT, RF] -> y [RN, RT, RH]; every case stores a random upstream gradient gy, the output
# y, the final state h_n and the gradients of sum(y * gy). PyTorch runs in float64 with the
# float32 draws of its default initialisation. `cfg` = [cell, activation, has_h0, padding]
# (cell 0 SimpleRNN, 1 LSTM, 2 GRU; activation 0 none, 1 tanh, 2 relu; padding 0 none,
# 1 at the end, 2 at the front), which the C test checks against its own table.
# ----------------------------------------------------------------------------------------

RN, RT, RF, RH = 3, 6, 5, 4  # batch, steps, features, hidden units
RNN_CELLS = {"simple_rnn": 0, "lstm": 1, "gru": 2}
RNN_ACTS = {None: 0, "tanh": 1, "relu": 2}
RNN_PADDING = {None: 0, "end": 1, "front": 2}


def rnn_module(cell, act):
    if cell == "lstm":
        return torch.nn.LSTM(RF, RH, batch_first=True)
    if cell == "gru":
        return torch.nn.GRU(RF, RH, batch_first=True)
    return torch.nn.RNN(RF, RH, nonlinearity=act, batch_first=True)


def rnn_params(wr, cell, mod):
    """Writes the module's float32 weights in deepc's layout and turns the module into float64.
    LSTM and SimpleRNN take one bias b = b_ih + b_hh: b is that sum rounded to float32, and the
    module's b_hh becomes b - b_ih (exact in float64), so PyTorch's two biases add up to exactly
    the b deepc reads. GRU keeps both biases."""
    b_ih32, b_hh32 = mod.bias_ih_l0.data.clone(), mod.bias_hh_l0.data.clone()
    mod.double()
    wr.put("W_ih", mod.weight_ih_l0)
    wr.put("W_hh", mod.weight_hh_l0)
    if cell == "gru":
        wr.put("b_ih", mod.bias_ih_l0)
        wr.put("b_hh", mod.bias_hh_l0)
        return
    b = f32(b_ih32 + b_hh32)
    with torch.no_grad():
        mod.bias_hh_l0.copy_(b - mod.bias_ih_l0)
    assert torch.equal(mod.bias_ih_l0 + mod.bias_hh_l0, b)
    wr.put("b", b)


def rnn_grads(wr, mod):
    wr.put("dW_ih", mod.weight_ih_l0.grad)
    wr.put("dW_hh", mod.weight_hh_l0.grad)
    wr.put("db_ih", mod.bias_ih_l0.grad)
    wr.put("db_hh", mod.bias_hh_l0.grad)


def rnn_case(out_dir, name, cell, act=None, has_h0=False, padding=None, lengths=None):
    """A recurrent layer over x [RN, RT, RF]. With padding, sequence n has lengths[n] real steps,
    at the end ("end": PyTorch runs the packed batch) or at the front ("front": PyTorch runs each
    sequence's real suffix on its own). deepc's masked run repeats the last state on padded
    steps, h0 before a front-padded sequence starts, and the final state after an end-padded one
    ends: y is that sequence, made from PyTorch's outputs, so the gradients of sum(y * gy) flow
    through the repeats as in deepc."""
    seed = seed_for(name)
    mod = rnn_module(cell, act)
    x = f32(torch.randn(RN, RT, RF)).requires_grad_()
    h0 = f32(torch.randn(RN, RH)).requires_grad_() if has_h0 else None
    c0 = f32(torch.randn(RN, RH)).requires_grad_() if has_h0 and cell == "lstm" else None
    gy = f32(torch.randn(RN, RT, RH))
    mods = {"lstm": "torch.nn.LSTM(%d, %d, batch_first=True)" % (RF, RH),
            "gru": "torch.nn.GRU(%d, %d, batch_first=True)" % (RF, RH),
            "simple_rnn": "torch.nn.RNN(%d, %d, nonlinearity='%s', batch_first=True)" % (RF, RH, act)}
    what = "%s on x [%d, %d, %d]%s" % (mods[cell], RN, RT, RF, ", given h0" + (", c0" if c0 is not None else "")
                                         if has_h0 else "")
    if padding == "end":
        what += ("; lengths %s padded at the end, PyTorch on pack_padded_sequence; y repeats each sequence's final "
                 "state on its padded steps" % lengths)
    elif padding == "front":
        what += ("; lengths %s padded at the front, PyTorch on each sequence's real steps; y is h0 (zeros without "
                 "one) on each sequence's padded first steps" % lengths)
    wr = CaseWriter(out_dir, name, seed, what + "; loss sum(y * gy)")
    wr.put("cfg", torch.tensor([RNN_CELLS[cell], RNN_ACTS[act], int(has_h0), RNN_PADDING[padding]], dtype=torch.float64))
    wr.put("x", x)
    rnn_params(wr, cell, mod)

    def hx_of(rows):
        if h0 is None:
            return None
        h = h0[rows].unsqueeze(0)
        return (h, c0[rows].unsqueeze(0)) if c0 is not None else h

    def h_of(hn):  # the final hidden state [rows, RH] of a single-layer module's h_n or (h_n, c_n)
        return (hn[0] if cell == "lstm" else hn)[0]

    if padding is None:
        y, hn = mod(x, hx_of(slice(None)))
        hn = h_of(hn)
    elif padding == "end":
        mask = torch.arange(RT).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        outp, hn = mod(packed, hx_of(slice(None)))
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(outp, batch_first=True, total_length=RT)
        hn = h_of(hn)
        y = torch.where(mask.unsqueeze(2), out, hn.unsqueeze(1).expand(RN, RT, RH))
    else:
        mask = torch.arange(RT).unsqueeze(0) >= RT - torch.tensor(lengths).unsqueeze(1)
        rows, hns = [], []
        for n in range(RN):
            start = RT - lengths[n]
            out, hn_n = mod(x[n:n + 1, start:], hx_of(slice(n, n + 1)))
            before = (h0[n] if h0 is not None else torch.zeros(RH, dtype=torch.float64)).expand(start, RH)
            rows.append(torch.cat([before, out[0]], 0))
            hns.append(h_of(hn_n))
        y = torch.stack(rows)
        hn = torch.cat(hns, 0)
    if padding is not None:
        wr.put("lengths", torch.tensor(lengths, dtype=torch.float64))
        wr.put("mask", mask.to(torch.float64))
    if h0 is not None:
        wr.put("h0", h0)
    if c0 is not None:
        wr.put("c0", c0)
    (y * gy).sum().backward()
    wr.put("gy", gy)
    wr.put("y", y)
    wr.put("h_n", hn)
    wr.put("dx", x.grad)
    rnn_grads(wr, mod)
    if h0 is not None:
        wr.put("dh0", h0.grad)
    if c0 is not None:
        wr.put("dc0", c0.grad)
    wr.close()


EMB_V, EMB_D = 7, 3
EMB_IDS = [[3, 1, 0, 5, 3], [0, 6, 2, 0, 1]]  # padding id 0 twice, 3 and 1 twice, 4 unused


def embedding_case(out_dir, name):
    """nn.Embedding(7, 3, padding_idx=0) on ids [2, 5]. The padding row, which PyTorch
    initialises to zeros, is overwritten with random values so that its lookup is checked; its
    gradient stays zero."""
    seed = seed_for(name)
    emb = torch.nn.Embedding(EMB_V, EMB_D, padding_idx=0)
    table = f32(emb.weight.data)
    table[0] = f32(torch.randn(EMB_D))
    table.requires_grad_()
    ids = torch.tensor(EMB_IDS, dtype=torch.float64)
    gy = f32(torch.randn(len(EMB_IDS), len(EMB_IDS[0]), EMB_D))
    y = F.embedding(ids.long(), table, padding_idx=0)
    (y * gy).sum().backward()
    assert not table.grad[0].any()
    wr = CaseWriter(out_dir, name, seed, "F.embedding(ids, table [%d, %d], padding_idx=0) (table from "
                    "nn.Embedding's initialisation, row 0 random); loss sum(y * gy)" % (EMB_V, EMB_D))
    wr.put("cfg", torch.tensor([0], dtype=torch.float64))
    for nm, t in (("ids", ids), ("table", table), ("gy", gy), ("y", y), ("dtable", table.grad)):
        wr.put(nm, t)
    wr.close()


def embedding_rnn_case(out_dir, name, cell, act=None, lengths=(6, 4, 2), vocab=7):
    """Token ids [RN, RT] padded with id 0 at the end -> Embedding(vocab, RF, padding_idx=0)
    -> recurrent layer on the packed batch; y is the final state h_n [RN, RH]. deepc:
    Embedding(mask_zero) whose mask makes the recurrent layer skip the padding."""
    seed = seed_for(name)
    emb = torch.nn.Embedding(vocab, RF, padding_idx=0)
    mod = rnn_module(cell, act)
    table = f32(emb.weight.data)
    table[0] = f32(torch.randn(RF))
    table.requires_grad_()
    ids = torch.randint(1, vocab, (RN, RT))
    for n, ln in enumerate(lengths):
        ids[n, ln:] = 0
    gy = f32(torch.randn(RN, RH))
    wr = CaseWriter(out_dir, name, seed, "ids [%d, %d] padded with 0 at the end (lengths %s) -> F.embedding(ids, table, "
                    "padding_idx=0) -> %s on pack_padded_sequence; y = h_n; loss sum(y * gy)"
                    % (RN, RT, list(lengths), type(mod).__name__ + ("(%s)" % act if act else "")))
    wr.put("cfg", torch.tensor([RNN_CELLS[cell], RNN_ACTS[act], 0, RNN_PADDING["end"]], dtype=torch.float64))
    wr.put("ids", ids.to(torch.float64))
    wr.put("lengths", torch.tensor(lengths, dtype=torch.float64))
    wr.put("table", table)
    rnn_params(wr, cell, mod)
    x = F.embedding(ids, table, padding_idx=0)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    _, hn = mod(packed)
    y = (hn[0] if cell == "lstm" else hn)[0]  # h_n [RN, RH]
    (y * gy).sum().backward()
    wr.put("gy", gy)
    wr.put("y", y)
    wr.put("dtable", table.grad)
    rnn_grads(wr, mod)
    wr.close()


def rnn_cases(out_dir):
    """Writes the recurrent and embedding cases; returns how many."""
    cs = [
        lambda: rnn_case(out_dir, "lstm", "lstm"),
        lambda: rnn_case(out_dir, "lstm_h0c0", "lstm", has_h0=True),
        lambda: rnn_case(out_dir, "gru", "gru"),
        lambda: rnn_case(out_dir, "gru_h0", "gru", has_h0=True),
        lambda: rnn_case(out_dir, "simple_rnn_tanh", "simple_rnn", "tanh"),
        lambda: rnn_case(out_dir, "simple_rnn_tanh_h0", "simple_rnn", "tanh", has_h0=True),
        lambda: rnn_case(out_dir, "simple_rnn_relu", "simple_rnn", "relu"),
        lambda: rnn_case(out_dir, "simple_rnn_relu_h0", "simple_rnn", "relu", has_h0=True),
        lambda: rnn_case(out_dir, "lstm_len_end_h0c0", "lstm", has_h0=True, padding="end", lengths=[6, 4, 2]),
        lambda: rnn_case(out_dir, "gru_len_end", "gru", padding="end", lengths=[6, 4, 2]),
        lambda: rnn_case(out_dir, "simple_rnn_tanh_len_end", "simple_rnn", "tanh", padding="end", lengths=[6, 4, 2]),
        lambda: rnn_case(out_dir, "lstm_len_front_h0c0", "lstm", has_h0=True, padding="front", lengths=[6, 3, 5]),
        lambda: rnn_case(out_dir, "gru_len_front_h0", "gru", has_h0=True, padding="front", lengths=[6, 3, 5]),
        lambda: rnn_case(out_dir, "simple_rnn_relu_len_front_h0", "simple_rnn", "relu", has_h0=True, padding="front",
                         lengths=[6, 3, 5]),
        lambda: embedding_case(out_dir, "embedding_pad0"),
        lambda: embedding_rnn_case(out_dir, "embedding_lstm_mask_zero", "lstm"),
        lambda: embedding_rnn_case(out_dir, "embedding_gru_mask_zero", "gru"),
        lambda: embedding_rnn_case(out_dir, "embedding_simple_rnn_mask_zero", "simple_rnn", "tanh"),
    ]
    for c in cs:
        c()
    return len(cs)


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
    n += image_cases(out_dir)
    n += rnn_cases(out_dir)
    print("wrote %d golden cases to %s (PyTorch %s)" % (n, out_dir, torch.__version__))


if __name__ == "__main__":
    main()
