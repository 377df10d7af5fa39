/**
 * Format detection: `--format` wins; else `.npy` magic → npy; else with `--dim` raw float32;
 * else, past a BOM and blanks, `[` or `{` → NDJSON; anything else asks for `--dim` or `--format`.
 *
 * @module
 */
import type { ByteReader, Format } from "./batch.ts";
import { NPY_MAGIC, npyHeaderLength } from "./npy.ts";
import { DataError, UsageError } from "./errors.ts";

const isBlank = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * The format of an input from its first bytes, by lnstream's rules: `.npy` magic → npy; with
 * `--dim` → raw float32; else, past a UTF-8 BOM and blanks, `[` or `{` → NDJSON. Returns null
 * when the bytes cannot tell yet (empty, or blank so far) or match no rule ("unknown").
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(sniffFormat(new TextEncoder().encode("  [1, 2]\n")) === "ndjson");
 * assert(sniffFormat(new TextEncoder().encode("[1, 2]\n"), 2) === "raw"); // --dim given
 * assert(sniffFormat(new Uint8Array(0)) === null);
 * ```
 */
export function sniffFormat(head: Uint8Array, dim?: number): Format | "unknown" | null {
  if (head.length >= 6 && NPY_MAGIC.every((b, i) => head[i] === b)) return "npy";
  if (head.length === 0) return null;
  if (dim !== undefined) return "raw";
  let i = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0;
  while (i < head.length && isBlank(head[i])) i++;
  if (i === head.length) return null;
  return head[i] === 0x5b || head[i] === 0x7b ? "ndjson" : "unknown";
}

/**
 * Reads the first bytes of an input: enough to tell its format (by `sniffFormat`'s rules;
 * `format` wins over them), and the whole header for `.npy`. Returns the format (null for an
 * empty input) and every byte read (the caller processes them first). Blank bytes before the
 * first token are read in linear time. An input no rule recognizes is a `UsageError` asking
 * for `--dim` or `--format`.
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
  o: { format?: Format; dim?: number } = {},
): Promise<{ format: Format | null; bytes: Uint8Array }> {
  let buf = new Uint8Array(64 * 1024);
  let got = 0;
  let eof = false;
  const more = async (want: number) => {
    if (buf.length < want) {
      // doubling: reading n blank bytes costs O(n) in all
      const nb = new Uint8Array(Math.max(want, 2 * buf.length));
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
  let format: Format | "unknown" | null = o.format ?? sniffFormat(buf.subarray(0, got), o.dim);
  if (format === null && got > 0) {
    // blank so far: read on until a byte tells (or the input ends: text, possibly empty)
    let scanned = 0;
    while (format === null && !eof) {
      scanned = got;
      await more(2 * got);
      let i = scanned;
      while (i < got && isBlank(buf[i])) i++;
      if (i < got) format = buf[i] === 0x5b || buf[i] === 0x7b ? "ndjson" : "unknown";
    }
    format ??= "ndjson";
  }
  if (format === "unknown") {
    throw new UsageError(
      "cannot tell the input's format: it is not .npy and does not start with '[' or '{' " +
        "(NDJSON); for raw float32 give --dim C (or say --format npy|ndjson|raw)",
    );
  }
  if (format === "npy") {
    if (!(got >= 6 && NPY_MAGIC.every((b, i) => buf[i] === b))) {
      throw new DataError("--format npy: the input does not start with the .npy magic bytes");
    }
    const len = npyHeaderLength(buf.subarray(0, got));
    if (len === null) throw new DataError(`truncated .npy header (${got} bytes)`);
    await more(len);
    if (got < len) throw new DataError(`truncated .npy header: ${got} of ${len} bytes`);
  }
  return { format: got === 0 ? null : format, bytes: buf.subarray(0, got) };
}
