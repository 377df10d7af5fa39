/**
 * Multi-head scaled dot-product self-attention over a packed `qkv` tensor, as
 * in GPT-2 / nanoGPT: head h uses channels `h·hd … (h+1)·hd` of q, k and v.
 * The projections around it (`x @ W_attn + b_attn`, `… @ W_proj + b_proj`)
 * are plain matmuls; see `lib/model/`.
 *
 * @module
 */
import type { Floats } from "./types.ts";

import { Scratch } from "./scratch.ts";

const rowScratch = new Scratch();
const gradScratch = new Scratch();

/**
 * Attention forward. `att[b,h,t,:]` = softmax(q_t·k_j / √hd) over keys
 * `j ≤ t` (causal; masked entries exactly 0) or all `j` (`causal = false`);
 * `out[b,t,h·hd + i] = Σ_j att[b,h,t,j] · v_j[i]`.
 *
 * qkv [B,T,3C]; att [B,NH,T,T]; out [B,T,C]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param out the heads' outputs, concatenated [B,T,C] (written)
 * @param att the attention weights [B,NH,T,T] (written)
 * @param qkv queries, keys and values [B,T,3C]
 * @param B sequences
 * @param T tokens per sequence
 * @param C channels
 * @param NH heads (dividing C)
 * @param causal each token attends to itself and earlier ones only (default true)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * // B=1, T=2, C=1, one head: q = k = 0, so the causal weights are uniform
 * const qkv = Float64Array.of(0, 0, 5, 0, 0, 7), att = new Float64Array(4), out = new Float64Array(2);
 * attentionForward(out, att, qkv, 1, 2, 1, 1);
 * assert(out[0] === 5 && out[1] === 6 && att[1] === 0);
 * ```
 */
export function attentionForward(
  out: Floats,
  att: Floats,
  qkv: Floats,
  B: number,
  T: number,
  C: number,
  NH: number,
  causal = true,
): void {
  const hd = C / NH, C3 = 3 * C, scale = 1 / Math.sqrt(hd);
  const acc = rowScratch.get(T + hd); // [scores | output accumulator]
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * C3 + h * hd;
        const ao = ((b * NH + h) * T + t) * T;
        const len = causal ? t + 1 : T;
        let mx = -Infinity;
        for (let j = 0; j < len; j++) {
          const k = (b * T + j) * C3 + C + h * hd;
          let s = 0;
          for (let i = 0; i < hd; i++) s += qkv[q + i] * qkv[k + i];
          s *= scale;
          acc[j] = s;
          if (s > mx) mx = s;
        }
        let sum = 0;
        for (let j = 0; j < len; j++) {
          const e = Math.exp(acc[j] - mx);
          acc[j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = 0; j < len; j++) acc[j] *= inv;
        for (let i = 0; i < hd; i++) acc[T + i] = 0;
        for (let j = 0; j < len; j++) {
          const a = acc[j];
          att[ao + j] = a;
          const v = (b * T + j) * C3 + 2 * C + h * hd;
          for (let i = 0; i < hd; i++) acc[T + i] += a * qkv[v + i];
        }
        for (let j = len; j < T; j++) att[ao + j] = 0;
        const o = (b * T + t) * C + h * hd;
        for (let i = 0; i < hd; i++) out[o + i] = acc[T + i];
      }
    }
  }
}

/**
 * Attention backward; accumulates into `dqkv` (float64 sums over all queries
 * before one add per element). `att` is the forward's.
 *
 * dout [B,T,C]; qkv, dqkv [B,T,3C]; att [B,NH,T,T]
 *
 * The TypeScript reference (float64 accumulation, either precision); the WebAssembly and
 * OpenBLAS backends give the same through `createKernels(backend)`.
 *
 * @param dqkv ∂L/∂qkv [B,T,3C] (added to)
 * @param dout ∂L/∂out [B,T,C]
 * @param qkv the forward pass's queries, keys and values [B,T,3C]
 * @param att the forward pass's weights [B,NH,T,T]
 * @param B sequences
 * @param T tokens per sequence
 * @param C channels
 * @param NH heads
 * @param causal as in the forward pass (default true)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const qkv = Float64Array.of(0, 0, 5, 0, 0, 7), att = new Float64Array(4), out = new Float64Array(2);
 * attentionForward(out, att, qkv, 1, 2, 1, 1);
 * const dqkv = new Float64Array(6);
 * attentionBackward(dqkv, Float64Array.of(1, 1), qkv, att, 1, 2, 1, 1);
 * assert(dqkv[2] === 1.5 && dqkv[5] === 0.5); // dL/dv = Σ_t att[t, j]
 * ```
 */
export function attentionBackward(
  dqkv: Floats,
  dout: Floats,
  qkv: Floats,
  att: Floats,
  B: number,
  T: number,
  C: number,
  NH: number,
  causal = true,
): void {
  const hd = C / NH, C3 = 3 * C, scale = 1 / Math.sqrt(hd);
  const g = gradScratch.get(B * T * C3 + T); // [dqkv in float64 | datt row]
  const datt = B * T * C3;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * C3 + h * hd;
        const ao = ((b * NH + h) * T + t) * T;
        const o = (b * T + t) * C + h * hd;
        const len = causal ? t + 1 : T;
        // dL/datt and dL/dv
        let s = 0;
        for (let j = 0; j < len; j++) {
          const v = (b * T + j) * C3 + 2 * C + h * hd;
          const a = att[ao + j];
          let d = 0;
          for (let i = 0; i < hd; i++) {
            d += qkv[v + i] * dout[o + i];
            g[v + i] += a * dout[o + i];
          }
          g[datt + j] = d;
          s += a * d;
        }
        // through the softmax, then into q and k
        for (let j = 0; j < len; j++) {
          const dp = att[ao + j] * (g[datt + j] - s) * scale;
          const k = (b * T + j) * C3 + C + h * hd;
          for (let i = 0; i < hd; i++) {
            g[q + i] += dp * qkv[k + i];
            g[k + i] += dp * qkv[q + i];
          }
        }
      }
    }
  }
  for (let i = 0; i < B * T * C3; i++) dqkv[i] += g[i];
}
