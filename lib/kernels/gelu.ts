/**
 * GELU, tanh approximation (GPT-2's `gelu_new`, torch `approximate="tanh"`).
 *
 * @module
 */
import type { Floats } from "./types.ts";

const K = Math.sqrt(2 / Math.PI);
const A = 0.044715;

/**
 * GELU forward: `out = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
 *
 * inp, out [n]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param out GELU of each element [n] (written)
 * @param inp the elements [n]
 * @param n elements
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const y = new Float64Array(3);
 * geluForward(y, Float64Array.of(-30, 0, 30), 3);
 * assert(y[0] === -0 && y[1] === 0 && y[2] === 30);
 * ```
 */
export function geluForward(out: Floats, inp: Floats, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    out[i] = 0.5 * x * (1 + Math.tanh(K * (x + A * x * x * x)));
  }
}

/**
 * GELU backward; accumulates `dout · gelu'(inp)` into `dinp`.
 *
 * inp, dout, dinp [n]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param dinp ∂L/∂inp [n] (added to)
 * @param inp the forward pass's elements [n]
 * @param dout ∂L/∂out [n]
 * @param n elements
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const dx = new Float64Array(1);
 * geluBackward(dx, Float64Array.of(0), Float64Array.of(1), 1);
 * assert(dx[0] === 0.5);
 * ```
 */
export function geluBackward(
  dinp: Floats,
  inp: Floats,
  dout: Floats,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    const t = Math.tanh(K * (x + A * x * x * x));
    const sech2 = 1 - t * t;
    const local = 0.5 * (1 + t) + 0.5 * x * sech2 * K * (1 + 3 * A * x * x);
    dinp[i] += local * dout[i];
  }
}
