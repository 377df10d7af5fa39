// `@std/assert` with its types (deno-std on npm ships JavaScript only; see lib/std/mod.ts). A
// wrong call fails `deno check`; with JSR, swapping the import map changes nothing here.
import * as A from "@std/assert";

/** Throws when `expr` is falsy. */
export const assert: (expr: unknown, msg?: string) => asserts expr = A.assert;
/** Deep equality. */
export const assertEquals: <T>(actual: T, expected: T, msg?: string) => void = A.assertEquals;
/** |actual − expected| ≤ tolerance. */
export const assertAlmostEquals: (
  actual: number,
  expected: number,
  tolerance?: number,
  msg?: string,
) => void = A.assertAlmostEquals;
/** `actual` contains `expected`. */
export const assertStringIncludes: (actual: string, expected: string, msg?: string) => void =
  A.assertStringIncludes;
/** `fn` throws (an `ErrorClass` whose message includes `msgIncludes`); returns the error. */
export const assertThrows: {
  (fn: () => unknown, msg?: string): unknown;
  <E extends Error = Error>(
    fn: () => unknown,
    // deno-lint-ignore no-explicit-any
    ErrorClass: abstract new (...args: any[]) => E,
    msgIncludes?: string,
    msg?: string,
  ): E;
} = A.assertThrows;
/** `fn` rejects (an `ErrorClass` whose message includes `msgIncludes`); returns the error. */
export const assertRejects: {
  (fn: () => PromiseLike<unknown>, msg?: string): Promise<unknown>;
  <E extends Error = Error>(
    fn: () => PromiseLike<unknown>,
    // deno-lint-ignore no-explicit-any
    ErrorClass: abstract new (...args: any[]) => E,
    msgIncludes?: string,
    msg?: string,
  ): Promise<E>;
} = A.assertRejects;
