/**
 * A small seeded PRNG: mulberry32 for uniforms, Marsaglia's polar method for
 * normals. Same
 * seed, same numbers, on every platform (integer math only until the final
 * division), so inits and probe losses are reproducible.
 *
 * @module
 */

import { mix32 } from "../kernels/probe.ts";
export { PROBE_DIRECTION, probeKey, probeRow } from "../kernels/probe.ts";

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
  /** Restarts the sequence from `seed`, as a new `Rng(seed)` would. */
  reseed(seed: number): void {
    this.#s = (seed ^ Math.floor(seed / 4294967296)) >>> 0;
    this.#spare = NaN;
  }
  /** Uniform in (0, 1), never 0 or 1. */
  uniform(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  }
  /** Standard normal N(0, 1) by Marsaglia's polar method (both values of a pair are used). */
  normal(): number {
    const spare = this.#spare;
    if (spare === spare) {
      this.#spare = NaN;
      return spare;
    }
    let u: number, v: number, q: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      q = u * u + v * v;
    } while (q >= 1);
    const f = Math.sqrt((-2 * Math.log(q)) / q);
    this.#spare = v * f;
    return u * f;
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

/**
 * The 32-bit hash of element `index` (< 2^53) of stream `seed`, round `k`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(hashAt(1, 2, 0) !== hashAt(1, 2, 1));
 * ```
 */
export function hashAt(seed: number, index: number, k: number): number {
  const lo = index >>> 0, hi = Math.floor(index / 4294967296) >>> 0;
  const s = mix32((seed >>> 0) ^ Math.imul(k + 1, 0x9e3779b9));
  return mix32(mix32(lo ^ s) ^ Math.imul(hi + 1, 0x27d4eb2f));
}

/**
 * A uniform number in (0, 1) addressed by `(seed, index)` rather than drawn in
 * sequence (counter-based): the value for element `index` never depends on how
 * a stream was cut into batches.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const u = uniformAt(7, 2 ** 40);
 * assert(u > 0 && u < 1 && u === uniformAt(7, 2 ** 40));
 * ```
 */
export function uniformAt(seed: number, index: number): number {
  return (hashAt(seed, index, 0) + 0.5) / 4294967296;
}

/**
 * A standard normal number addressed by `(seed, index)` (Box–Muller on two
 * counter-based uniforms); `index` may be any integer below 2^53.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(normalAt(7, 123456789) === normalAt(7, 123456789));
 * assert(normalAt(7, 1) !== normalAt(8, 1));
 * ```
 */
export function normalAt(seed: number, index: number): number {
  const u1 = (hashAt(seed, index, 0) + 0.5) / 4294967296;
  const u2 = (hashAt(seed, index, 1) + 0.5) / 4294967296;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
