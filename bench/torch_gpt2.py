"""GPT-2 small's shape (12 layers, C 768, 12 heads, vocab 50257) in PyTorch: the forward and the
backward of the next-token loss of one sequence of T tokens, for bench/trace_bench.ts's same-run
baseline. argv[1]: {"T", "threads", "embed_grad" (default true)}; each "fwdbwd" line on stdin runs one pass, answers "ok".
Random weights (the speed does not depend on them). Not used by tests.
"""
import json
import math
import os
import sys

cfg = json.loads(sys.argv[1])
# the threads for real: set before torch loads its OpenBLAS
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(cfg["threads"])

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(cfg["threads"])
T, L, C, H, V = cfg["T"], 12, 768, 12, 50257
g = torch.Generator().manual_seed(1)


def p(*shape, std=0.02):
    return (torch.randn(*shape, generator=g) * std).requires_grad_()


wte, wpe = p(V, C), p(1024, C)
# "embed_grad": false leaves the embeddings' (and the tied head's) gradient out, as trace does:
# it reports the blocks' gradients only
if not cfg.get("embed_grad", True):
    wte.requires_grad_(False)
    wpe.requires_grad_(False)
blocks = [dict(ln1_g=torch.ones(C, requires_grad=True), ln1_b=torch.zeros(C, requires_grad=True),
               W_attn=p(C, 3 * C), b_attn=p(3 * C), W_proj=p(C, C), b_proj=p(C),
               ln2_g=torch.ones(C, requires_grad=True), ln2_b=torch.zeros(C, requires_grad=True),
               W_fc=p(C, 4 * C), b_fc=p(4 * C), W_proj2=p(4 * C, C), b_proj2=p(C)) for _ in range(L)]
lnf_g, lnf_b = torch.ones(C, requires_grad=True), torch.zeros(C, requires_grad=True)
ids = torch.tensor([[(i * 7919) % V for i in range(T)]])
mask = torch.tril(torch.ones(T, T, dtype=torch.bool))


def step():
    x = wte[ids] + wpe[:T]
    hd = C // H
    for b in blocks:
        u = F.layer_norm(x, (C,), b["ln1_g"], b["ln1_b"], 1e-5)
        q, k, v = [z.view(1, T, H, hd).transpose(1, 2) for z in (u @ b["W_attn"] + b["b_attn"]).split(C, 2)]
        att = F.softmax(((q @ k.transpose(-2, -1)) / math.sqrt(hd)).masked_fill(~mask, float("-inf")), -1)
        x = x + ((att @ v).transpose(1, 2).reshape(1, T, C) @ b["W_proj"] + b["b_proj"])
        u = F.layer_norm(x, (C,), b["ln2_g"], b["ln2_b"], 1e-5)
        x = x + F.gelu(u @ b["W_fc"] + b["b_fc"], approximate="tanh") @ b["W_proj2"] + b["b_proj2"]
    logits = F.layer_norm(x, (C,), lnf_g, lnf_b, 1e-5) @ wte.T
    F.cross_entropy(logits[0, :-1], ids[0, 1:]).backward()


print("ready", flush=True)
for line in sys.stdin:
    step()
    print("ok", flush=True)
