/**
 * RMSNorm over the last axis: LayerNorm without the mean subtraction and bias.
 *
 * @module
 */
import type { Floats } from "./types.ts";

import { Scratch } from "./scratch.ts";

const acc = new Scratch();

/**
 * RMSNorm forward: `out = inp * rstd * weight`, `rstd = 1/sqrt(mean(inp²) + eps)`
 * per row (sum of squares in float64). `weight` may be null (1).
 *
 * inp, out [N,C]; rstd [N]; weight [C]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param out the normalized rows [N,C] (written)
 * @param rstd each row's 1/sqrt(mean(x²) + eps) [N] (written)
 * @param inp the rows [N,C]
 * @param weight per-channel scale [C], or null for 1
 * @param N rows
 * @param C channels per row
 * @param eps added to the mean square (default 1e-5)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const x = Float64Array.of(3, 4), y = new Float64Array(2), rstd = new Float64Array(1);
 * rmsNormForward(y, rstd, x, null, 1, 2, 0);
 * assert(Math.abs(y[0] - 3 / Math.sqrt(12.5)) < 1e-15);
 * ```
 */
export function rmsNormForward(
  out: Floats,
  rstd: Floats,
  inp: Floats,
  weight: Floats | null,
  N: number,
  C: number,
  eps = 1e-5,
): void {
  for (let n = 0; n < N; n++) {
    const o = n * C;
    let s = 0;
    for (let c = 0; c < C; c++) s += inp[o + c] * inp[o + c];
    const r = 1 / Math.sqrt(s / C + eps);
    rstd[n] = r;
    if (weight === null) {
      for (let c = 0; c < C; c++) out[o + c] = inp[o + c] * r;
    } else {
      for (let c = 0; c < C; c++) out[o + c] = inp[o + c] * r * weight[c];
    }
  }
}

/**
 * RMSNorm backward; accumulates into `dinp` and `dweight` (may be null).
 *
 * dout, inp, dinp [N,C]; rstd [N]; weight, dweight [C]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param dinp ∂L/∂inp [N,C] (added to)
 * @param dweight ∂L/∂weight [C] (added to), or null
 * @param dout ∂L/∂out [N,C]
 * @param inp the forward pass's rows [N,C]
 * @param weight the forward pass's scale [C], or null
 * @param rstd the forward pass's rstd [N]
 * @param N rows
 * @param C channels per row
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const x = Float64Array.of(3, 4), y = new Float64Array(2), rstd = new Float64Array(1);
 * rmsNormForward(y, rstd, x, null, 1, 2, 0);
 * const dx = new Float64Array(2);
 * rmsNormBackward(dx, null, Float64Array.of(3, 4), x, null, rstd, 1, 2);
 * assert(Math.abs(dx[0]) < 1e-15); // growing along x itself does not change y
 * ```
 */
export function rmsNormBackward(
  dinp: Floats,
  dweight: Floats | null,
  dout: Floats,
  inp: Floats,
  weight: Floats | null,
  rstd: Floats,
  N: number,
  C: number,
): void {
  const dw = acc.get(C);
  for (let n = 0; n < N; n++) {
    const o = n * C;
    const r = rstd[n];
    let b = 0;
    for (let c = 0; c < C; c++) {
      const dn = weight === null ? dout[o + c] : weight[c] * dout[o + c];
      b += dn * inp[o + c] * r;
    }
    b /= C;
    for (let c = 0; c < C; c++) {
      const norm = inp[o + c] * r;
      const g = dout[o + c];
      const dn = weight === null ? g : weight[c] * g;
      dinp[o + c] += (dn - norm * b) * r;
      dw[c] += norm * g;
    }
  }
  if (dweight !== null) { for (let c = 0; c < C; c++) dweight[c] += dw[c]; }
}
