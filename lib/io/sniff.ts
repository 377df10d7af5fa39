/**
 * Format detection: `.npy` magic → npy; first non-blank byte `[` or `{` →
 * NDJSON; anything else is raw float32 (which needs `--dim`).
 *
 * @module
 */
import type { ByteReader, Format } from "./batch.ts";
import { NPY_MAGIC, npyHeaderLength } from "./npy.ts";
import { DataError } from "./errors.ts";

/**
 * The format of an input from its first bytes (null when there are none).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(sniffFormat(new TextEncoder().encode("  [1, 2]\n")) === "ndjson");
 * assert(sniffFormat(new Uint8Array(0)) === null);
 * ```
 */
export function sniffFormat(head: Uint8Array): Format | null {
  if (head.length === 0) return null;
  if (head.length >= 6 && NPY_MAGIC.every((b, i) => head[i] === b)) return "npy";
  for (const b of head) {
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
    return b === 0x5b || b === 0x7b ? "ndjson" : "raw";
  }
  return "ndjson"; // only blank bytes so far: text
}

/**
 * Reads the first bytes of an input: enough to tell its format, and the whole
 * header for `.npy`. Returns the format (null for an empty input) and every
 * byte read (the caller processes them first).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { streamReader } from "./batch.ts";
 * const r = await readHead(streamReader(ReadableStream.from([new TextEncoder().encode("[1]\n")])));
 * assert(r.format === "ndjson" && r.bytes.length === 4);
 * ```
 */
export async function readHead(
  read: ByteReader,
): Promise<{ format: Format | null; bytes: Uint8Array }> {
  let buf = new Uint8Array(64 * 1024);
  let got = 0;
  let eof = false;
  const more = async (want: number) => {
    if (buf.length < want) {
      const nb = new Uint8Array(want);
      nb.set(buf.subarray(0, got));
      buf = nb;
    }
    while (got < want && !eof) {
      const n = await read(buf.subarray(got));
      if (n === null) eof = true;
      else got += n;
    }
  };
  await more(12);
  let format = sniffFormat(buf.subarray(0, got));
  // a blank start: read on until something tells (text either way)
  while (format === "ndjson" && !eof && buf.subarray(0, got).every((b) => b <= 0x20)) {
    await more(got + 4096);
    format = sniffFormat(buf.subarray(0, got));
  }
  if (format === "npy") {
    const len = npyHeaderLength(buf.subarray(0, got));
    if (len === null) throw new DataError(`truncated .npy header (${got} bytes)`);
    await more(len);
    if (got < len) throw new DataError(`truncated .npy header: ${got} of ${len} bytes`);
  }
  return { format, bytes: buf.subarray(0, got) };
}
