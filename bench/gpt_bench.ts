// One GPT-2 block, one thread: forward and forward+backward, for the nanoGPT
// "baby" config and a GPT-2 (124M) block. tokens/s = B·T / time. The baseline
// in each group is the block's four matmuls alone (the same FLOPs the dense
// layers need), so the ratios show what attention, LN, GELU and the residual
// plumbing cost on top.
import { GPT } from "../lib/model/gpt.ts";
import { matmulForward } from "../lib/kernels/matmul.ts";
import { Rng } from "../lib/model/rng.ts";

for (
  const [label, B, T, C, NH] of [
    ["baby (B=12 T=64 C=128 H=4)", 12, 64, 128, 4],
    ["gpt2 block (B=4 T=256 C=768 H=12)", 4, 256, 768, 12],
  ] as const
) {
  const model = new GPT({ nLayer: 1, nHead: NH, nEmbd: C, placement: "pre", finalNorm: false });
  model.init({ scheme: "gpt2", seed: 1 });
  const BT = B * T;
  const x = new Float32Array(BT * C), dy = new Float32Array(BT * C);
  const rng = new Rng(2);
  rng.fillNormal(x);
  rng.fillNormal(dy);
  const a = new Float32Array(BT * 4 * C), o = new Float32Array(BT * 4 * C);
  Deno.bench({
    name: `${label}: matmuls only (baseline, ${BT} tokens)`,
    group: label,
    baseline: true,
    fn() {
      matmulForward(o, x, model.param("blocks.0.W_attn"), null, BT, C, 3 * C);
      matmulForward(o, x, model.param("blocks.0.W_proj"), null, BT, C, C);
      matmulForward(a, x, model.param("blocks.0.W_fc"), null, BT, C, 4 * C);
      matmulForward(o, a, model.param("blocks.0.W_proj2"), null, BT, 4 * C, C);
    },
  });
  Deno.bench({
    name: `${label}: forward`,
    group: label,
    fn() {
      model.forward(x, B, T);
    },
  });
  Deno.bench({
    name: `${label}: forward + backward`,
    group: label,
    fn() {
      model.forward(x, B, T);
      model.backward(dy);
    },
  });
}
