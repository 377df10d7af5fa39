// LayerNorm forward and backward on [16384, 768] float32, per backend, against a same-run
// baseline that moves the same bytes (Float32Array.prototype.set). Goal (wasm): forward ≤ 1.5×
// the copy, backward ≤ 3×. GB/s = 8 bytes per element (4 read + 4 written) / time for the
// forward. blas runs the wasm kernels here (it only changes matrix products).
import { Arena } from "../lib/kernels/arena.ts";
import { createKernels, type Kernels } from "../lib/kernels/backend.ts";
import { Rng } from "../lib/model/rng.ts";

const N = 16384, C = 768;
const arena = new Arena({ bytes: 4 * N * C * 4 + (8 << 20) });
const copyX = new Float32Array(N * C), copyY = new Float32Array(N * C);
new Rng(1).fillNormal(copyX, 2, 0.5);
const bytes = N * C * 8;

for (const backward of [false, true]) {
  const group = `layernorm ${backward ? "backward (dx, dgamma, dbeta)" : "forward"} [${N},${C}]`;
  Deno.bench({
    name: `copy (baseline, ${bytes / 1e6} MB moved)`,
    group,
    baseline: true,
    fn() {
      copyY.set(copyX);
    },
  });
  for (const name of ["ts", "wasm"] as const) {
    const k: Kernels = createKernels(name, arena);
    const f32 = (n: number) => name === "ts" ? new Float32Array(n) : arena.alloc(n);
    const x = f32(N * C), y = f32(N * C), dx = f32(N * C);
    x.set(copyX);
    const w = f32(C).fill(1), b = f32(C), dw = f32(C), db = f32(C);
    const mean = f32(N), rstd = f32(N);
    k.layerNormForward(y, mean, rstd, x, w, b, N, C);
    Deno.bench({
      name: `${name} layerNorm${backward ? "Backward" : "Forward"}`,
      group,
      fn() {
        if (backward) k.layerNormBackward(dx, dw, db, y, x, w, mean, rstd, N, C);
        else k.layerNormForward(y, mean, rstd, x, w, b, N, C);
      },
    });
  }
}
