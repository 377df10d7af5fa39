// The normalization zoo's cost: one block, forward + backward, wasm backend, one thread, for the
// nanoGPT "baby" block and a GPT-2 (124M) block; the baseline of each group is the pre-LN
// LayerNorm block measured in the same run. Goals: rms ≤ 1.0× the baseline's time; dyt and peri
// ≤ 1.1×; QK-norm ≤ 1.05×.
import { GPT } from "../lib/model/gpt.ts";
import type { NormKind, Placement } from "../lib/model/config.ts";
import { Rng } from "../lib/model/rng.ts";

const VARIANTS: [string, { placement: Placement; norm?: NormKind; qkNorm?: boolean }][] = [
  ["pre, LayerNorm (baseline)", { placement: "pre" }],
  ["pre, RMSNorm", { placement: "pre", norm: "rms" }],
  ["pre, DyT", { placement: "pre", norm: "dyt" }],
  ["peri, LayerNorm", { placement: "peri" }],
  ["pre, LayerNorm, QK-norm", { placement: "pre", qkNorm: true }],
  ["post, LayerNorm", { placement: "post" }],
  ["deepnorm, LayerNorm", { placement: "deepnorm" }],
  ["peri, DyT, QK-norm", { placement: "peri", norm: "dyt", qkNorm: true }],
];

for (
  const [label, B, T, C, NH, n] of [
    ["baby (B=12 T=64 C=128 H=4)", 12, 64, 128, 4, 40],
    ["gpt2 block (B=4 T=256 C=768 H=12)", 4, 256, 768, 12, 6],
  ] as const
) {
  const group = `${label} forward + backward, wasm, ${B * T} tokens`;
  const x = new Float32Array(B * T * C), dy = new Float32Array(B * T * C);
  const rng = new Rng(2);
  rng.fillNormal(x);
  rng.fillNormal(dy);
  for (const [name, v] of VARIANTS) {
    const model = new GPT({ nLayer: 1, nHead: NH, nEmbd: C, ...v, finalNorm: false });
    model.init({ scheme: "gpt2", seed: 1 });
    Deno.bench({
      name,
      group,
      baseline: name.endsWith("(baseline)"),
      n,
      warmup: 2,
      fn() {
        model.forward(x, B, T);
        model.backward(dy);
      },
    });
  }
}
