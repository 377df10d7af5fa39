/**
 * A small seeded PRNG: mulberry32 for uniforms, Box–Muller for normals. Same
 * seed, same numbers, on every platform (integer math only until the final
 * division), so inits and probe losses are reproducible.
 *
 * @module
 */

/**
 * Seeded generator of uniform and normal numbers.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const a = new Rng(42), b = new Rng(42);
 * assert(a.normal() === b.normal());
 * ```
 */
export class Rng {
  #s: number;
  #spare = NaN;
  /** Seeds with any 32-bit integer (higher bits are folded in). */
  constructor(seed: number) {
    this.#s = (seed ^ Math.floor(seed / 4294967296)) >>> 0;
  }
  /** Uniform in (0, 1), never 0 or 1. */
  uniform(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  }
  /** Standard normal N(0, 1) by Box–Muller (both values of a pair are used). */
  normal(): number {
    if (!Number.isNaN(this.#spare)) {
      const v = this.#spare;
      this.#spare = NaN;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const a = 2 * Math.PI * this.uniform();
    this.#spare = r * Math.sin(a);
    return r * Math.cos(a);
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
  /** Fills `out` with N(mean, std²). */
  fillNormal(out: { length: number; [i: number]: number }, std = 1, mean = 0): void {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
  }
}
