/**
 * What `normalize` computes per token, as two kernels: `normRows` (LayerNorm or RMSNorm of
 * rows, ending at the first row holding a non-finite value when asked) and `normStats` (the
 * same with the probe loss's backward and every per-token statistic into the token's record).
 * These are the TypeScript references; the WebAssembly backend does each row in one pass
 * (`createKernels("wasm", arena)`), and hands rows float32 cannot normalize (a spread and eps
 * below 1e-30, subnormal deviations) to these.
 *
 * @module
 */
import type { Floats } from "./types.ts";
import { layerNormBackward, layerNormForward } from "./layernorm.ts";
import { rmsNormBackward, rmsNormForward } from "./rmsnorm.ts";
import { probeRow } from "./probe.ts";
import { gradStats, rowStats, TOKEN } from "./stats.ts";

/** Whether row `n` of x [·,C] holds a NaN or ±Infinity. */
function nonfinite(x: Floats, n: number, C: number): boolean {
  for (let i = n * C; i < n * C + C; i++) if (!Number.isFinite(x[i])) return true;
  return false;
}

/**
 * LayerNorm (or RMSNorm when `rms`: `mean` unused, no bias) of inp [N,C] into out [N,C], which
 * may be `inp`. With `stop`, the first row holding a NaN or ±Infinity ends the batch, left as
 * it was. Returns the rows done.
 *
 * @param out [N,C]
 * @param mean [N]
 * @param rstd [N]
 * @param inp [N,C]
 * @param weight [C] or null
 * @param bias [C] or null (LayerNorm only)
 * @param N rows
 * @param C channels
 * @param eps added to the variance (mean square)
 * @param rms RMSNorm instead of LayerNorm
 * @param stop end at a non-finite row
 * @returns the rows done
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const x = Float32Array.of(1, 2, 3, 4, NaN, 0);
 * const y = new Float32Array(6), m = new Float32Array(3), r = new Float32Array(3);
 * assert(normRows(y, m, r, x, null, null, 3, 2, 1e-5, false, true) === 2);
 * ```
 */
export function normRows(
  out: Floats,
  mean: Floats,
  rstd: Floats,
  inp: Floats,
  weight: Floats | null,
  bias: Floats | null,
  N: number,
  C: number,
  eps: number,
  rms: boolean,
  stop: boolean,
): number {
  let n = N;
  if (stop) { for (let t = 0; t < N; t++) if (nonfinite(inp, t, C) && (n = t) >= 0) break; }
  if (rms) rmsNormForward(out, rstd, inp, weight, n, C, eps);
  else layerNormForward(out, mean, rstd, inp, weight, bias, n, C, eps);
  return n;
}

/**
 * `normStats`' scratch, grown on demand: a copy of the row (the output may take its place), the
 * probe row and the gradient in float32 as the float32 pipeline keeps them, the row's mean and
 * rstd in float64 for the forward and as float32 for the backward.
 */
const work = {
  x: new Float32Array(0),
  dy: new Float32Array(0),
  dx: new Float32Array(0),
  mean: new Float64Array(1),
  rstd: new Float64Array(1),
  mean32: new Float32Array(1),
  rstd32: new Float32Array(1),
};

/**
 * `normRows` with the probe loss L = Σ y·R (R: `probeRow` of tokens `first …` of stream
 * `seed`) backpropagated, and per row the token's record in `stats` (layout `TOKEN`, `stride`
 * numbers each): the input's and output's moments, ‖∂L/∂y‖², max|∂L/∂y|, ‖∂L/∂x‖²,
 * max|∂L/∂x| and its share of the loss. Returns the rows done.
 *
 * @param out [N,C] (may be `inp`)
 * @param inp [N,C]
 * @param weight [C] or null
 * @param bias [C] or null
 * @param seed the probe stream
 * @param first the global index of row 0
 * @param N rows
 * @param C channels
 * @param eps added to the variance
 * @param rms RMSNorm instead of LayerNorm
 * @param stats the records (float64)
 * @param stride numbers per record
 * @param stop end at a non-finite row
 * @returns the rows done
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { TOKEN, TOKEN_FIELDS } from "./stats.ts";
 * const x = Float32Array.of(1, 2, 3, 4), y = new Float32Array(4);
 * const st = new Float64Array(TOKEN_FIELDS);
 * normStats(y, x, null, null, 0, 0, 1, 4, 1e-5, false, st, TOKEN_FIELDS, true);
 * assert(st[TOKEN.IN] === 10 && st[TOKEN.DY_SQ] === 4); // Σx; ‖R‖² = C
 * ```
 */
export function normStats(
  out: Floats,
  inp: Floats,
  weight: Floats | null,
  bias: Floats | null,
  seed: number,
  first: number,
  N: number,
  C: number,
  eps: number,
  rms: boolean,
  stats: Float64Array,
  stride: number,
  stop: boolean,
): number {
  if (work.x.length < C) {
    for (const k of ["x", "dy", "dx"] as const) work[k] = new Float32Array(C);
  }
  const x = work.x.subarray(0, C), dy = work.dy.subarray(0, C), dx = work.dx.subarray(0, C);
  const { mean, rstd, mean32, rstd32 } = work;
  for (let n = 0; n < N; n++) {
    const st = stats.subarray(n * stride);
    x.set(inp.subarray(n * C, n * C + C)); // the output may take the input's place
    rowStats(st, x, 1, C, stride, TOKEN.IN);
    if (stop && !Number.isFinite(st[TOKEN.IN])) return n;
    const y = out.subarray(n * C, n * C + C);
    if (rms) rmsNormForward(y, rstd, x, weight, 1, C, eps);
    else layerNormForward(y, mean, rstd, x, weight, bias, 1, C, eps);
    rowStats(st, y, 1, C, stride, TOKEN.OUT);
    probeRow(dy, 0, seed, first + n, C);
    dx.fill(0);
    [mean32[0], rstd32[0]] = [mean[0], rstd[0]];
    if (rms) rmsNormBackward(dx, null, dy, x, weight, rstd32, 1, C);
    else layerNormBackward(dx, null, null, dy, x, weight, mean32, rstd32, 1, C);
    gradStats(st, y, dy, dx, 1, C, stride, TOKEN.DY_SQ);
  }
  return N;
}
