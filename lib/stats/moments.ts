/**
 * Moments of a stream of tokens (count, mean, std, min, max over every
 * element) built from per-token summaries and exact sums, so the result is the
 * same whatever the batching, worker count or sharding.
 *
 * @module
 */
import { ExactSum, type Partials } from "./exact_sum.ts";

/** What a moments summary reports. */
export interface MomentSummary {
  /** finite elements counted */
  count: number;
  /** mean over all elements */
  mean: number;
  /** population std over all elements */
  std: number;
  /** smallest element (null when empty) */
  min: number | null;
  /** largest element (null when empty) */
  max: number | null;
}

/** The mergeable state, as written in stats files. */
export interface MomentState {
  /** element count */
  n: number;
  /** tokens counted */
  tokens: number;
  /** partials of Σ token sums */
  s: Partials;
  /** partials of Σ (token sum)² / C */
  q: Partials;
  /** partials of Σ token M2 (squared deviations from the token's own mean) */
  m2: Partials;
  /** min over elements */
  min: number | null;
  /** max over elements */
  max: number | null;
}

/**
 * Accumulates per-token moments. A token contributes its element count C, its
 * sum, its M2 (two-pass, around its own mean), its min and max; the total
 * M2 = Σ M2_t + Σ s_t²/C − S²/n.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const m = new Moments();
 * m.addToken(2, 3, 0.5, 1, 2); // token [1, 2]: sum 3, M2 0.5
 * m.addToken(2, 7, 0.5, 3, 4); // token [3, 4]
 * const s = m.summary();
 * assert(s.mean === 2.5 && Math.abs(s.std - Math.sqrt(1.25)) < 1e-15 && s.max === 4);
 * ```
 */
export class Moments {
  #n = 0;
  #tokens = 0;
  #s = new ExactSum();
  #q = new ExactSum();
  #m2 = new ExactSum();
  #min = Infinity;
  #max = -Infinity;

  /** Adds one token of C elements with sum `s`, own-mean M2 `m2`, min and max. */
  addToken(C: number, s: number, m2: number, min: number, max: number): void {
    if (C === 0) return;
    this.#n += C;
    this.#tokens++;
    this.#s.add(s);
    this.#q.add((s * s) / C);
    this.#m2.add(m2);
    if (min < this.#min) this.#min = min;
    if (max > this.#max) this.#max = max;
  }

  /**
   * Adds tokens of C elements each, given their sums, own-mean M2s (parallel lists, used up)
   * and the tokens' overall min and max: the same state as one `addToken` per token.
   *
   * @example
   * ```ts
   * import { assert } from "@std/assert";
   * const a = new Moments(), b = new Moments();
   * a.addToken(2, 3, 0.5, 1, 2);
   * a.addToken(2, 7, 0.5, 3, 4);
   * b.addTokens(2, [3, 7], [0.5, 0.5], 1, 4);
   * assert(JSON.stringify(a) === JSON.stringify(b));
   * ```
   */
  addTokens(C: number, sums: number[], m2s: number[], min: number, max: number): void {
    this.addSums(C, sums.length, sums, sums.map((s) => (s * s) / C), m2s, min, max);
  }

  /**
   * Adds `tokens` tokens of C elements each from lists of doubles (used up) whose exact sums are
   * the tokens' Σ sums, Σ (sum²/C) and Σ M2 — any lists with those exact totals give the same
   * state — and their overall min and max.
   *
   * @example
   * ```ts
   * import { assert } from "@std/assert";
   * const a = new Moments(), b = new Moments();
   * a.addTokens(2, [3, 7], [0.5, 0.5], 1, 4);
   * b.addSums(2, 2, [10], [4.5, 24.5], [1], 1, 4);
   * assert(JSON.stringify(a) === JSON.stringify(b));
   * ```
   */
  addSums(
    C: number,
    tokens: number,
    s: number[],
    q: number[],
    m2: number[],
    min: number,
    max: number,
  ): void {
    if (C === 0 || tokens === 0) return;
    this.#n += C * tokens;
    this.#tokens += tokens;
    this.#s.addAll(s);
    this.#q.addAll(q);
    this.#m2.addAll(m2);
    if (min < this.#min) this.#min = min;
    if (max > this.#max) this.#max = max;
  }

  /** Merges another accumulator (exact). */
  merge(o: Moments): void {
    this.#n += o.#n;
    this.#tokens += o.#tokens;
    this.#s.merge(o.#s);
    this.#q.merge(o.#q);
    this.#m2.merge(o.#m2);
    if (o.#min < this.#min) this.#min = o.#min;
    if (o.#max > this.#max) this.#max = o.#max;
  }

  /** Elements counted. */
  get count(): number {
    return this.#n;
  }

  /** count, mean, std, min, max. */
  summary(): MomentSummary {
    const n = this.#n;
    if (n === 0) return { count: 0, mean: 0, std: 0, min: null, max: null };
    const S = this.#s.value();
    const between = new ExactSum();
    between.merge(this.#q);
    between.add(-(S * S) / n);
    const m2 = this.#m2.value() + Math.max(0, between.value());
    return { count: n, mean: S / n, std: Math.sqrt(m2 / n), min: this.#min, max: this.#max };
  }

  /** The mergeable state. */
  toJSON(): MomentState {
    const fin = (v: number) => (Number.isFinite(v) ? v : null);
    return {
      n: this.#n,
      tokens: this.#tokens,
      s: this.#s.toJSON(),
      q: this.#q.toJSON(),
      m2: this.#m2.toJSON(),
      min: fin(this.#min),
      max: fin(this.#max),
    };
  }

  /** Rebuilds from `toJSON()` output. */
  static from(st: MomentState): Moments {
    const m = new Moments();
    if (typeof st?.n !== "number" || !Array.isArray(st.s)) {
      throw new TypeError("not a moments state: needs n, tokens, s, q, m2, min, max");
    }
    m.#n = st.n;
    m.#tokens = st.tokens;
    m.#s = ExactSum.from(st.s);
    m.#q = ExactSum.from(st.q);
    m.#m2 = ExactSum.from(st.m2);
    m.#min = st.min ?? Infinity;
    m.#max = st.max ?? -Infinity;
    return m;
  }
}

/** The mergeable state of a `NormAcc`. */
export interface NormState {
  /** Σ of the tokens' squared norms, as exact partials */
  sq: Partials;
  /** the largest |element| */
  max_abs: number;
}

/**
 * Accumulates an l2 norm and max |v| from per-token sums of squares, exactly.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const a = new NormAcc();
 * a.addToken(9, 3);
 * a.addToken(16, 4);
 * assert(a.l2() === 5 && a.maxAbs === 4);
 * ```
 */
export class NormAcc {
  #sq = new ExactSum();
  /** largest |v| seen */
  maxAbs = 0;
  /** Adds a token's Σv² and max |v|. */
  addToken(sumSq: number, maxAbs: number): void {
    this.#sq.add(sumSq);
    if (maxAbs > this.maxAbs) this.maxAbs = maxAbs;
  }
  /**
   * Adds tokens given their Σv² (a list, used up) and their overall max |v|: the same state
   * as one `addToken` per token.
   *
   * @example
   * ```ts
   * import { assert } from "@std/assert";
   * const a = new NormAcc();
   * a.addTokens([9, 16], 4);
   * assert(a.l2() === 5 && a.maxAbs === 4);
   * ```
   */
  addTokens(sumSqs: number[], maxAbs: number): void {
    this.#sq.addAll(sumSqs);
    if (maxAbs > this.maxAbs) this.maxAbs = maxAbs;
  }

  /** Merges another accumulator. */
  merge(o: NormAcc): void {
    this.#sq.merge(o.#sq);
    if (o.maxAbs > this.maxAbs) this.maxAbs = o.maxAbs;
  }
  /** √Σv² */
  l2(): number {
    return Math.sqrt(this.#sq.value());
  }
  /** The mergeable state. */
  toJSON(): NormState {
    return { sq: this.#sq.toJSON(), max_abs: this.maxAbs };
  }
  /** Rebuilds from `toJSON()` output. */
  static from(st: NormState): NormAcc {
    const a = new NormAcc();
    a.#sq = ExactSum.from(st.sq);
    a.maxAbs = st.max_abs;
    return a;
  }
}
