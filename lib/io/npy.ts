/**
 * The `.npy` header: parse (v1, v2, v3; float16, float32 or float64 in either byte order, C
 * order) and write (v1, `<f4`); and the conversion of such elements to float32.
 *
 * @module
 */
import { DataError } from "./errors.ts";

/** The magic bytes every `.npy` file starts with. */
export const NPY_MAGIC: Uint8Array = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59);

/** The element types lnstream reads: float16/32/64, little (`<`) or big (`>`) endian. */
export type NpyDtype = "<f2" | "<f4" | "<f8" | ">f2" | ">f4" | ">f8";

/** A parsed header. */
export interface NpyHeader {
  /** element type (`=` and `|` read as `<`: lnstream runs on little-endian machines) */
  dtype: NpyDtype;
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
  // a key given twice counts as numpy reads it (a Python dict literal: the last one wins)
  const last = (re: RegExp) => [...text.matchAll(re)].at(-1)?.[1];
  const descr = last(/['"]descr['"]\s*:\s*['"]([^'"]*)['"]/g);
  const fortran = last(/['"]fortran_order['"]\s*:\s*(True|False)/g);
  const shapeText = last(/['"]shape['"]\s*:\s*\(([^)]*)\)/g);
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new DataError(`byte ${start}: bad .npy header: ${JSON.stringify(text.trim())}`);
  }
  if (fortran === "True") {
    throw new DataError(
      "byte " + start + ": Fortran-order .npy is not supported; save with C order " +
        "(numpy.ascontiguousarray)",
    );
  }
  const m = /^([<>=|])f([248])$/.exec(descr);
  if (m === null) {
    throw new DataError(
      `byte ${start}: unsupported .npy dtype '${descr}' (lnstream reads floats: <f2, <f4, <f8 ` +
        `and big-endian >f2, >f4, >f8)`,
    );
  }
  const dtype = `${m[1] === ">" ? ">" : "<"}f${m[2]}` as NpyDtype;
  // whole numbers only, as numpy insists (10.0 or 1e3 is no dimension; 10L is Python 2's 10)
  const dims = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (dims.some((d) => !/^\d+L?$/.test(d))) {
    throw new DataError(
      `byte ${start}: bad .npy shape (${shapeText}): dimensions are whole numbers`,
    );
  }
  const shape = dims.map((d) => Number(d.replace("L", "")));
  if (shape.some((d) => !Number.isSafeInteger(d))) {
    throw new DataError(`byte ${start}: bad .npy shape (${shapeText}): a dimension past 2^53`);
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
export function npyHeader(shape: readonly number[], descr: NpyDtype = "<f4"): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
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

/**
 * Bytes per element of a dtype.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(itemSize("<f2") === 2 && itemSize(">f8") === 8);
 * ```
 */
export function itemSize(dtype: NpyDtype): 2 | 4 | 8 {
  return Number(dtype[2]) as 2 | 4 | 8;
}

/**
 * Converts the first `n` elements of `bytes` (of `dtype`) to float32 into `out` (rounded to
 * nearest, as numpy's `astype("<f4")`).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const out = new Float32Array(1);
 * toFloat32(out, Uint8Array.of(0x3c, 0x00), ">f2", 1); // 1.0 as big-endian float16
 * assert(out[0] === 1);
 * ```
 */
export function toFloat32(out: Float32Array, bytes: Uint8Array, dtype: NpyDtype, n: number): void {
  const little = dtype[0] === "<", size = itemSize(dtype);
  if (little && (bytes.byteOffset % size) === 0) {
    // aligned native order: a typed-array view converts in one call
    const view = size === 2
      ? new Float16Array(bytes.buffer, bytes.byteOffset, n)
      : size === 4
      ? new Float32Array(bytes.buffer, bytes.byteOffset, n)
      : new Float64Array(bytes.buffer, bytes.byteOffset, n);
    out.set(view.subarray(0, n));
    return;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, n * size);
  if (size === 2) { for (let i = 0; i < n; i++) out[i] = dv.getFloat16(2 * i, little); }
  else if (size === 4) { for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, little); }
  else for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, little);
}
