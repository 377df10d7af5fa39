/**
 * Dynamic Tanh (DyT, Zhu et al. 2025): a normalization layer without statistics,
 * `γ ⊙ tanh(a·x) + β` with one learnable scalar `a`.
 *
 * @module
 */
import type { Floats } from "./types.ts";

import { Scratch } from "./scratch.ts";

const acc = new Scratch();

/**
 * DyT forward: `out = weight ⊙ tanh(alpha[0]·inp) + bias` per row.
 *
 * inp, out [N,C]; alpha [1]; weight, bias [C]
 *
 * The TypeScript reference (float64 arithmetic, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param out the rows after DyT [N,C] (written)
 * @param inp the rows [N,C]
 * @param alpha the scalar `a` [1]
 * @param weight per-channel scale γ [C], or null for 1
 * @param bias per-channel shift β [C], or null for 0
 * @param N rows
 * @param C channels per row
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const y = new Float64Array(2);
 * dytForward(y, Float64Array.of(0, 100), Float64Array.of(0.5), null, null, 1, 2);
 * assert(y[0] === 0 && y[1] === 1); // tanh saturates: no statistics, no division
 * ```
 */
export function dytForward(
  out: Floats,
  inp: Floats,
  alpha: Floats,
  weight: Floats | null,
  bias: Floats | null,
  N: number,
  C: number,
): void {
  const a = alpha[0];
  for (let n = 0; n < N; n++) {
    const o = n * C;
    for (let c = 0; c < C; c++) {
      const t = Math.tanh(a * inp[o + c]);
      out[o + c] = (weight === null ? t : weight[c] * t) + (bias === null ? 0 : bias[c]);
    }
  }
}

/**
 * DyT backward; accumulates into `dinp`, `dalpha`, `dweight` and `dbias` (the last three may be
 * null).
 *
 * dout, inp, dinp [N,C]; alpha, dalpha [1]; weight, dweight, dbias [C]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param dinp ∂L/∂inp [N,C] (added to)
 * @param dalpha ∂L/∂a [1] (added to), or null
 * @param dweight ∂L/∂weight [C] (added to), or null
 * @param dbias ∂L/∂bias [C] (added to), or null
 * @param dout ∂L/∂out [N,C]
 * @param inp the forward pass's rows [N,C]
 * @param alpha the forward pass's `a` [1]
 * @param weight the forward pass's scale [C], or null
 * @param N rows
 * @param C channels per row
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const dx = new Float64Array(1), da = new Float64Array(1);
 * dytBackward(dx, da, null, null, Float64Array.of(1), Float64Array.of(2), Float64Array.of(0.5),
 *   null, 1, 1);
 * const s = 1 - Math.tanh(1) ** 2; // tanh'(a·x)
 * assert(Math.abs(dx[0] - 0.5 * s) < 1e-15 && Math.abs(da[0] - 2 * s) < 1e-15);
 * ```
 */
export function dytBackward(
  dinp: Floats,
  dalpha: Floats | null,
  dweight: Floats | null,
  dbias: Floats | null,
  dout: Floats,
  inp: Floats,
  alpha: Floats,
  weight: Floats | null,
  N: number,
  C: number,
): void {
  const a = alpha[0];
  const sums = acc.get(2 * C); // Σ dout·tanh, Σ dout per channel
  let da = 0;
  for (let n = 0; n < N; n++) {
    const o = n * C;
    for (let c = 0; c < C; c++) {
      const x = inp[o + c], g = dout[o + c], t = Math.tanh(a * x);
      sums[c] += g * t;
      sums[C + c] += g;
      const dz = (weight === null ? g : weight[c] * g) * (1 - t * t);
      dinp[o + c] += dz * a;
      da += dz * x;
    }
  }
  if (dalpha !== null) dalpha[0] += da;
  if (dweight !== null) { for (let c = 0; c < C; c++) dweight[c] += sums[c]; }
  if (dbias !== null) { for (let c = 0; c < C; c++) dbias[c] += sums[C + c]; }
}
