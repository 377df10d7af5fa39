/**
 * Reusable float64 scratch for accumulators, grown on demand and never freed:
 * kernels accumulate in float64 without allocating on every call.
 *
 * @module
 */

/**
 * A named, growable float64 scratch buffer. Each kernel keeps its own; the
 * returned view is valid until that kernel's next call.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const s = new Scratch();
 * const a = s.get(8);
 * assert(a.length === 8 && a[0] === 0);
 * ```
 */
export class Scratch {
  #buf = new Float64Array(0);
  /** A zeroed view of `n` float64s. */
  get(n: number): Float64Array {
    if (this.#buf.length < n) {
      this.#buf = new Float64Array(Math.max(n, this.#buf.length * 2));
      return this.#buf.subarray(0, n);
    }
    const v = this.#buf.subarray(0, n);
    v.fill(0);
    return v;
  }
}
