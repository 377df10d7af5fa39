/**
 * LayerNorm over the last axis: each token (row of C) is normalized by its own
 * mean and biased standard deviation, then scaled and shifted per channel.
 *
 * @module
 */
import type { Floats } from "./types.ts";

import { Scratch } from "./scratch.ts";

const acc = new Scratch();

/**
 * LayerNorm forward. `out[n,c] = (inp[n,c] - mean[n]) * rstd[n] * weight[c] + bias[c]`
 * with `rstd = 1/sqrt(var + eps)` and the biased variance (÷C), as PyTorch.
 * Mean and variance come from a corrected two-pass sum in float64, so a row of
 * 1e4 + small noise stays exact and a constant row gives `rstd = 1/sqrt(eps)`.
 * `weight` / `bias` may be null (1 and 0).
 *
 * inp, out [N,C]; mean, rstd [N]; weight, bias [C]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param out the normalized rows [N,C] (written)
 * @param mean each row's mean [N] (written)
 * @param rstd each row's 1/sqrt(var + eps) [N] (written)
 * @param inp the rows [N,C]
 * @param weight per-channel scale [C], or null for 1
 * @param bias per-channel shift [C], or null for 0
 * @param N rows
 * @param C channels per row
 * @param eps added to the variance (default 1e-5)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const x = Float32Array.of(1, 2, 3, 4);
 * const y = new Float32Array(4), mean = new Float32Array(1), rstd = new Float32Array(1);
 * layerNormForward(y, mean, rstd, x, null, null, 1, 4);
 * assert(mean[0] === 2.5 && Math.abs(y[0] + 1.3416) < 1e-4);
 * ```
 */
export function layerNormForward(
  out: Floats,
  mean: Floats,
  rstd: Floats,
  inp: Floats,
  weight: Floats | null,
  bias: Floats | null,
  N: number,
  C: number,
  eps = 1e-5,
): void {
  const C4 = C - (C % 4);
  for (let n = 0; n < N; n++) {
    const o = n * C;
    // four accumulators: independent add chains, ~4x the throughput of one
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    let c = 0;
    for (; c < C4; c += 4) {
      s0 += inp[o + c];
      s1 += inp[o + c + 1];
      s2 += inp[o + c + 2];
      s3 += inp[o + c + 3];
    }
    for (; c < C; c++) s0 += inp[o + c];
    let m = (s0 + s1 + s2 + s3) / C;
    // second pass on deviations; the sum of deviations corrects the mean's rounding
    let d0 = 0, d1 = 0, q0 = 0, q1 = 0;
    c = 0;
    for (; c < C4; c += 4) {
      const a = inp[o + c] - m, b = inp[o + c + 1] - m;
      const e = inp[o + c + 2] - m, f = inp[o + c + 3] - m;
      d0 += a + e;
      d1 += b + f;
      q0 += a * a + e * e;
      q1 += b * b + f * f;
    }
    for (; c < C; c++) {
      const a = inp[o + c] - m;
      d0 += a;
      q0 += a * a;
    }
    const sd = d0 + d1;
    let v = (q0 + q1 - (sd * sd) / C) / C;
    m += sd / C;
    if (v < 0) v = 0;
    const r = 1 / Math.sqrt(v + eps);
    mean[n] = m;
    rstd[n] = r;
    if (weight === null) {
      if (bias === null) {
        for (let c = 0; c < C; c++) out[o + c] = (inp[o + c] - m) * r;
      } else {
        for (let c = 0; c < C; c++) out[o + c] = (inp[o + c] - m) * r + bias[c];
      }
    } else if (bias === null) {
      for (let c = 0; c < C; c++) out[o + c] = (inp[o + c] - m) * r * weight[c];
    } else {
      for (let c = 0; c < C; c++) {
        out[o + c] = (inp[o + c] - m) * r * weight[c] + bias[c];
      }
    }
  }
}

/**
 * LayerNorm backward. Accumulates (`+=`) into `dinp`, `dweight`, `dbias`
 * (callers zero them); `dweight`/`dbias` may be null when not wanted, `weight`
 * null means 1. `mean` and `rstd` are the forward pass's.
 *
 * dout, inp, dinp [N,C]; mean, rstd [N]; weight, dweight, dbias [C]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param dinp ∂L/∂inp [N,C] (added to)
 * @param dweight ∂L/∂weight [C] (added to), or null
 * @param dbias ∂L/∂bias [C] (added to), or null
 * @param dout ∂L/∂out [N,C]
 * @param inp the forward pass's rows [N,C]
 * @param weight the forward pass's scale [C], or null
 * @param mean the forward pass's means [N]
 * @param rstd the forward pass's 1/sqrt(var + eps) [N]
 * @param N rows
 * @param C channels per row
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const x = Float64Array.of(1, 2, 3, 4), dy = Float64Array.of(1, 1, 1, 1);
 * const y = new Float64Array(4), mean = new Float64Array(1), rstd = new Float64Array(1);
 * layerNormForward(y, mean, rstd, x, null, null, 1, 4);
 * const dx = new Float64Array(4);
 * layerNormBackward(dx, null, null, dy, x, null, mean, rstd, 1, 4);
 * assert(dx.every((v) => Math.abs(v) < 1e-12)); // a uniform shift of y is invisible
 * ```
 */
export function layerNormBackward(
  dinp: Floats,
  dweight: Floats | null,
  dbias: Floats | null,
  dout: Floats,
  inp: Floats,
  weight: Floats | null,
  mean: Floats,
  rstd: Floats,
  N: number,
  C: number,
): void {
  const dw = acc.get(2 * C); // [dweight | dbias] summed over rows in float64
  for (let n = 0; n < N; n++) {
    const o = n * C;
    const m = mean[n], r = rstd[n];
    // mean of dnorm and of dnorm * norm over the row
    let a = 0, b = 0;
    for (let c = 0; c < C; c++) {
      const norm = (inp[o + c] - m) * r;
      const dn = weight === null ? dout[o + c] : weight[c] * dout[o + c];
      a += dn;
      b += dn * norm;
    }
    a /= C;
    b /= C;
    for (let c = 0; c < C; c++) {
      const norm = (inp[o + c] - m) * r;
      const g = dout[o + c];
      const dn = weight === null ? g : weight[c] * g;
      dinp[o + c] += (dn - a - norm * b) * r;
      dw[c] += norm * g;
      dw[C + c] += g;
    }
  }
  if (dweight !== null) { for (let c = 0; c < C; c++) dweight[c] += dw[c]; }
  if (dbias !== null) { for (let c = 0; c < C; c++) dbias[c] += dw[C + c]; }
}
