/**
 * Row-wise softmax, numerically stable (max subtracted, sum in float64).
 *
 * @module
 */
import type { Floats } from "./types.ts";

/**
 * Softmax forward over the first `len` entries of each row of `C`: entries past
 * `len` (a causal mask) are written as exactly 0. `len` defaults to `C`.
 *
 * inp, out [N,C]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param out the probabilities [N,C] (written; past `len` 0)
 * @param inp the logits [N,C]
 * @param N rows
 * @param C the row stride
 * @param len entries of each row taken (default C)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const y = new Float64Array(3);
 * softmaxForward(y, Float64Array.of(0, Math.log(3), 100), 1, 3, 2);
 * assert(y[0] === 0.25 && y[1] === 0.75 && y[2] === 0);
 * ```
 */
export function softmaxForward(
  out: Floats,
  inp: Floats,
  N: number,
  C: number,
  len = C,
): void {
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let mx = -Infinity;
    for (let c = 0; c < len; c++) if (inp[o + c] > mx) mx = inp[o + c];
    let s = 0;
    for (let c = 0; c < len; c++) {
      const e = Math.exp(inp[o + c] - mx);
      out[o + c] = e;
      s += e;
    }
    const inv = 1 / s;
    for (let c = 0; c < len; c++) out[o + c] *= inv;
    for (let c = len; c < C; c++) out[o + c] = 0;
  }
}

/**
 * Softmax backward from the forward output `out`; accumulates
 * `dinp = out ⊙ (dout − Σ out·dout)` over the first `len` entries of each row.
 *
 * dout, out, dinp [N,C]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param dinp ∂L/∂inp [N,C] (added to)
 * @param dout ∂L/∂out [N,C]
 * @param out the forward pass's probabilities [N,C]
 * @param N rows
 * @param C the row stride
 * @param len entries of each row taken (default C)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const y = Float64Array.of(0.25, 0.75), dx = new Float64Array(2);
 * softmaxBackward(dx, Float64Array.of(1, 1), y, 1, 2);
 * assert(dx[0] === 0 && dx[1] === 0); // softmax ignores a uniform shift
 * ```
 */
export function softmaxBackward(
  dinp: Floats,
  dout: Floats,
  out: Floats,
  N: number,
  C: number,
  len = C,
): void {
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let s = 0;
    for (let c = 0; c < len; c++) s += out[o + c] * dout[o + c];
    for (let c = 0; c < len; c++) dinp[o + c] += out[o + c] * (dout[o + c] - s);
  }
}
