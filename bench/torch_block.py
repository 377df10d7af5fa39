"""The same GPT-2 block (or a stack of L, with the final LayerNorm) as lnstream's in PyTorch,
one thread, for a same-run baseline.

bench/gpt_bench.ts and bench/run_bench.ts start this with the shape (B, T, C, H, and L and
final for a stack); each line "fwd" or "fwdbwd" on stdin runs one pass and answers "ok", so the
bench times PyTorch in its own loop. Not used by tests.
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

torch.set_num_threads(1)
cfg = json.loads(sys.argv[1])
B, T, C, H = cfg["B"], cfg["T"], cfg["C"], cfg["H"]
g = torch.Generator().manual_seed(1)


def p(*shape, std=0.02):
    return (torch.randn(*shape, generator=g) * std).requires_grad_()


L, final = cfg.get("L", 1), cfg.get("final", False)


def weights():
    return dict(
        ln1_g=torch.ones(C, requires_grad=True), ln1_b=torch.zeros(C, requires_grad=True),
        W_attn=p(C, 3 * C), b_attn=p(3 * C), W_proj=p(C, C), b_proj=p(C),
        ln2_g=torch.ones(C, requires_grad=True), ln2_b=torch.zeros(C, requires_grad=True),
        W_fc=p(C, 4 * C), b_fc=p(4 * C), W_proj2=p(4 * C, C), b_proj2=p(C),
    )


Ws = [weights() for _ in range(L)]
lnf = (torch.ones(C, requires_grad=True), torch.zeros(C, requires_grad=True))
mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
x = torch.randn(B, T, C, generator=g)
R = torch.randn(B, T, C, generator=g)


def block(x, W):
    h = torch.nn.functional.layer_norm(x, (C,), W["ln1_g"], W["ln1_b"], 1e-5)
    q, k, v = (h @ W["W_attn"] + W["b_attn"]).split(C, dim=2)
    q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
    att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
    att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    y = (att @ v).transpose(1, 2).reshape(B, T, C)
    x = x + y @ W["W_proj"] + W["b_proj"]
    h = torch.nn.functional.layer_norm(x, (C,), W["ln2_g"], W["ln2_b"], 1e-5)
    h = torch.nn.functional.gelu(h @ W["W_fc"] + W["b_fc"], approximate="tanh")
    return x + h @ W["W_proj2"] + W["b_proj2"]


def stack(x):
    for W in Ws:
        x = block(x, W)
    return torch.nn.functional.layer_norm(x, (C,), *lnf, 1e-5) if final else x


print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "fwd":
        with torch.no_grad():
            stack(x)
    else:
        for W in Ws:
            for t in W.values():
                t.grad = None
        (stack(x) * R).sum().backward()
    print("ok", flush=True)
