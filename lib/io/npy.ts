/**
 * The `.npy` header: parse (v1, v2, v3; little-endian `<f4`/`<f8`, C order)
 * and write (v1, `<f4`).
 *
 * @module
 */
import { DataError } from "./errors.ts";

/** The magic bytes every `.npy` file starts with. */
export const NPY_MAGIC: Uint8Array = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59);

/** A parsed header. */
export interface NpyHeader {
  /** element type: little-endian float32 or float64 */
  dtype: "f4" | "f8";
  /** the array's shape (streams use `[N, C]` or `[B, T, C]`, weights `[C]`) */
  shape: number[];
  /** bytes before the data (magic, version, length, header text) */
  dataOffset: number;
}

/**
 * How many bytes the header needs in total, once the first 12 are known (or
 * null if fewer than 12 bytes are given). Throws on a bad magic or version.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const h = npyHeader([4, 3]);
 * assert(npyHeaderLength(h) === h.length);
 * ```
 */
export function npyHeaderLength(b: Uint8Array): number | null {
  if (b.length < 12) return null;
  for (let i = 0; i < 6; i++) {
    if (b[i] !== NPY_MAGIC[i]) throw new DataError("byte 0: not a .npy file (bad magic)");
  }
  const major = b[6];
  if (major === 1) return 10 + (b[8] | (b[9] << 8));
  if (major === 2 || major === 3) {
    return 12 + (b[8] | (b[9] << 8) | (b[10] << 16)) + b[11] * 16777216;
  }
  throw new DataError(`byte 6: unsupported .npy version ${major}.${b[7]}`);
}

/**
 * Parses a complete header (`npyHeaderLength` bytes).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * assertEquals(parseNpyHeader(npyHeader([2, 3, 8])).shape, [2, 3, 8]);
 * ```
 */
export function parseNpyHeader(b: Uint8Array): NpyHeader {
  const total = npyHeaderLength(b);
  if (total === null || b.length < total) throw new DataError("truncated .npy header");
  const start = b[6] === 1 ? 10 : 12;
  const text = new TextDecoder(b[6] === 3 ? "utf-8" : "latin1").decode(b.subarray(start, total));
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new DataError(`byte ${start}: bad .npy header: ${JSON.stringify(text.trim())}`);
  }
  if (fortran === "True") {
    throw new DataError(
      "byte " + start + ": Fortran-order .npy is not supported; save with C order " +
        "(numpy.ascontiguousarray)",
    );
  }
  let dtype: "f4" | "f8";
  if (descr === "<f4") dtype = "f4";
  else if (descr === "<f8") dtype = "f8";
  else {
    throw new DataError(
      `byte ${start}: unsupported .npy dtype '${descr}' (lnstream reads little-endian <f4 or <f8)`,
    );
  }
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new DataError(`byte ${start}: bad .npy shape (${shapeText})`);
  }
  return { dtype, shape, dataOffset: total };
}

/**
 * A v1 header for a C-order little-endian float32 array of `shape`, padded so
 * the data starts on a 64-byte boundary.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(npyHeader([10, 4]).length % 64 === 0);
 * ```
 */
export function npyHeader(shape: readonly number[]): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  const pad = 64 - ((10 + dict.length + 1) % 64);
  dict += " ".repeat(pad % 64) + "\n";
  const out = new Uint8Array(10 + dict.length);
  out.set(NPY_MAGIC);
  out[6] = 1;
  out[7] = 0;
  out[8] = dict.length & 0xff;
  out[9] = dict.length >> 8;
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  return out;
}
