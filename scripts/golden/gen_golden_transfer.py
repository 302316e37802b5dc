"""Weights from PyTorch's state_dict names loaded into deepc by name (issue 19, transfer learning).

    /usr/bin/python3 scripts/golden/gen_golden_transfer.py tests/golden/transfer
        writes torch_state.safetensors (the state_dict of a module holding an LSTM, a GRU, an RNN
        and a BatchNorm1d, seeded random weights and running statistics, PyTorch's own names:
        "lstm.weight_ih_l0", "lstm.bias_hh_l0", "bn.weight", "bn.num_batches_tracked", ...) and
        torch_io.safetensors (inputs and PyTorch 1.13's outputs). tests/test_transfer.c builds
        each layer in deepc under the same name, loads the state_dict with
        dc_model_load_weights_by_name(pytorch_names) and must reproduce the outputs to 1e-5.

The recurrent layers run batch_first over the whole sequence (deepc's return_sequences=True);
the BatchNorm1d runs in eval mode (its running statistics), as deepc's inference does.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from deepc_safetensors import save_file  # noqa: E402

N, T, F, H, C = 3, 5, 4, 6, 7


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(F, H, batch_first=True)
        self.gru = torch.nn.GRU(F, H, batch_first=True)
        self.rnn = torch.nn.RNN(F, H, batch_first=True, nonlinearity="tanh")
        self.bn = torch.nn.BatchNorm1d(C, eps=1e-3)


def generate(out):
    torch.manual_seed(19)
    net = Net()
    with torch.no_grad():
        for p in net.parameters():  # biases and BN affine away from their defaults
            p.uniform_(-0.5, 0.5)
        net.bn.running_mean.uniform_(-1, 1)
        net.bn.running_var.uniform_(0.5, 2)
        net.bn.num_batches_tracked.fill_(10)
        net.eval()
        x = torch.randn(N, T, F)
        xb = torch.randn(N, C)
        io = {
            "x": x,
            "y_lstm": net.lstm(x)[0],
            "y_gru": net.gru(x)[0],
            "y_rnn": net.rnn(x)[0],
            "x_bn": xb,
            "y_bn": net.bn(xb),
        }
    os.makedirs(out, exist_ok=True)
    save_file({k: v.numpy() for k, v in net.state_dict().items()}, os.path.join(out, "torch_state.safetensors"),
              {"format": "pt"})
    save_file({k: v.contiguous().numpy() for k, v in io.items()}, os.path.join(out, "torch_io.safetensors"))
    print(f"wrote {out}/torch_state.safetensors and torch_io.safetensors")


if __name__ == "__main__":
    generate(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/transfer")
