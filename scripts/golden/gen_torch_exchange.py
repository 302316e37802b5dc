"""Weights exchanged between PyTorch and deepc through safetensors files, both ways.

    /usr/bin/python3 scripts/golden/gen_torch_exchange.py tests/golden/io
        writes torch_net.safetensors (a PyTorch network's state_dict, random weights) and
        torch_net_io.safetensors (inputs "x" and PyTorch's outputs "y"); test_model_io loads the
        weights into the same network built with deepc and must reproduce y.
    /usr/bin/python3 scripts/golden/gen_torch_exchange.py --check DIR
        reads the model file and the outputs that `test_model_io DIR` wrote with deepc, loads the
        weights into the PyTorch network, and compares its outputs with deepc's.

The network: Conv2d(1, 4, 3, padding=1) -> ReLU -> MaxPool2d(2) -> Flatten -> Linear(64, 16)
-> Tanh -> Linear(16, 3), named conv, fc1, fc2 (deepc's layer names give the same keys:
"conv.weight", "fc1.bias", ...; both frameworks store Linear [out, in] and Conv2d [F, C, kh, kw]).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from deepc_safetensors import load_file, save_file  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.fc1 = torch.nn.Linear(64, 16)
        self.fc2 = torch.nn.Linear(16, 3)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv(x)), 2)
        return self.fc2(torch.tanh(self.fc1(x.flatten(1))))


def generate(out):
    torch.manual_seed(7)
    net = Net()
    x = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        y = net(x)
    os.makedirs(out, exist_ok=True)
    save_file({k: v.numpy() for k, v in net.state_dict().items()}, os.path.join(out, "torch_net.safetensors"),
              {"format": "pt"})
    save_file({"x": x.numpy(), "y": y.numpy()}, os.path.join(out, "torch_net_io.safetensors"))
    print(f"wrote {out}/torch_net.safetensors and torch_net_io.safetensors")


def check(d):
    w = load_file(os.path.join(d, "deepc_net.safetensors"))
    io = load_file(os.path.join(d, "deepc_net_io.safetensors"))
    net = Net()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in w.items()})
    with torch.no_grad():
        y = net(torch.from_numpy(io["x"])).numpy()
    err = float(np.max(np.abs(y - io["y"])))
    print(f"deepc_net.safetensors in PyTorch: max |torch - deepc| = {err:.2e} over {y.size} outputs")
    return 0 if err < 1e-5 else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    generate(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/io")
