// The zoo's cost with the drift of a long run taken out: the variants' blocks run in turn, one
// forward + backward each, `reps` rounds, and each variant's median is divided by the pre-LN
// LayerNorm block's median of the same rounds (wasm, one thread). `deno bench` measures one
// variant after another (bench/zoo_bench.ts), so a machine that speeds up or slows down during
// the minutes of a group moves its ratios by ±10 %; this does not.
//
//     deno run bench/zoo_interleaved.ts [baby|gpt2] [rounds]
import { GPT } from "../lib/model/gpt.ts";
import type { GPTConfig } from "../lib/model/config.ts";
import { Rng } from "../lib/model/rng.ts";

const shape = Deno.args[0] ?? "baby";
const [B, T, C, NH] = shape === "gpt2" ? [4, 256, 768, 12] : [12, 64, 128, 4];
const reps = Number(Deno.args[1] ?? (shape === "gpt2" ? 7 : 60));
const VARIANTS: [string, Pick<GPTConfig, "placement" | "norm" | "qkNorm">][] = [
  ["pre, LayerNorm (baseline)", { placement: "pre" }],
  ["pre, RMSNorm", { placement: "pre", norm: "rms" }],
  ["pre, DyT", { placement: "pre", norm: "dyt" }],
  ["peri, LayerNorm", { placement: "peri" }],
  ["pre, LayerNorm, QK-norm", { placement: "pre", qkNorm: true }],
  ["peri, DyT, QK-norm", { placement: "peri", norm: "dyt", qkNorm: true }],
];
const x = new Float32Array(B * T * C), dy = new Float32Array(B * T * C);
new Rng(2).fillNormal(x);
new Rng(3).fillNormal(dy);
const models = VARIANTS.map(([, v]) => {
  const m = new GPT({ nLayer: 1, nHead: NH, nEmbd: C, ...v, finalNorm: false });
  m.init({ scheme: "gpt2", seed: 1 });
  m.forward(x, B, T); // buffers sized and touched before any timing
  m.backward(dy);
  return m;
});
const times: number[][] = VARIANTS.map(() => []);
for (let r = 0; r < reps; r++) {
  // each round starts with another variant, so none is always first
  for (let j = 0; j < models.length; j++) {
    const i = (j + r) % models.length, t0 = performance.now();
    models[i].forward(x, B, T);
    models[i].backward(dy);
    times[i].push(performance.now() - t0);
  }
}
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
const base = median(times[0]);
console.log(`${shape} block B=${B} T=${T} C=${C} H=${NH}, forward + backward, ${reps} rounds`);
VARIANTS.forEach(([name], i) => {
  const m = median(times[i]);
  console.log(`${name.padEnd(28)} ${m.toFixed(2).padStart(9)} ms  ${(m / base).toFixed(3)}×`);
});
