/**
 * BatchNorm in training mode over `[N, C]`: each channel is normalized by the
 * statistics of the batch, so one token's output depends on the other tokens.
 *
 * @module
 */
import type { Floats } from "./types.ts";
import { Scratch } from "./scratch.ts";

const acc = new Scratch();

/**
 * BatchNorm forward (training mode, no running statistics):
 * `out[n,c] = (inp[n,c] - mean[c]) * rstd[c] * weight[c] + bias[c]`, biased
 * variance (÷N), corrected two-pass in float64. `weight`/`bias` may be null.
 *
 * inp, out [N,C]; mean, rstd [C]; weight, bias [C]
 *
 * @param out the normalized batch [N,C] (written)
 * @param mean each feature's mean over the batch [C] (written)
 * @param rstd each feature's 1/sqrt(var + eps) [C] (written)
 * @param inp the batch [N,C]
 * @param weight per-feature scale [C], or null for 1
 * @param bias per-feature shift [C], or null for 0
 * @param N rows (the batch)
 * @param C features
 * @param eps added to the variance (default 1e-5)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const x = Float64Array.of(1, 10, 3, 30); // two tokens, two channels
 * const y = new Float64Array(4), mean = new Float64Array(2), rstd = new Float64Array(2);
 * batchNormForward(y, mean, rstd, x, null, null, 2, 2, 0);
 * assert(mean[1] === 20 && y[0] === -1 && y[3] === 1);
 * ```
 */
export function batchNormForward(
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
  const s = acc.get(3 * C); // [sum | sum of deviations | sum of squared deviations]
  for (let n = 0; n < N; n++) {
    const o = n * C;
    for (let c = 0; c < C; c++) s[c] += inp[o + c];
  }
  for (let c = 0; c < C; c++) s[c] /= N;
  for (let n = 0; n < N; n++) {
    const o = n * C;
    for (let c = 0; c < C; c++) {
      const d = inp[o + c] - s[c];
      s[C + c] += d;
      s[2 * C + c] += d * d;
    }
  }
  for (let c = 0; c < C; c++) {
    const sd = s[C + c];
    let v = (s[2 * C + c] - (sd * sd) / N) / N;
    if (v < 0) v = 0;
    s[c] += sd / N;
    s[C + c] = 1 / Math.sqrt(v + eps);
    mean[c] = s[c];
    rstd[c] = s[C + c];
  }
  for (let n = 0; n < N; n++) {
    const o = n * C;
    for (let c = 0; c < C; c++) {
      const w = weight === null ? 1 : weight[c];
      const b = bias === null ? 0 : bias[c];
      out[o + c] = (inp[o + c] - s[c]) * s[C + c] * w + b;
    }
  }
}

/**
 * BatchNorm backward; accumulates into `dinp`, `dweight`, `dbias` (the last two
 * may be null).
 *
 * dout, inp, dinp [N,C]; mean, rstd, weight, dweight, dbias [C]
 *
 * @param dinp ∂L/∂inp [N,C] (added to)
 * @param dweight ∂L/∂weight [C] (added to), or null
 * @param dbias ∂L/∂bias [C] (added to), or null
 * @param dout ∂L/∂out [N,C]
 * @param inp the forward pass's batch [N,C]
 * @param weight the forward pass's scale [C], or null
 * @param mean the forward pass's means [C]
 * @param rstd the forward pass's rstd [C]
 * @param N rows (the batch)
 * @param C features
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const x = Float64Array.of(1, 10, 3, 30);
 * const y = new Float64Array(4), mean = new Float64Array(2), rstd = new Float64Array(2);
 * batchNormForward(y, mean, rstd, x, null, null, 2, 2, 0);
 * const dx = new Float64Array(4), db = new Float64Array(2);
 * batchNormBackward(dx, null, db, Float64Array.of(1, 1, 1, 1), x, null, mean, rstd, 2, 2);
 * assert(db[0] === 2 && Math.abs(dx[0]) < 1e-15);
 * ```
 */
export function batchNormBackward(
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
  const s = acc.get(2 * C); // [sum dout | sum dout * norm] per channel
  for (let n = 0; n < N; n++) {
    const o = n * C;
    for (let c = 0; c < C; c++) {
      const g = dout[o + c];
      s[c] += g;
      s[C + c] += g * (inp[o + c] - mean[c]) * rstd[c];
    }
  }
  for (let n = 0; n < N; n++) {
    const o = n * C;
    for (let c = 0; c < C; c++) {
      const w = weight === null ? 1 : weight[c];
      const norm = (inp[o + c] - mean[c]) * rstd[c];
      dinp[o + c] += w * rstd[c] * (dout[o + c] - s[c] / N - norm * s[C + c] / N);
    }
  }
  if (dbias !== null) { for (let c = 0; c < C; c++) dbias[c] += s[c]; }
  if (dweight !== null) { for (let c = 0; c < C; c++) dweight[c] += s[C + c]; }
}
