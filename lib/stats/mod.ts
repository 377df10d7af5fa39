/**
 * Statistics that merge exactly: exact sums, token moments, norms.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const s = new ExactSum();
 * for (const v of [1e100, 1, -1e100]) s.add(v);
 * assert(s.value() === 1);
 * ```
 *
 * @module
 */
export { ExactSum, type Partials } from "./exact_sum.ts";
export {
  Moments,
  type MomentState,
  type MomentSummary,
  NormAcc,
  type NormState,
} from "./moments.ts";
