"""nanoGPT's shakespeare_char "baby GPT" training step in PyTorch, one thread, for a same-run
baseline of lnstream's `train` (bench/train_bench.ts).

The model is nanoGPT's (token + position embeddings, pre-LN blocks, final LayerNorm, LM head
tied to the token embedding, no dropout, biases on), the optimizer AdamW (β 0.9/0.99, weight
decay 0.1 on matrices and embeddings), gradient clipping at 1.0. Each line "step" on stdin runs
one training step on a batch drawn from the text and answers "ok". Not used by tests.
"""
import json
import math
import os
import sys

# one thread for real: torch.set_num_threads(1) does not reach the OpenBLAS that Debian's
# PyTorch 1.13 uses for its matrix products (it ran them on both cores: user time 1.6× wall)
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import torch  # noqa: E402 (after the thread settings)
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(1337)
cfg = json.loads(sys.argv[1])
L, H, C, T, B = cfg["layers"], cfg["heads"], cfg["dim"], cfg["block"], cfg["batch"]
text = open(cfg["data"], encoding="utf-8").read()
chars = sorted(set(text))
V = len(chars)
mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
ids = torch.tensor([chars.index(c) for c in text[: 200_000]], dtype=torch.long)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.attn, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.fc, self.proj2 = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def forward(self, x):
        q, k, v = self.attn(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))  # nanoGPT's slow path
        y = att.masked_fill(~mask, float("-inf")).softmax(dim=-1) @ v
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.proj2(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.ln_f = nn.LayerNorm(C)

    def forward(self, x, y):
        h = self.wte(x) + self.wpe(torch.arange(T))
        for b in self.blocks:
            h = b(h)
        logits = self.ln_f(h) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, V), y.view(-1))


model = GPT()
decay = [p for p in model.parameters() if p.dim() >= 2]
rest = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW(
    [{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
    lr=1e-3, betas=(0.9, 0.99),
)

print("ready", flush=True)
for line in sys.stdin:
    ix = torch.randint(len(ids) - T - 1, (B,))
    x = torch.stack([ids[i : i + T] for i in ix])
    y = torch.stack([ids[i + 1 : i + 1 + T] for i in ix])
    loss = model(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    print("ok", flush=True)
