/**
 * AdamW over flat parameter, gradient and moment arrays (as PyTorch's `torch.optim.AdamW`).
 *
 * @module
 */
import type { Floats } from "./types.ts";

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
 * `p ← p − lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + eps)`, with `g` times `gradScale`. The TypeScript
 * reference: float64 arithmetic, stored in the arrays' precision; the WebAssembly backend runs
 * it in float32 SIMD, as PyTorch's float32 AdamW does (`createKernels("wasm", arena).adamw`).
 *
 * @param p the parameters [N] (updated)
 * @param g their gradient [N]
 * @param m the first moments [N] (updated)
 * @param v the second moments [N] (updated)
 * @param N elements
 * @param o the step: learning rate, betas, eps, weight decay, step number, gradient scale
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
  p: Floats,
  g: Floats,
  m: Floats,
  v: Floats,
  N: number,
  o: AdamWStep,
): void {
  const b1 = o.beta1 ?? 0.9, b2 = o.beta2 ?? 0.99, eps = o.eps ?? 1e-8;
  const lr = o.lr, decay = 1 - lr * (o.weightDecay ?? 0), f = o.gradScale ?? 1;
  const c1 = 1 - b1 ** o.t, c2 = 1 - b2 ** o.t;
  for (let i = 0; i < N; i++) {
    const gi = g[i] * f;
    const mi = b1 * m[i] + (1 - b1) * gi;
    const vi = b2 * v[i] + (1 - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
  }
}
