/**
 * AdamW over flat parameter, gradient and moment arrays (as PyTorch's `torch.optim.AdamW`).
 *
 * @module
 */
import { wasmKernelsOf } from "../kernels/wasm.ts";

/** AdamW's hyper-parameters for one update. */
export interface AdamWStep {
  /** learning rate of this step */
  lr: number;
  /** first-moment decay (default 0.9) */
  beta1?: number;
  /** second-moment decay (default 0.99, as nanoGPT's character model) */
  beta2?: number;
  /** added to √v̂ (default 1e-8) */
  eps?: number;
  /** decoupled weight decay of these parameters (0 for biases, gains and norms) */
  weightDecay?: number;
  /** 1-based step count, for the bias corrections */
  t: number;
  /** multiplies the gradient first, e.g. a clipping factor (default 1; `g` is not changed) */
  gradScale?: number;
}

/**
 * One AdamW update of `N` parameters in place:
 * `p ← p·(1 − lr·wd)`, `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
 * `p ← p − lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + eps)`, with `g` times `gradScale`. When all four
 * arrays are float32 in one wasm arena the update runs in WebAssembly SIMD in float32, as
 * PyTorch's float32 AdamW does; otherwise in TypeScript, in float64, stored in the arrays'
 * precision.
 *
 * @example
 * ```ts
 * import { assertAlmostEquals } from "@std/assert";
 * // p, g, m, v: [N]
 * const p = Float32Array.of(1), g = Float32Array.of(0.5);
 * const m = new Float32Array(1), v = new Float32Array(1);
 * adamwUpdate(p, g, m, v, 1, { lr: 0.1, t: 1 });
 * assertAlmostEquals(p[0], 0.9, 1e-6); // the first step moves by lr·sign(g)
 * ```
 */
export function adamwUpdate(
  p: Float32Array | Float64Array,
  g: Float32Array | Float64Array,
  m: Float32Array | Float64Array,
  v: Float32Array | Float64Array,
  N: number,
  o: AdamWStep,
): void {
  const b1 = o.beta1 ?? 0.9, b2 = o.beta2 ?? 0.99, eps = o.eps ?? 1e-8;
  const lr = o.lr, decay = 1 - lr * (o.weightDecay ?? 0), f = o.gradScale ?? 1;
  const c1 = 1 - b1 ** o.t, c2 = 1 - b2 ** o.t;
  const k = wasmKernelsOf(p, g, m, v);
  if (k !== null) {
    const step = lr / c1, rc2 = 1 / Math.sqrt(c2);
    return k.adamw(p as Float32Array, g as Float32Array, m as Float32Array, v as Float32Array, N, {
      gscale: f,
      b1,
      b2,
      eps,
      decay,
      step,
      rc2,
    });
  }
  for (let i = 0; i < N; i++) {
    const gi = g[i] * f;
    const mi = b1 * m[i] + (1 - b1) * gi;
    const vi = b2 * v[i] + (1 - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
  }
}

/**
 * The factor that clips a gradient of global norm `norm` (`gradStat(g).l2`, or the square root
 * of the backend's `sumSq`) to at most `clip` (PyTorch's
 * `clip_grad_norm_`: `clip / (norm + 1e-6)` when that is below 1); `clip` 0 = off.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * assertEquals(clipScale(0.5, 1), 1);
 * assertEquals(clipScale(4, 0), 1);
 * ```
 */
export function clipScale(norm: number, clip: number): number {
  if (clip <= 0) return 1;
  const f = clip / (norm + 1e-6);
  return f < 1 ? f : 1;
}
