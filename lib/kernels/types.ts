/**
 * A flat array of floats: every kernel accepts either precision. Float32 is the
 * working precision; float64 lets tests check the math exactly.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const a: Floats = new Float32Array(4);
 * const b: Floats = new Float64Array(4);
 * assert(a.length === b.length);
 * ```
 *
 * @module
 */
export type Floats = Float32Array | Float64Array;
