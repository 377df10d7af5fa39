/**
 * Statistics that merge exactly: exact sums, token moments, norms.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const s = new ExactSum();
 * for (const v of [0.1, 0.2, -0.3]) s.add(v);
 * assert(Math.abs(s.value()) < 1e-17);
 * ```
 *
 * @module
 */
export { ExactSum } from "./exact_sum.ts";
export { Moments, type MomentState, type MomentSummary, NormAcc } from "./moments.ts";
