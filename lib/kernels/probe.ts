/**
 * The probe direction R of the probe loss L = Σ y·R: a Rademacher direction per global token,
 * a pure function of the stream's seed and the token's index, so a token's row never depends
 * on how the stream was batched or sharded. `probeRow` is the TypeScript reference; the
 * WebAssembly kernel `probeFill` gives the same numbers, bit for bit.
 *
 * @module
 */

/**
 * 32-bit integer mix (murmur3's finalizer).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(mix32(1) !== mix32(2) && mix32(0) === 0);
 * ```
 */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The name of the probe direction's definition (`probeRow`), written into the summaries' config
 * so that `stats merge` refuses to mix statistics of different probe directions (0.2's
 * Irwin–Hall direction had no name).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(PROBE_DIRECTION === "rademacher");
 * ```
 */
export const PROBE_DIRECTION = "rademacher";

/**
 * The 32-bit key of global token `token` (any integer below 2^53) of probe stream `seed`: the
 * probe direction's channels are hashed from it.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(probeKey(7, 2 ** 40) !== probeKey(7, 2 ** 40 + 1));
 * ```
 */
export function probeKey(seed: number, token: number): number {
  const lo = token >>> 0, hi = Math.floor(token / 4294967296) >>> 0;
  return mix32(mix32(lo ^ mix32((seed >>> 0) ^ 0x5bd1e995)) ^ Math.imul(hi + 1, 0x27d4eb2f));
}

/**
 * Fills `out[off … off+C)` with the probe direction of global token `token`: a Rademacher
 * direction, channel c being −1 where bit `c & 31` of a counter-based 32-bit hash of (the token's
 * key, `c >> 5`) is set and +1 elsewhere: mean 0, variance 1, ‖R‖² = C exactly. The WebAssembly
 * kernel `probeFill` gives the same numbers. A token's row never depends on how the stream was
 * batched.
 *
 * @param out where the direction goes
 * @param off its offset in `out`
 * @param seed the stream's seed
 * @param token the token's global index
 * @param C channels
 *
 * @example
 * ```ts
 * import { assert, assertEquals } from "@std/assert";
 * const a = new Float64Array(4), b = new Float64Array(8);
 * probeRow(a, 0, 7, 100, 4);
 * probeRow(b, 4, 7, 100, 4);
 * assertEquals(a, b.subarray(4));
 * assert(a.every((v) => v === 1 || v === -1));
 * ```
 */
export function probeRow(
  out: { [i: number]: number },
  off: number,
  seed: number,
  token: number,
  C: number,
): void {
  const key = probeKey(seed, token);
  for (let j = 0; 32 * j < C; j++) {
    const h = mix32(key ^ Math.imul(j + 1, 0x9e3779b9));
    for (let c = 32 * j; c < Math.min(C, 32 * j + 32); c++) {
      out[off + c] = (h >>> (c & 31)) & 1 ? -1 : 1;
    }
  }
}

/**
 * The probe directions of tokens `first … first+N−1` of stream `seed` into out [N,C] (row by
 * row, `probeRow`).
 *
 * @param out the directions [N,C] (written)
 * @param seed the stream's seed
 * @param first the global index of the first token
 * @param N tokens
 * @param C channels
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const a = new Float32Array(8), b = new Float32Array(4);
 * probeFill(a, 3, 10, 2, 4);
 * probeRow(b, 0, 3, 11, 4);
 * assertEquals(a.subarray(4), b);
 * ```
 */
export function probeFill(
  out: { [i: number]: number },
  seed: number,
  first: number,
  N: number,
  C: number,
): void {
  for (let t = 0; t < N; t++) probeRow(out, t * C, seed, first + t, C);
}
