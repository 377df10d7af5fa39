// matmul + bias, float32, per backend, for the two shapes of a GPT-2 block's dense layers:
// [256,768] @ [768,768] and [256,768] @ [768,3072]. GFLOP/s = 2·N·Cin·Cout / time (the
// GFLOP figure is in each group's name). Baseline: the TypeScript reference (float64
// accumulation). Goal, one thread: wasm ≥ 40 GFLOP/s, blas ≥ 90 GFLOP/s.
import { Arena } from "../lib/kernels/arena.ts";
import { type Backend, createKernels } from "../lib/kernels/backend.ts";
import { Rng } from "../lib/model/rng.ts";
import { BLAS_AVAILABLE } from "../tests/golden.ts";

const arena = new Arena({ bytes: 64 << 20 });
const backends: Backend[] = ["ts", "wasm", ...(BLAS_AVAILABLE ? ["blas" as const] : [])];

for (const [N, Ci, Co] of [[256, 768, 768], [256, 768, 3072]]) {
  const flops = 2 * N * Ci * Co;
  for (const backward of [false, true]) {
    const group = `matmul${backward ? "Backward (dinp + dweight + dbias)" : "Forward"} ` +
      `[${N},${Ci}]@[${Ci},${Co}]: ${((backward ? 2 : 1) * flops / 1e9).toFixed(3)} GFLOP`;
    for (const name of backends) {
      const k = createKernels(name, arena);
      const f32 = (n: number) => name === "ts" ? new Float32Array(n) : arena.alloc(n);
      const rng = new Rng(2);
      const x = f32(N * Ci), w = f32(Ci * Co), b = f32(Co), out = f32(N * Co);
      rng.fillNormal(x);
      rng.fillNormal(w, 0.02);
      const dx = f32(N * Ci), dw = f32(Ci * Co), db = f32(Co);
      Deno.bench({
        name: `${name}${name === "ts" ? " (baseline)" : ""}`,
        group,
        baseline: name === "ts",
        fn() {
          if (backward) k.matmulBackward(dx, dw, db, out, x, w, N, Ci, Co);
          else k.matmulForward(out, x, w, b, N, Ci, Co);
        },
      });
    }
  }
}
