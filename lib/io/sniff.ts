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
  ahead: ReadAhead = new ReadAhead(read),
): Promise<{ format: Format | null; bytes: Uint8Array }> {
  await ahead.more(12);
  let format: Format | "unknown" | null = o.format ?? sniffFormat(ahead.bytes, o.dim);
  if (format === null && ahead.got > 0) {
    // blank so far: read on until a byte tells (or the input ends: text, possibly empty)
    let scanned = 0;
    while (format === null && !ahead.eof) {
      scanned = ahead.got;
      await ahead.more(2 * ahead.got);
      let i = scanned;
      while (i < ahead.got && isBlank(ahead.buf[i])) i++;
      if (i < ahead.got) {
        format = ahead.buf[i] === 0x5b || ahead.buf[i] === 0x7b ? "ndjson" : "unknown";
      }
    }
    format ??= "ndjson";
  }
  if (format === "unknown") {
    throw new UsageError(
      "cannot tell the input's format: it is not .npy and does not start with '[' or '{' " +
        "(NDJSON); for raw float32 give `dim: C` (or say `format: npy|ndjson|raw`)",
    );
  }
  if (format === "npy") {
    if (!(ahead.got >= 6 && NPY_MAGIC.every((b, i) => ahead.buf[i] === b))) {
      throw new DataError("`format: npy`: the input does not start with the .npy magic bytes");
    }
    const len = npyHeaderLength(ahead.bytes);
    if (len === null) throw new DataError(`truncated .npy header (${ahead.got} bytes)`);
    await ahead.more(len);
    if (ahead.got < len) throw new DataError(`truncated .npy header: ${ahead.got} of ${len} bytes`);
  }
  return { format: ahead.got === 0 ? null : format, bytes: ahead.bytes };
}

/**
 * Bytes read ahead of the decoders, in one buffer that doubles as it fills, so that reading n
 * bytes costs O(n) in all: `readHead` and the NDJSON opener read on in the same buffer.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { streamReader } from "./batch.ts";
 * const a = new ReadAhead(streamReader(ReadableStream.from([Uint8Array.of(1, 2), Uint8Array.of(3)])));
 * await a.more(3);
 * assert(a.got === 3 && a.bytes[2] === 3 && !a.eof);
 * ```
 */
export class ReadAhead {
  /** the buffer; `bytes` is its filled part */
  buf: Uint8Array = new Uint8Array(64 * 1024);
  /** bytes read */
  got = 0;
  /** whether the input has ended */
  eof = false;
  #read: ByteReader;

  constructor(read: ByteReader) {
    this.#read = read;
  }

  /** Reads until `got ≥ want` or the input ends, growing the buffer (doubling) as needed. */
  async more(want: number): Promise<void> {
    if (this.buf.length < want) {
      const nb = new Uint8Array(Math.max(want, 2 * this.buf.length));
      nb.set(this.buf.subarray(0, this.got));
      this.buf = nb;
    }
    while (this.got < want && !this.eof) {
      const n = await this.#read(this.buf.subarray(this.got));
      if (n === null) this.eof = true;
      else this.got += n;
    }
  }

  /** the bytes read so far */
  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.got);
  }
}
