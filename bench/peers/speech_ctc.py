#!/usr/bin/python3
"""The PyTorch peer of examples/speech_ctc: the same CRNN trained with CTC on the same features.

examples/speech_ctc writes its padded log-mel features, frame counts and labels when given an
EXPORT_DIR (its 7th argument); this script trains the same network on them, with the same
settings, and reports the time per epoch and the greedy character error rate on the test set
as key=value lines, for a side-by-side run:

    build/examples/speech_ctc out/speech_digits 20 0 0 1 out out/speech_export
    /usr/bin/python3 bench/peers/speech_ctc.py out/speech_export 20 1    # DIR EPOCHS THREADS

Network: Conv1d(64 -> 128, 5, stride 2, padding 2) + ReLU -> bidirectional GRU(128), padded
steps packed away -> Linear(256 -> 11) -> log_softmax; CTC loss (blank 0, mean over targets'
lengths); Adam(1e-3, eps 1e-7), gradients clipped to norm 5; batch 32, the last 10% of the
training rows held out as deepc's validation_split holds them.
"""
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn

d = sys.argv[1] if len(sys.argv) > 1 else "out/speech_export"
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
torch.set_num_threads(threads)
torch.manual_seed(3)
np.random.seed(3)

load = lambda n: np.load(os.path.join(d, n + ".npy"))
xtr, ftr, ytr = load("train_x"), load("train_frames").astype(np.int64), load("train_y")
xte, fte, yte = load("test_x"), load("test_frames").astype(np.int64), load("test_y")
nval = int(round(0.1 * len(xtr)))
ntr = len(xtr) - nval
xtr, ftr, ytr = torch.from_numpy(xtr[:ntr]), torch.from_numpy(ftr[:ntr]), torch.from_numpy(ytr[:ntr])
xte, fte, yte_np = torch.from_numpy(xte), torch.from_numpy(fte), yte


class CRNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(64, 128, 5, stride=2, padding=2)
        self.gru = nn.GRU(128, 128, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(256, 11)

    def forward(self, x, steps):
        h = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        packed = nn.utils.rnn.pack_padded_sequence(h, steps, batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])
        return torch.log_softmax(self.fc(out), -1)


def targets(y):
    """[B, S] labels padded with -1 -> the concatenated labels and their lengths."""
    lens = (y >= 0).sum(1).long()
    return y[y >= 0].long(), lens


model = CRNN()
opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
ctc = nn.CTCLoss(blank=0, reduction="mean")
gen = torch.Generator().manual_seed(42)
times = []
for e in range(epochs):
    model.train()
    t0 = time.perf_counter()
    perm = torch.randperm(ntr, generator=gen)
    total, nb = 0.0, 0
    for i in range(0, ntr, 32):
        idx = perm[i:i + 32]
        steps = (ftr[idx] + 1) // 2
        lp = model(xtr[idx], steps)
        tg, tl = targets(ytr[idx])
        loss = ctc(lp.transpose(0, 1), tg, steps, tl)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        total += loss.item()
        nb += 1
    times.append(time.perf_counter() - t0)
    print(f"epoch {e + 1}/{epochs} - {times[-1]:.2f}s - loss {total / nb:.4f}", flush=True)

model.eval()
edits, ref_len, whole = 0, 0, 0
with torch.no_grad():
    for i in range(0, len(xte), 64):
        steps = (fte[i:i + 64] + 1) // 2
        best = model(xte[i:i + 64], steps).argmax(-1).numpy()
        for r, s in enumerate(steps.tolist()):
            path, prev = [], -1
            for c in best[r][:s]:
                if c != prev and c != 0:
                    path.append(int(c))
                prev = c
            ref = [int(v) for v in yte_np[i + r] if v >= 0]
            # Levenshtein distance
            dp = list(range(len(ref) + 1))
            for a in path:
                prev_diag, dp[0] = dp[0], dp[0] + 1
                for j, b in enumerate(ref, 1):
                    cur = min(dp[j] + 1, dp[j - 1] + 1, prev_diag + (a != b))
                    prev_diag, dp[j] = dp[j], cur
            edits += dp[len(ref)]
            ref_len += len(ref)
            whole += dp[len(ref)] == 0
print(f"torch={torch.__version__} threads={threads}")
print(f"seconds_per_epoch={float(np.median(times)):.2f}")
print(f"test_cer_greedy={edits / ref_len:.4f}")
print(f"test_sequence_accuracy_greedy={whole / len(xte):.4f}")
