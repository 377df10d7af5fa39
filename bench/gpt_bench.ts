// One GPT-2 block, one thread, forward and forward+backward, on every backend, for the nanoGPT
// "baby" block and a GPT-2 (124M) block. tokens/s = B·T / time. The baseline of each group is
// PyTorch running the same block on one thread in this same run (bench/torch_block.py, started
// once per block; each iteration is one line over a pipe), so the ratios are lnstream/PyTorch
// time: goal ≤ 2.5 for wasm (≥ 0.4× PyTorch's speed) and ≤ 1.1 for blas (≥ 0.9×).
// Without PyTorch (python3 with torch: Debian's python3-torch; PYTHON=… to choose the
// interpreter) the wasm backend is the baseline.
import { GPT } from "../lib/model/gpt.ts";
import { Rng } from "../lib/model/rng.ts";
import type { Backend } from "../lib/kernels/backend.ts";
import { BLAS_AVAILABLE } from "../tests/golden.ts";
import { torchBlock } from "./torch.ts";

const backends: Backend[] = ["wasm", ...(BLAS_AVAILABLE ? ["blas" as const] : [])];

for (
  const [label, B, T, C, NH] of [
    ["baby (B=12 T=64 C=128 H=4)", 12, 64, 128, 4],
    ["gpt2 block (B=4 T=256 C=768 H=12)", 4, 256, 768, 12],
  ] as const
) {
  const BT = B * T;
  const torch = await torchBlock({ B, T, C, H: NH });
  // the TypeScript reference on the baby block only: on GPT-2 one pass takes ~20 s
  const all: Backend[] = label.startsWith("baby") ? ["ts", ...backends] : backends;
  for (const backward of [false, true]) {
    const group = `${label} ${backward ? "forward + backward" : "forward"}, ${BT} tokens`;
    if (torch) {
      Deno.bench({
        name: "PyTorch 1 thread (baseline)",
        group,
        baseline: true,
        async fn() {
          await torch(backward);
        },
      });
    }
    for (const backend of all) {
      const model = new GPT({
        nLayer: 1,
        nHead: NH,
        nEmbd: C,
        placement: "pre",
        finalNorm: false,
        backend,
      });
      model.init({ scheme: "gpt2", seed: 1 });
      const x = new Float32Array(BT * C), dy = new Float32Array(BT * C);
      const rng = new Rng(2);
      rng.fillNormal(x);
      rng.fillNormal(dy);
      Deno.bench({
        name: `lnstream ${backend}${!torch && backend === "wasm" ? " (baseline)" : ""}`,
        group,
        baseline: !torch && backend === "wasm",
        fn() {
          model.forward(x, B, T);
          if (backward) model.backward(dy);
        },
      });
    }
  }
}
