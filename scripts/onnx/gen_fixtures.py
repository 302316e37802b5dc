#!/usr/bin/python3
"""PyTorch models exported to ONNX as fixtures of the importer's tests, and malformed or
unsupported ONNX files (bad_*.onnx) that the importer must refuse with a clear error.

Writes tests/data/onnx/<name>.onnx, <name>_x.npy (an input batch) and <name>_y.npy (PyTorch's
outputs for it) for four models: an MLP and the CNN of examples/cnn_fashion.c on 28x28 images,
an LSTM classifier reading an image's rows as steps, and a Transformer encoder layer (batch
first). Seeded, so a rerun writes the same files. Run with /usr/bin/python3 (torch 1.13):
    /usr/bin/python3 scripts/onnx/gen_fixtures.py [OUTDIR]
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torch import nn

OPSET = 17


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    """examples/cnn_fashion.c's architecture, narrower to keep the file small: Conv2D(8, 3x3, relu),
    MaxPool 2x2, Flatten, Dense(32, relu), Dropout(0.5), Dense(10) (its softmax left to the loss)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3)
        self.fc1 = nn.Linear(8 * 13 * 13, 32)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(self.drop(torch.relu(self.fc1(x))))


class LSTMClassifier(nn.Module):
    """An image's 28 rows as 28 steps of 28 values; the last step's state classifies."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 32, batch_first=True)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        y, _ = self.lstm(x.reshape(x.shape[0], 28, 28))
        return self.fc(y[:, -1])


class Encoder(nn.Module):
    """One post-norm Transformer encoder layer on [N, T, D], then a mean over the steps and a
    linear head."""

    def __init__(self):
        super().__init__()
        self.enc = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, dropout=0.0, activation="gelu", batch_first=True)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(self.enc(x).mean(dim=1))


class ConvMix(nn.Module):
    """The other image operators: BatchNormalization, AveragePool, two branches joined along the
    channels (Concat of axis 1), ConvTranspose, Sigmoid, Tanh, GlobalAveragePool, LogSoftmax."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.side = nn.Conv2d(1, 2, 3, stride=2, padding=1)
        self.up = nn.ConvTranspose2d(6, 3, 2, stride=2)
        self.fc = nn.Linear(3, 10)

    def forward(self, x):
        a = nn.functional.avg_pool2d(self.bn(torch.relu(self.conv(x))), 2)  # a Conv right before would absorb the batch norm
        b = torch.sigmoid(self.side(x))
        h = torch.tanh(self.up(torch.cat([a, b], dim=1)))
        h = torch.flatten(nn.functional.adaptive_avg_pool2d(h, 1), 1)
        return torch.log_softmax(self.fc(h), dim=-1)


class RNNMix(nn.Module):
    """GRU then a plain RNN over the GRU's outputs, the last state classified."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 12, batch_first=True)
        self.rnn = nn.RNN(12, 6, batch_first=True)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        y, _ = self.gru(x)
        _, h = self.rnn(y)
        return self.fc(h[0])


class BiLSTM(nn.Module):
    """A bidirectional LSTM over the steps, its last step's two directions classified."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 10, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(20, 4)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y[:, -1])


def export(name, model, x, outdir, fold=True):
    model.eval()
    with torch.no_grad():
        y = model(x)
    path = os.path.join(outdir, name + ".onnx")
    torch.onnx.export(model, x, path, opset_version=OPSET, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, do_constant_folding=fold)
    np.save(os.path.join(outdir, name + "_x.npy"), x.numpy().astype(np.float32))
    np.save(os.path.join(outdir, name + "_y.npy"), y.numpy().astype(np.float32))
    print(f"{path}: {os.path.getsize(path)} bytes")


def small_graph(nodes, inits=(), inputs=None, outputs=None):
    """A model of opset 17 around the given nodes: input x [N, 4], output y."""
    inputs = inputs or [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])]
    outputs = outputs or [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])]
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="gen_fixtures")


def write_bad(outdir):
    """Files the importer refuses: each names what is wrong in its error."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 4], np.eye(4, dtype=np.float32).ravel().tolist())
    bad = {
        # a node reading a value nothing makes
        "bad_dangling": small_graph([helper.make_node("Relu", ["nowhere"], ["y"], name="r")]),
        # two nodes reading each other's output
        "bad_cycle": small_graph([helper.make_node("Add", ["x", "b"], ["a"], name="first"),
                                  helper.make_node("Relu", ["a"], ["b"], name="second"),
                                  helper.make_node("Identity", ["a"], ["y"], name="out")]),
        # an operator deepc does not import
        "bad_unsupported": small_graph([helper.make_node("Hardmax", ["x"], ["y"], name="hm")]),
        # an initialiser whose data are in another file
        "bad_external": small_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]),
        # an initialiser of absurd dimensions (no data)
        "bad_huge": small_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]),
        # raw_data shorter than the dimensions say
        "bad_rawdata": small_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]),
        # a Reshape to absurd sizes (their product overflows 64 bits)
        "bad_reshape": small_graph([helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")],
                                   [helper.make_tensor("s", TensorProto.INT64, [3], [-1, 1 << 40, 1 << 40])]),
        # a valid model, for the fuzzer's corpus: MatMul, Add, Relu
        "ok_small": small_graph([helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
                                 helper.make_node("Add", ["h", "x"], ["s"], name="add"),
                                 helper.make_node("Relu", ["s"], ["y"], name="relu")], [w]),
    }
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 40])
    bad["bad_huge"].graph.initializer.append(huge)
    short = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 4], raw_data=b"\0" * 12)
    bad["bad_rawdata"].graph.initializer.append(short)
    ext = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 4])
    ext.data_location = TensorProto.EXTERNAL
    e = ext.external_data.add()
    e.key, e.value = "location", "../../../etc/passwd"
    bad["bad_external"].graph.initializer.append(ext)
    for name, m in bad.items():
        path = os.path.join(outdir, name + ".onnx")
        with open(path, "wb") as f:
            f.write(m.SerializeToString())
        print(f"{path}: {os.path.getsize(path)} bytes")


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "onnx")
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)
    export("mlp", MLP(), torch.rand(3, 1, 28, 28), outdir)
    export("cnn", CNN(), torch.rand(3, 1, 28, 28), outdir)
    export("lstm", LSTMClassifier(), torch.rand(3, 28, 28), outdir)
    export("transformer", Encoder(), torch.randn(3, 6, 16), outdir)
    mix = ConvMix()
    with torch.no_grad():  # running statistics other than the initial ones
        mix.bn.running_mean.uniform_(-0.5, 0.5)
        mix.bn.running_var.uniform_(0.5, 2.0)
    export("convmix", mix, torch.rand(3, 1, 8, 8), outdir)
    export("rnnmix", RNNMix(), torch.randn(3, 5, 8), outdir)
    export("bilstm", BiLSTM(), torch.randn(3, 5, 8), outdir)
    write_bad(outdir)


if __name__ == "__main__":
    main()
