/**
 * The learning-rate schedule of `train`: linear warm-up, then cosine decay to a floor.
 *
 * @module
 */

/** The schedule's settings. */
export interface Schedule {
  /** peak learning rate, reached at the end of the warm-up */
  lr: number;
  /** floor of the cosine decay, reached at `iters` */
  minLr: number;
  /** warm-up steps; 0 = none: step 0 already uses `lr` */
  warmup: number;
  /** step at which the decay reaches `minLr` (the run's length) */
  iters: number;
}

/**
 * The learning rate of step `step` (0-based), as nanoGPT's `get_lr`: `lr·(step+1)/(warmup+1)`
 * during the warm-up, then `minLr + ½(1 + cos(π·r))·(lr − minLr)` with
 * `r = (step − warmup)/(iters − warmup)`, and `minLr` past `iters`.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const s = { lr: 1e-3, minLr: 1e-4, warmup: 0, iters: 2000 };
 * assertEquals(lrAt(0, s), 1e-3); // no warm-up: the peak from the first step
 * assertEquals(lrAt(2000, s), 1e-4);
 * ```
 */
export function lrAt(step: number, s: Schedule): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / (s.warmup + 1);
  if (step >= s.iters) return s.minLr;
  const r = (step - s.warmup) / Math.max(1, s.iters - s.warmup);
  const lr = s.minLr + 0.5 * (1 + Math.cos(Math.PI * r)) * (s.lr - s.minLr);
  return Math.min(s.lr, Math.max(s.minLr, lr)); // no rounding past either end
}

/**
 * A warning for a schedule that never reaches its peak: the warm-up lasts the whole run
 * (`warmup ≥ iters`, so the steps run at most `lr·iters/(warmup+1)`); null when it does.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(scheduleWarning({ lr: 1e-3, minLr: 1e-4, warmup: 100, iters: 50 })!.includes("5.0e-4"));
 * assert(scheduleWarning({ lr: 1e-3, minLr: 1e-4, warmup: 100, iters: 2000 }) === null);
 * ```
 */
export function scheduleWarning(s: Schedule): string | null {
  if (s.warmup < s.iters || s.iters === 0) return null;
  const peak = lrAt(s.iters - 1, s);
  return `\`warmup\` ${s.warmup} ≥ \`iters\` ${s.iters}: the learning rate never reaches ` +
    `\`lr\` ${s.lr} (its last step runs at ${peak.toExponential(1)}, still warming up)`;
}
