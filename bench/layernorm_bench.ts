// LayerNorm forward on [16384, 768] float32 against a same-run baseline that
// moves the same bytes (Float32Array.prototype.set): the ratio LN/copy is the
// figure to watch. GB/s = 8 bytes per element (4 read + 4 written) / time.
import { layerNormForward } from "../lib/kernels/layernorm.ts";
import { rmsNormForward } from "../lib/kernels/rmsnorm.ts";
import { Rng } from "../lib/model/rng.ts";

const N = 16384, C = 768;
const x = new Float32Array(N * C), y = new Float32Array(N * C);
new Rng(1).fillNormal(x, 2, 0.5);
const w = new Float32Array(C).fill(1), b = new Float32Array(C);
const mean = new Float32Array(N), rstd = new Float32Array(N);
const bytes = N * C * 8;

Deno.bench({
  name: `copy [${N},${C}] f32 (baseline, ${bytes / 1e6} MB moved)`,
  group: "layernorm",
  baseline: true,
  fn() {
    y.set(x);
  },
});
Deno.bench({
  name: "layerNormForward",
  group: "layernorm",
  fn() {
    layerNormForward(y, mean, rstd, x, w, b, N, C);
  },
});
Deno.bench({
  name: "rmsNormForward",
  group: "layernorm",
  fn() {
    rmsNormForward(y, rstd, x, w, N, C);
  },
});
