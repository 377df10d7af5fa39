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

/**
 * Exact sum of finite doubles.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const a = new ExactSum(), b = new ExactSum();
 * a.add(1e16); a.add(1); b.add(-1e16);
 * a.merge(b);
 * assert(a.value() === 1); // plain floating-point addition would give 0
 * ```
 */
export class ExactSum {
  #p: number[] = [];

  /** Adds one finite double. */
  add(x: number): void {
    const p = this.#p;
    let i = 0;
    for (let j = 0; j < p.length; j++) {
      let y = p[j];
      if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
      const hi = x + y, lo = y - (hi - x);
      if (lo !== 0) p[i++] = lo;
      x = hi;
    }
    p.length = i;
    p.push(x);
  }

  /** Adds every partial of another sum (exact). */
  merge(o: ExactSum): void {
    for (const v of o.#p) this.add(v);
  }

  /** The exact sum, rounded once to the nearest double. */
  value(): number {
    return sumPrecise(this.#p);
  }

  /**
   * The exact total as a canonical list of doubles for JSON: the rounded total,
   * then the rounded remainder, and so on. Equal totals give equal lists,
   * however the sum was built.
   */
  toJSON(): number[] {
    const out: number[] = [];
    const rest = new ExactSum();
    rest.#p = this.#p.slice();
    for (let v = rest.value(); v !== 0; v = rest.value()) {
      out.push(v);
      rest.add(-v);
    }
    return out;
  }

  /** Rebuilds a sum from `toJSON()` output. */
  static from(partials: readonly number[]): ExactSum {
    const s = new ExactSum();
    for (const v of partials) {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new TypeError(`an exact sum's partials must be finite numbers, got ${v}`);
      }
      s.add(v);
    }
    return s;
  }
}
