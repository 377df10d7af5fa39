/**
 * QK-norm: parameter-free RMS normalization of each attention head's query and key over the
 * head dimension, before q·kᵀ (as in modded-nanogpt and OLMo 2). Values pass unchanged.
 *
 * @module
 */
import type { Floats } from "./types.ts";

/**
 * QK-norm forward: `out` is `qkv` with each head's q and k divided by their root mean square,
 * `rstd = 1/sqrt(mean(q²) + eps)` over the head's `C/NH` channels (sums in float64); the value
 * third is copied.
 *
 * qkv, out [BT,3C] (q | k | v, heads in order within each); rstd [BT, 2·NH] (q heads, k heads)
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param out q, k normalized and v copied [BT,3C] (written)
 * @param rstd each head's 1/sqrt(mean(q²) + eps), then k's [BT,2·NH] (written)
 * @param qkv the attention's input projections [BT,3C]
 * @param BT tokens
 * @param C channels (q, k and v each)
 * @param NH heads; must divide C
 * @param eps added to the mean square (default 1e-5)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const qkv = Float64Array.of(3, 4, 0, 5, 7, 8), out = new Float64Array(6);
 * const rstd = new Float64Array(2);
 * qkNormForward(out, rstd, qkv, 1, 2, 1, 0);
 * assert(Math.abs(out[0] ** 2 + out[1] ** 2 - 2) < 1e-12 && out[4] === 7 && out[5] === 8);
 * ```
 */
export function qkNormForward(
  out: Floats,
  rstd: Floats,
  qkv: Floats,
  BT: number,
  C: number,
  NH: number,
  eps = 1e-5,
): void {
  const hs = C / NH;
  for (let t = 0; t < BT; t++) {
    const row = t * 3 * C;
    for (let h = 0; h < 2 * NH; h++) {
      const o = row + h * hs;
      let s = 0;
      for (let i = 0; i < hs; i++) s += qkv[o + i] * qkv[o + i];
      const r = 1 / Math.sqrt(s / hs + eps);
      rstd[t * 2 * NH + h] = r;
      for (let i = 0; i < hs; i++) out[o + i] = qkv[o + i] * r;
    }
    for (let i = 2 * C; i < 3 * C; i++) out[row + i] = qkv[row + i];
  }
}

/**
 * QK-norm backward; accumulates ∂L/∂qkv into `dqkv` (the value third passes through).
 *
 * dqkv, dout, qkv [BT,3C]; rstd [BT, 2·NH]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param dqkv ∂L/∂qkv [BT,3C] (added to)
 * @param dout ∂L/∂out [BT,3C]
 * @param qkv the forward pass's input [BT,3C]
 * @param rstd the forward pass's rstd [BT,2·NH]
 * @param BT tokens
 * @param C channels (q, k and v each)
 * @param NH heads
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const qkv = Float64Array.of(3, 4, 1, 1, 2, 2), out = new Float64Array(6);
 * const rstd = new Float64Array(2), dqkv = new Float64Array(6);
 * qkNormForward(out, rstd, qkv, 1, 2, 1, 0);
 * qkNormBackward(dqkv, Float64Array.of(3, 4, 0, 0, 1, 1), qkv, rstd, 1, 2, 1);
 * assert(Math.abs(dqkv[0]) < 1e-15 && dqkv[4] === 1); // growing q along itself changes nothing
 * ```
 */
export function qkNormBackward(
  dqkv: Floats,
  dout: Floats,
  qkv: Floats,
  rstd: Floats,
  BT: number,
  C: number,
  NH: number,
): void {
  const hs = C / NH;
  for (let t = 0; t < BT; t++) {
    const row = t * 3 * C;
    for (let h = 0; h < 2 * NH; h++) {
      const o = row + h * hs, r = rstd[t * 2 * NH + h];
      let b = 0;
      for (let i = 0; i < hs; i++) b += dout[o + i] * qkv[o + i] * r;
      b /= hs;
      for (let i = 0; i < hs; i++) {
        dqkv[o + i] += (dout[o + i] - qkv[o + i] * r * b) * r;
      }
    }
    for (let i = 2 * C; i < 3 * C; i++) dqkv[row + i] += dout[row + i];
  }
}
