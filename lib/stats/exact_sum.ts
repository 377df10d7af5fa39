/**
 * An exact running sum of doubles (Shewchuk's non-overlapping partials, as in
 * Python's `math.fsum`). The value is the correctly rounded exact sum, so it
 * does not depend on the order of additions or on how sums were split and
 * merged: shards summed apart and merged give the same bits as one pass.
 *
 * @module
 */

/** ES2026 `Math.sumPrecise`: the correctly rounded sum of the values. */
const sumPrecise = (Math as unknown as { sumPrecise(v: Iterable<number>): number }).sumPrecise;

/** An exact sum in JSON: finite partials, or one string for a non-finite total. */
export type Partials = (number | string)[];

/**
 * Exact sum of doubles. Finite values are summed exactly; NaN and ±Infinity (or a sum that
 * overflows) make the total non-finite, as plain addition would, and are kept apart so the
 * partials stay finite.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const a = new ExactSum(), b = new ExactSum();
 * a.add(1e16); a.add(1); b.add(-1e16);
 * a.merge(b);
 * assert(a.value() === 1); // plain floating-point addition would give 0
 * a.add(NaN);
 * assert(Number.isNaN(a.value()) && a.toJSON()[0] === "NaN");
 * ```
 */
export class ExactSum {
  #p: number[] = [];
  /** the sum of the non-finite values added (0 while there are none) */
  #special = 0;

  /** Adds one double. */
  add(x: number): void {
    if (!Number.isFinite(x)) {
      this.#special += x;
      return;
    }
    const p = this.#p, len = p.length;
    let i = 0;
    for (let j = 0; j < len; j++) {
      const y = p[j];
      // two-sum of x and y, the larger first (no array swap: this is the hot loop)
      let hi: number, lo: number;
      if (Math.abs(x) < Math.abs(y)) {
        hi = y + x;
        lo = x - (hi - y);
      } else {
        hi = x + y;
        lo = y - (hi - x);
      }
      if (!Number.isFinite(hi)) {
        // the finite values overflow: the total is ±Infinity (no partial may hold it)
        this.#special += hi;
        p.splice(i, j - i);
        return;
      }
      if (lo !== 0) p[i++] = lo;
      x = hi;
    }
    if (i !== len) p.length = i;
    p.push(x); // finite: an overflowing two-sum returned above
  }

  /**
   * Adds every value of `values` exactly, as many `add` calls would, but through native
   * correctly rounded sums of the whole list: its rounded sum, then the rounding of what is left
   * (the list with the parts found so far subtracted), until nothing is. `values` is used up (the
   * parts are pushed onto it).
   *
   * @example
   * ```ts
   * import { assert } from "@std/assert";
   * const a = new ExactSum(), b = new ExactSum(), v = [1e16, 1, -1e16, 0.1, 1e-300];
   * for (const x of v) a.add(x);
   * b.addAll([...v]);
   * assert(JSON.stringify(a.toJSON()) === JSON.stringify(b.toJSON()));
   * ```
   */
  addAll(values: number[]): void {
    for (let i = 0; i < values.length; i++) {
      if (Number.isFinite(values[i])) continue;
      // rare: the non-finite ones apart, the rest as usual
      const finite = values.filter(Number.isFinite);
      for (const v of values) if (!Number.isFinite(v)) this.#special += v;
      return this.addAll(finite);
    }
    // each round's part is the rounding of a remainder smaller than the last: within 40
    // rounds it is 0 for any list of doubles (2^11 exponents / 53 bits), or ±Infinity
    for (let round = 0; round < 64; round++) {
      const v = sumPrecise(values);
      if (v === 0) return;
      this.add(v);
      if (!Number.isFinite(v)) return;
      values.push(-v);
    }
    throw new Error("ExactSum.addAll: the remainder did not vanish");
  }

  /** Adds every partial of another sum (exact). */
  merge(o: ExactSum): void {
    for (const v of o.#p) this.add(v);
    this.#special += o.#special;
  }

  /** The exact sum, rounded once to the nearest double (NaN or ±Infinity when not finite). */
  value(): number {
    if (this.#special !== 0) return this.#special;
    return sumPrecise(this.#p);
  }

  /**
   * The exact total as a canonical list of doubles for JSON: the rounded total, then the
   * rounded remainder, and so on. Equal totals give equal lists, however the sum was built. A
   * non-finite total is `["NaN"]`, `["Infinity"]` or `["-Infinity"]` (JSON has no such numbers).
   */
  toJSON(): Partials {
    if (this.#special !== 0) return [String(this.#special)];
    const out: number[] = [];
    const rest = new ExactSum();
    rest.#p = this.#p.slice();
    for (let v = rest.value(); v !== 0; v = rest.value()) {
      out.push(v);
      rest.add(-v);
    }
    return out;
  }

  /** Rebuilds a sum from `toJSON()` output; throws a `TypeError` on anything else. */
  static from(partials: unknown): ExactSum {
    if (!Array.isArray(partials)) {
      throw new TypeError(`an exact sum is a list of numbers, got ${JSON.stringify(partials)}`);
    }
    const s = new ExactSum();
    for (const v of partials) {
      if (v === "NaN" || v === "Infinity" || v === "-Infinity") s.#special += Number(v);
      else if (typeof v === "number" && Number.isFinite(v)) s.add(v);
      else throw new TypeError(`an exact sum's partials must be finite numbers, got ${v}`);
    }
    return s;
  }
}
