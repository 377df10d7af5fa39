/**
 * AdamW (the kernel is `adamwUpdate` in lib/kernels, re-exported here) and gradient clipping.
 *
 * @module
 */
export { type AdamWStep, adamwUpdate } from "../kernels/adamw.ts";

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
