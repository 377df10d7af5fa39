/**
 * Reading safetensors files (Hugging Face's format: an 8-byte little-endian header length, a JSON
 * header naming each tensor's `dtype`, `shape` and `data_offsets`, then the raw little-endian
 * data) a tensor at a time, straight into a caller's float32 array: F32 read in place, F16 and
 * BF16 widened through a small buffer. Nothing reads the whole file into memory.
 *
 * @module
 */
import { DataError } from "./errors.ts";

/** One tensor of the header. */
export interface TensorEntry {
  /** `F32`, `F16`, `BF16`, `U8`, … as the file says */
  dtype: string;
  /** row-major shape */
  shape: number[];
  /** its bytes, from the start of the data section */
  begin: number;
  /** one past its last byte */
  end: number;
}

/** A safetensors header: every tensor, the metadata, where the data starts. */
export interface SafetensorsHeader {
  /** the tensors by name, in the header's order */
  tensors: Map<string, TensorEntry>;
  /** `__metadata__` (strings), or an empty object */
  metadata: Record<string, string>;
  /** byte offset of the data section in the file */
  dataStart: number;
}

/** Bytes per element of the dtypes lnstream reads (others are only skipped). */
export const FLOAT_DTYPES: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2 };

/** Where the bytes come from: an open file (read at offsets) or the bytes themselves. */
export type TensorSource = Deno.FsFile | Uint8Array;

/**
 * Reads and checks the header of a safetensors file (`what` names it in errors): every tensor's
 * offsets inside the file and matching its shape and dtype (for the float dtypes). Anything
 * malformed is a `DataError` (exit 65) naming the tensor.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const head = new TextEncoder().encode('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}');
 * const bytes = new Uint8Array(8 + head.length + 8);
 * new DataView(bytes.buffer).setBigUint64(0, BigInt(head.length), true);
 * bytes.set(head, 8);
 * const h = await readSafetensorsHeader(bytes, "w.safetensors");
 * assert(h.tensors.get("w")!.end === 8 && h.dataStart === 8 + head.length);
 * ```
 */
export async function readSafetensorsHeader(
  source: TensorSource,
  what: string,
): Promise<SafetensorsHeader> {
  const bad = (why: string) => new DataError(`${what}: not a safetensors file: ${why}`);
  const size = await sizeOf(source);
  if (size < 8) throw bad(`${size} bytes, shorter than its header length`);
  const lenBytes = await readAt(source, 0, 8);
  const n = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(size - 8, 100 * 2 ** 20))) {
    throw bad(`header length ${n} past the end of the file or above 100 MiB`);
  }
  let header: Record<string, unknown>;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(
      await readAt(source, 8, Number(n)),
    );
    header = JSON.parse(text);
  } catch (e) {
    throw bad(`its header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw bad("its header is not a JSON object");
  }
  const dataStart = 8 + Number(n), dataSize = size - dataStart;
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (typeof v === "object" && v !== null) metadata = v as Record<string, string>;
      continue;
    }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const shape = t?.shape, off = t?.data_offsets;
    if (
      typeof t?.dtype !== "string" || !Array.isArray(shape) ||
      !shape.every((d) => Number.isInteger(d) && d >= 0) || !Array.isArray(off) ||
      off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[0] > off[1]
    ) {
      throw bad(`tensor '${name}' has no valid dtype, shape and data_offsets`);
    }
    if (off[1] > dataSize) {
      throw new DataError(
        `${what}: tensor '${name}' ends at byte ${off[1]} of a data section of ${dataSize} bytes ` +
          `(the file is cut short?)`,
      );
    }
    const width = FLOAT_DTYPES[t.dtype];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (width !== undefined && off[1] - off[0] !== count * width) {
      throw new DataError(
        `${what}: tensor '${name}' holds ${off[1] - off[0]} bytes, but ${t.dtype} ` +
          `${JSON.stringify(shape)} needs ${count * width}`,
      );
    }
    tensors.set(name, { dtype: t.dtype, shape: shape as number[], begin: off[0], end: off[1] });
  }
  return { tensors, metadata, dataStart };
}

/**
 * Reads tensor `t` (F32, F16 or BF16) of a file whose header is `h` into `out` (float32, its
 * length the tensor's), in pieces of at most `chunk` bytes: F32 lands in `out`'s own bytes, F16
 * and BF16 pass through one small buffer. A non-finite value is a `DataError` naming the tensor;
 * `maxAbs` (a kernel's, NaN-propagating) finds one at SIMD speed, else a loop does.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const head = new TextEncoder().encode('{"h":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}');
 * const bytes = new Uint8Array(8 + head.length + 4);
 * new DataView(bytes.buffer).setBigUint64(0, BigInt(head.length), true);
 * bytes.set(head, 8);
 * bytes.set([0x80, 0x3f, 0x00, 0xc0], 8 + head.length); // 1, −2 in bfloat16
 * const h = await readSafetensorsHeader(bytes, "h.safetensors");
 * const out = new Float32Array(2);
 * await readTensor(bytes, h, "h", out, "h.safetensors");
 * assert(out[0] === 1 && out[1] === -2);
 * ```
 */
export async function readTensor(
  source: TensorSource,
  h: SafetensorsHeader,
  name: string,
  out: Float32Array,
  what: string,
  chunk = 1 << 22,
  maxAbs?: (a: Float32Array, n: number) => number,
): Promise<void> {
  const t = h.tensors.get(name);
  if (t === undefined) throw new DataError(`${what}: no tensor '${name}'`);
  const width = FLOAT_DTYPES[t.dtype];
  if (width === undefined) {
    throw new DataError(`${what}: tensor '${name}' is ${t.dtype}; F32, F16 or BF16 are read`);
  }
  const count = (t.end - t.begin) / width;
  if (count !== out.length) {
    throw new DataError(`${what}: tensor '${name}' holds ${count} values, ${out.length} expected`);
  }
  const start = h.dataStart + t.begin, per = Math.max(1, Math.floor(chunk / width));
  const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  const wide = width === 2 ? new Uint16Array(Math.min(per, count)) : null;
  for (let i = 0; i < count; i += per) {
    const n = Math.min(per, count - i);
    if (wide === null) {
      await readInto(source, start + i * 4, bytes.subarray(i * 4, (i + n) * 4));
    } else {
      const part = wide.subarray(0, n);
      await readInto(source, start + i * 2, new Uint8Array(part.buffer, 0, n * 2));
      widen(part, out.subarray(i, i + n), t.dtype as "F16" | "BF16");
    }
  }
  if (maxAbs !== undefined && Number.isFinite(maxAbs(out, count))) return;
  for (let i = 0; i < count; i++) {
    if (!Number.isFinite(out[i])) {
      throw new DataError(`${what}: tensor '${name}' holds ${out[i]} at element ${i}`);
    }
  }
}

/** float16 or bfloat16 bits → float32 values (exactly: every such value is a float32). */
function widen(src: Uint16Array, out: Float32Array, dtype: "F16" | "BF16") {
  if (dtype === "BF16") {
    const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
    for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  } else out.set(new Float16Array(src.buffer, src.byteOffset, src.length));
}

async function sizeOf(source: TensorSource): Promise<number> {
  return source instanceof Uint8Array ? source.length : (await source.stat()).size;
}

async function readAt(source: TensorSource, at: number, n: number): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source.subarray(at, at + n);
  const out = new Uint8Array(n);
  await readInto(source, at, out);
  return out;
}

/** Fills `out` from byte `at` of the source (a short file is a DataError). */
async function readInto(source: TensorSource, at: number, out: Uint8Array): Promise<void> {
  if (source instanceof Uint8Array) {
    if (at + out.length > source.length) throw new DataError("the file ends early");
    out.set(source.subarray(at, at + out.length));
    return;
  }
  await source.seek(at, Deno.SeekMode.Start);
  let done = 0;
  while (done < out.length) {
    const n = await source.read(out.subarray(done));
    if (n === null) {
      throw new DataError(`the file ends at byte ${at + done}, before its tensors do`);
    }
    done += n;
  }
}
