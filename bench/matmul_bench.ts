// matmul [256,768] @ [768,768] + bias, float32: GFLOP/s = 2·256·768·768 / time.
import { matmulBackward, matmulForward } from "../lib/kernels/matmul.ts";
import { Rng } from "../lib/model/rng.ts";

const N = 256, Ci = 768, Co = 768;
const rng = new Rng(2);
const x = new Float32Array(N * Ci), w = new Float32Array(Ci * Co), b = new Float32Array(Co);
rng.fillNormal(x);
rng.fillNormal(w, 0.02);
const out = new Float32Array(N * Co), dx = new Float32Array(N * Ci), dw = new Float32Array(Ci * Co);
const flops = 2 * N * Ci * Co;

/** The textbook i-k-j loop, accumulating in the float32 output: the baseline. */
function naive() {
  for (let n = 0; n < N; n++) {
    const o = n * Co;
    for (let c = 0; c < Co; c++) out[o + c] = b[c];
    for (let i = 0; i < Ci; i++) {
      const a = x[n * Ci + i], wo = i * Co;
      for (let c = 0; c < Co; c++) out[o + c] += a * w[wo + c];
    }
  }
}

Deno.bench({
  name: `naive i-k-j loop (baseline, ${flops / 1e9} GFLOP)`,
  group: "matmul",
  baseline: true,
  fn: naive,
});
Deno.bench({
  name: "matmulForward",
  group: "matmul",
  fn() {
    matmulForward(out, x, w, b, N, Ci, Co);
  },
});
Deno.bench({
  name: "matmulBackward (dinp + dweight, 2x the flops)",
  group: "matmul",
  fn() {
    matmulBackward(dx, dw, null, out, x, w, N, Ci, Co);
  },
});
