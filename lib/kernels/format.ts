/**
 * Rows of float32 as NDJSON text: each value the shortest decimal that reads back as the same
 * float32 (`f32ToString`), each row a token line `[x0,x1,…]\n`. The TypeScript reference of
 * the `formatRows` kernel (the WebAssembly one writes the same bytes).
 *
 * @module
 */

/**
 * The shortest decimal that reads back as the same float32 (`NaN`, `Infinity`, `-Infinity`
 * written bare, as Python's json does): the first of 6, 7 or 8 significant digits that does,
 * else 9; laid out as JavaScript writes numbers.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(f32ToString(Math.fround(0.1)) === "0.1" && f32ToString(1) === "1");
 * ```
 */
export function f32ToString(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  for (let p = 6; p < 9; p++) {
    const s = Number(x.toPrecision(p));
    if (Math.fround(s) === x) return String(s);
  }
  return String(Number(x.toPrecision(9)));
}

/**
 * One token as an NDJSON array: `[x0,x1,…]` in shortest float32 decimals.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(tokenToJson(Float32Array.of(9, 0.5, -1), 1, 2) === "[0.5,-1]");
 * ```
 */
export function tokenToJson(x: Float32Array, off: number, C: number): string {
  const parts = new Array<string>(C);
  for (let c = 0; c < C; c++) parts[c] = f32ToString(x[off + c]);
  return `[${parts.join(",")}]`;
}

/**
 * The most bytes `formatRows` writes for one row of C values (a value takes at most 15
 * characters, `-1.17549435e-38`, and a comma), plus 16 bytes of room the WebAssembly kernel
 * may write past a row's end before the next row overwrites them.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(rowTextBytes(2) === 16 * 2 + 3 + 16);
 * ```
 */
export function rowTextBytes(C: number): number {
  return 16 * C + 3 + 16;
}

const utf8 = new TextEncoder();

// text [N lines] = rows x [N,C] as "[x0,x1,…]\n"; ends [N] = where each line ends in `text`
/**
 * Writes N rows of C floats as NDJSON token lines into `text` (room for N × `rowTextBytes(C)`
 * bytes), and where each line ends (byte offsets from `text[0]`, after the `\n`) into `ends`.
 *
 * @param text where the lines go
 * @param x the rows [N, C]
 * @param N rows
 * @param C values per row
 * @param ends the end of each row's line [N]
 * @param from the first row to write (the ones before it are written already)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const text = new Uint8Array(2 * rowTextBytes(2)), ends = new Uint32Array(2);
 * formatRows(text, Float32Array.of(0.5, -1, 1e-7, NaN), 2, 2, ends);
 * assert(new TextDecoder().decode(text.subarray(0, ends[1])) === "[0.5,-1]\n[1e-7,NaN]\n");
 * ```
 */
export function formatRows(
  text: Uint8Array,
  x: Float32Array,
  N: number,
  C: number,
  ends: Uint32Array,
  from = 0,
): void {
  let at = from > 0 ? ends[from - 1] : 0;
  for (let r = from; r < N; r++) {
    at += utf8.encodeInto(tokenToJson(x, r * C, C) + "\n", text.subarray(at)).written;
    ends[r] = at;
  }
}
