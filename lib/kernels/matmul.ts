/**
 * Dense layer `out = inp @ weight + bias` with weights stored `[in, out]`
 * (GPT-2's Conv1D layout), forward and backward.
 *
 * @module
 */
import type { Floats } from "./types.ts";

import { Scratch } from "./scratch.ts";

const bsum = new Scratch();
let t32a = new Float32Array(0), t32b = new Float32Array(0);
let t64a = new Float64Array(0), t64b = new Float64Array(0);

/** A reusable buffer of the same precision as `like`, for transposes. */
function transposeBuffer(like: Floats, n: number, second: boolean): Floats {
  if (like instanceof Float32Array) {
    if (second) {
      if (t32b.length < n) t32b = new Float32Array(n);
      return t32b;
    }
    if (t32a.length < n) t32a = new Float32Array(n);
    return t32a;
  }
  if (second) {
    if (t64b.length < n) t64b = new Float64Array(n);
    return t64b;
  }
  if (t64a.length < n) t64a = new Float64Array(n);
  return t64a;
}

/** dst [cols,rows] = srcᵀ, src [rows,cols] */
function transpose(dst: Floats, src: Floats, rows: number, cols: number) {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[o + c];
  }
}

/**
 * Dot products of rows: `out[m,n] (+)= Σ_k A[m,k]·B[n,k] (+ bias[n])`, in
 * float64 accumulators, two rows of A by four rows of B at a time.
 *
 * A [M,K]; B [N,K]; out [M,N]; bias [N]
 *
 * @param out A @ Bᵀ (+ bias) [M,N] (written, or added to)
 * @param A [M,K]
 * @param B [N,K]
 * @param M rows of A
 * @param N rows of B
 * @param K the shared length
 * @param bias [N], or null
 * @param accumulate add to `out` rather than overwrite it
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const out = new Float64Array(1);
 * gemmNT(out, Float64Array.of(1, 2), Float64Array.of(3, 4), 1, 1, 2, null, false);
 * assert(out[0] === 11);
 * ```
 */
export function gemmNT(
  out: Floats,
  A: Floats,
  B: Floats,
  M: number,
  N: number,
  K: number,
  bias: Floats | null,
  accumulate: boolean,
): void {
  let m = 0;
  for (; m + 1 < M; m += 2) {
    const a0 = m * K, a1 = a0 + K;
    const o0 = m * N, o1 = o0 + N;
    let n = 0;
    for (; n + 3 < N; n += 4) {
      const b0 = n * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = A[a0 + k], x1 = A[a1 + k];
        const w0 = B[b0 + k], w1 = B[b1 + k], w2 = B[b2 + k], w3 = B[b3 + k];
        s00 += x0 * w0;
        s01 += x0 * w1;
        s02 += x0 * w2;
        s03 += x0 * w3;
        s10 += x1 * w0;
        s11 += x1 * w1;
        s12 += x1 * w2;
        s13 += x1 * w3;
      }
      if (bias !== null) {
        const c0 = bias[n], c1 = bias[n + 1], c2 = bias[n + 2], c3 = bias[n + 3];
        s00 += c0, s01 += c1, s02 += c2, s03 += c3;
        s10 += c0, s11 += c1, s12 += c2, s13 += c3;
      }
      if (accumulate) {
        s00 += out[o0 + n], s01 += out[o0 + n + 1], s02 += out[o0 + n + 2], s03 += out[o0 + n + 3];
        s10 += out[o1 + n], s11 += out[o1 + n + 1], s12 += out[o1 + n + 2], s13 += out[o1 + n + 3];
      }
      out[o0 + n] = s00, out[o0 + n + 1] = s01, out[o0 + n + 2] = s02, out[o0 + n + 3] = s03;
      out[o1 + n] = s10, out[o1 + n + 1] = s11, out[o1 + n + 2] = s12, out[o1 + n + 3] = s13;
    }
    for (; n < N; n++) {
      const b0 = n * K;
      let s0 = 0, s1 = 0;
      for (let k = 0; k < K; k++) {
        s0 += A[a0 + k] * B[b0 + k];
        s1 += A[a1 + k] * B[b0 + k];
      }
      if (bias !== null) s0 += bias[n], s1 += bias[n];
      if (accumulate) s0 += out[o0 + n], s1 += out[o1 + n];
      out[o0 + n] = s0;
      out[o1 + n] = s1;
    }
  }
  for (; m < M; m++) {
    const a0 = m * K, o0 = m * N;
    for (let n = 0; n < N; n++) {
      const b0 = n * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[a0 + k] * B[b0 + k];
      if (bias !== null) s += bias[n];
      if (accumulate) s += out[o0 + n];
      out[o0 + n] = s;
    }
  }
}

/**
 * Dense forward: `out = inp @ weight + bias` (`bias` may be null).
 *
 * inp [N,Cin]; weight [Cin,Cout]; bias [Cout]; out [N,Cout]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param out inp @ weight + bias [N,Cout] (written)
 * @param inp the rows [N,Cin]
 * @param weight the matrix [Cin,Cout]
 * @param bias [Cout], or null
 * @param N rows
 * @param Cin input channels
 * @param Cout output channels
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const out = new Float32Array(2);
 * // [1, 2] @ [[1, 0], [0, 1]] + [10, 20]
 * matmulForward(out, Float32Array.of(1, 2), Float32Array.of(1, 0, 0, 1), Float32Array.of(10, 20), 1, 2, 2);
 * assert(out[0] === 11 && out[1] === 22);
 * ```
 */
export function matmulForward(
  out: Floats,
  inp: Floats,
  weight: Floats,
  bias: Floats | null,
  N: number,
  Cin: number,
  Cout: number,
): void {
  const wt = transposeBuffer(weight, Cin * Cout, false);
  transpose(wt, weight, Cin, Cout);
  gemmNT(out, inp, wt, N, Cout, Cin, bias, false);
}

/**
 * Dense backward; accumulates into `dinp`, `dweight`, `dbias` (any may be
 * null when not wanted).
 *
 * dout [N,Cout]; inp, dinp [N,Cin]; weight, dweight [Cin,Cout]; dbias [Cout]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param dinp ∂L/∂inp [N,Cin] (added to)
 * @param dweight ∂L/∂weight [Cin,Cout] (added to)
 * @param dbias ∂L/∂bias [Cout] (added to), or null
 * @param dout ∂L/∂out [N,Cout]
 * @param inp the forward pass's rows [N,Cin]
 * @param weight the matrix [Cin,Cout]
 * @param N rows
 * @param Cin input channels
 * @param Cout output channels
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const dx = new Float64Array(2), dw = new Float64Array(4), db = new Float64Array(2);
 * matmulBackward(dx, dw, db, Float64Array.of(1, 0), Float64Array.of(1, 2), Float64Array.of(1, 2, 3, 4), 1, 2, 2);
 * assert(dx[0] === 1 && dx[1] === 3 && dw[2] === 2 && db[0] === 1);
 * ```
 */
export function matmulBackward(
  dinp: Floats | null,
  dweight: Floats | null,
  dbias: Floats | null,
  dout: Floats,
  inp: Floats,
  weight: Floats,
  N: number,
  Cin: number,
  Cout: number,
): void {
  if (dinp !== null) gemmNT(dinp, dout, weight, N, Cin, Cout, null, true);
  if (dweight !== null) {
    const it = transposeBuffer(inp, Cin * N, false);
    const dt = transposeBuffer(dout, Cout * N, true);
    transpose(it, inp, N, Cin);
    transpose(dt, dout, N, Cout);
    gemmNT(dweight, it, dt, Cin, Cout, N, null, true);
  }
  if (dbias !== null) {
    const s = bsum.get(Cout);
    for (let n = 0; n < N; n++) {
      const o = n * Cout;
      for (let c = 0; c < Cout; c++) s[c] += dout[o + c];
    }
    for (let c = 0; c < Cout; c++) dbias[c] += s[c];
  }
}
