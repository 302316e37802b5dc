"""Golden vectors of deepc's BERT encoder (src/nn/bert.c) against a tiny BERT in PyTorch 1.13.

    /usr/bin/python3 scripts/golden/gen_golden_bert.py [OUT_DIR]   (default tests/golden/bert)

The network is written in plain torch with the module names of Hugging Face's BertModel
(embeddings.{word,position,token_type}_embeddings, embeddings.LayerNorm,
encoder.layer.N.attention.self.{query,key,value}, attention.output.{dense,LayerNorm},
intermediate.dense, output.{dense,LayerNorm}, pooler.dense), LayerNorm eps 1e-12, exact GELU,
and HF's additive attention mask (1 - mask) * -10000, so its state_dict is what a public
checkpoint holds. Weights are random (fixed seed), rounded to float32; the outputs are computed
in float64 from those float32 weights. Writes

  OUT/vocab.txt            a small BERT-layout vocabulary: [PAD] 0, [UNK], [CLS], [SEP], [MASK],
                           words, ## pieces and punctuation
  OUT/model.safetensors    the state_dict, metadata num_attention_heads (as config.json has it)
  OUT/expected.safetensors input_ids, token_type_ids, attention_mask [N, T] (tokenised with the
                           re-implementation of BERT's tokenizer in gen_wordpiece.py),
                           last_hidden_state [N, T, hidden], pooler_output [N, hidden];
                           metadata: the sentences (text_a.<i>, text_b.<i>), max_len, lower_case
"""
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, HERE)
from deepc_safetensors import save_file  # noqa: E402
from gen_wordpiece import FullTokenizer, encode  # noqa: E402

torch.set_default_dtype(torch.float64)

HIDDEN, LAYERS, HEADS, INTERMEDIATE, MAX_POS, TYPES, EPS = 32, 2, 4, 64, 64, 2, 1e-12
MAX_LEN = 16

VOCAB = ("[PAD] [UNK] [CLS] [SEP] [MASK] the a is it of and to no yes not quick brown fox jumps over lazy dog "
         "hello world un run play token sentence second pair cat sat on mat "
         "##aff ##able ##ner ##s ##ing ##ed ##ization ##ly "
         ". , ! ? ' - ( )").split()

SENTENCES = [  # (text_a, text_b or None)
    ("The quick brown fox jumps over the lazy dog.", None),
    ("Unaffable runners, playing!", None),
    ("Hello xyzzy world", None),
    ("Is it a dog?", "No, it is a fox."),
]


class Embeddings(torch.nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.word_embeddings = torch.nn.Embedding(vocab, HIDDEN, padding_idx=0)
        self.position_embeddings = torch.nn.Embedding(MAX_POS, HIDDEN)
        self.token_type_embeddings = torch.nn.Embedding(TYPES, HIDDEN)
        self.LayerNorm = torch.nn.LayerNorm(HIDDEN, eps=EPS)

    def forward(self, ids, types):
        pos = torch.arange(ids.shape[1])
        e = self.word_embeddings(ids) + self.position_embeddings(pos)[None] + self.token_type_embeddings(types)
        return self.LayerNorm(e)


class SelfAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.query = torch.nn.Linear(HIDDEN, HIDDEN)
        self.key = torch.nn.Linear(HIDDEN, HIDDEN)
        self.value = torch.nn.Linear(HIDDEN, HIDDEN)

    def forward(self, x, mask):
        n, t, _ = x.shape
        d = HIDDEN // HEADS

        def split(y):
            return y.view(n, t, HEADS, d).permute(0, 2, 1, 3)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + (1.0 - mask[:, None, None, :]) * -10000.0
        return (scores.softmax(-1) @ v).permute(0, 2, 1, 3).reshape(n, t, HIDDEN)


class DenseNorm(torch.nn.Module):  # BertSelfOutput and BertOutput
    def __init__(self, inp):
        super().__init__()
        self.dense = torch.nn.Linear(inp, HIDDEN)
        self.LayerNorm = torch.nn.LayerNorm(HIDDEN, eps=EPS)

    def forward(self, h, residual):
        return self.LayerNorm(self.dense(h) + residual)


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.self = SelfAttention()
        self.output = DenseNorm(HIDDEN)

    def forward(self, x, mask):
        return self.output(self.self(x, mask), x)


class Intermediate(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = torch.nn.Linear(HIDDEN, INTERMEDIATE)

    def forward(self, x):
        return torch.nn.functional.gelu(self.dense(x))


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = Attention()
        self.intermediate = Intermediate()
        self.output = DenseNorm(INTERMEDIATE)

    def forward(self, x, mask):
        a = self.attention(x, mask)
        return self.output(self.intermediate(a), a)


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.ModuleList([Layer() for _ in range(LAYERS)])


class Pooler(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = torch.nn.Linear(HIDDEN, HIDDEN)

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class Bert(torch.nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embeddings = Embeddings(vocab)
        self.encoder = Encoder()
        self.pooler = Pooler()

    def forward(self, ids, types, mask):
        h = self.embeddings(ids, types)
        for layer in self.encoder.layer:
            h = layer(h, mask)
        return h, self.pooler(h)


def main(out):
    os.makedirs(out, exist_ok=True)
    index = {t: i for i, t in enumerate(VOCAB)}
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in VOCAB))
    tok = FullTokenizer(index, True)
    rows = [encode(tok, a, b, MAX_LEN) for a, b in SENTENCES]
    ids = torch.tensor([r[0] for r in rows])
    types = torch.tensor([r[1] for r in rows])
    mask = torch.tensor([r[2] for r in rows], dtype=torch.float64)

    torch.manual_seed(7)
    model = Bert(len(VOCAB))
    with torch.no_grad():  # weights large enough that every part of the network shows in the output
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))
            p.copy_(p.float().double())  # the values the float32 file holds
        model.embeddings.word_embeddings.weight[0].zero_()  # padding_idx, as nn.Embedding starts it
    model.eval()
    with torch.no_grad():
        hidden, pooled = model(ids, types, mask)

    f32 = {k: v.numpy().astype(np.float32) for k, v in model.state_dict().items()}
    save_file(f32, os.path.join(out, "model.safetensors"), {"num_attention_heads": str(HEADS), "format": "pt"})
    meta = {"max_len": str(MAX_LEN), "lower_case": "1", "sentences": str(len(SENTENCES))}
    for i, (a, b) in enumerate(SENTENCES):
        meta["text_a.%d" % i] = a
        if b is not None:
            meta["text_b.%d" % i] = b
    expected = {"input_ids": ids.numpy().astype(np.float32), "token_type_ids": types.numpy().astype(np.float32),
                "attention_mask": mask.numpy().astype(np.float32),
                "last_hidden_state": hidden.numpy().astype(np.float32), "pooler_output": pooled.numpy().astype(np.float32)}
    save_file(expected, os.path.join(out, "expected.safetensors"), meta)
    for (a, b), r in zip(SENTENCES, rows):
        print(" ".join(VOCAB[i] for i in r[0][:r[3]]))
    print("hidden %s, pooled %s" % (tuple(hidden.shape), tuple(pooled.shape)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/bert")
