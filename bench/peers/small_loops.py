#!/usr/bin/python3
"""PyTorch peer of bench/small_loops.c: the XOR and Iris training loops of deepc's examples,
written the way a PyTorch user writes them (model, optimizer, loss, backward, step).
Prints the median seconds of 5 runs as JSON lines.  Usage: small_loops.py [THREADS] [iris.csv]"""
import json, sys, time
import numpy as np
import torch, torch.nn as nn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
iris = sys.argv[2] if len(sys.argv) > 2 else "data/iris.csv"
torch.set_num_threads(threads)
torch.manual_seed(0)

X = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float32)
Y = torch.tensor([[0], [1], [1], [0]], dtype=torch.float32)
raw = np.loadtxt(iris, delimiter=",", skiprows=1, dtype=np.float32)
rng = np.random.default_rng(7)
perm = rng.permutation(len(raw))
tr = raw[perm[:105]]
xi = torch.from_numpy((tr[:, :4] - tr[:, :4].mean(0)) / tr[:, :4].std(0))
yi = torch.from_numpy(tr[:, 4].astype(np.int64))


def xor_loop():
    m = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
    opt = torch.optim.SGD(m.parameters(), lr=2.0, momentum=0.9)
    lf = nn.MSELoss()
    t0 = time.perf_counter()
    for _ in range(2000):
        opt.zero_grad()
        loss = lf(m(X), Y)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0, float(loss)


def iris_loop():
    m = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
    opt = torch.optim.SGD(m.parameters(), lr=0.05, weight_decay=1e-3)
    lf = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(200):
        p = torch.randperm(len(xi), generator=g)
        for i in range(0, len(xi), 16):
            idx = p[i:i + 16]
            opt.zero_grad()
            loss = lf(m(xi[idx]), yi[idx])
            loss.backward()
            opt.step()
    return time.perf_counter() - t0, float(loss)


for name, fn, steps in (("xor", xor_loop, 2000), ("iris", iris_loop, 1400)):
    runs = [fn() for _ in range(5)]
    t = sorted(r[0] for r in runs)[2]
    print(json.dumps(dict(workload=name, metric="train_seconds", value=round(t, 5), steps=steps,
                          final_loss=round(runs[-1][1], 5), torch=torch.__version__,
                          threads=torch.get_num_threads())), flush=True)
