/**
 * Opening an input: read its head, tell its format (`readHead`'s rules), parse the `.npy`
 * header once, and for NDJSON read ahead to the first token, so the channel count C is known
 * before anything else is built. The result is a frozen description the decoders, the
 * collector and the encoder all read; nothing writes to it later.
 *
 * @module
 */
import type { ByteReader, Format } from "./batch.ts";
import { DataError, OptionError, UsageError } from "./errors.ts";
import { itemSize, type NpyDtype, parseNpyHeader } from "./npy.ts";
import { firstTokenLength, parseLine } from "./ndjson.ts";
import { ReadAhead, readHead } from "./sniff.ts";
import { isBlankLine, isEmptyArray, nextNewline } from "./lines.ts";

/** What is known of an input once it is open. */
export interface InputInfo {
  /** the format (null: the input is empty) */
  readonly format: Format | null;
  /** channels per token (0 when the input holds no token, or its first line is malformed) */
  readonly C: number;
  /** `.npy` input: its shape */
  readonly shape?: readonly number[];
  /** tokens the input declares (`.npy`) */
  readonly totalTokens?: number;
  /** binary input: byte offset of the first row */
  readonly dataOffset: number;
  /** binary input: bytes per element (2, 4 or 8) */
  readonly itemSize: number;
  /** binary input: the element type (raw is `<f4`) */
  readonly dtype: NpyDtype;
  /** the bytes read while opening (the decoder processes them first) */
  readonly head: Uint8Array;
  /** NDJSON: the number of the line `head` starts on (blank lines before it are left out) */
  readonly firstLine?: number;
}

/** The longest NDJSON line read ahead while looking for the first token. */
const MAX_LINE = 256 * 2 ** 20;
/** The most bytes of lines without tokens read ahead for the first token (C). */
const MAX_HEAD = 64 * 2 ** 20;

/**
 * Opens an input (see the module doc). `dim` is checked against a `.npy` shape; raw input
 * needs it.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { streamReader } from "./batch.ts";
 * const text = new TextEncoder().encode("\n{\"id\": 1, \"embedding\": [[1, 2, 3]]}\n[4, 5, 6]\n");
 * const info = await openInput(streamReader(ReadableStream.from([text])), {});
 * assert(info.format === "ndjson" && info.C === 3 && Object.isFrozen(info));
 * ```
 */
export async function openInput(
  read: ByteReader,
  o: { format?: Format; dim?: number; field?: string },
): Promise<InputInfo> {
  if (o.dim !== undefined && (!Number.isInteger(o.dim) || o.dim < 1)) {
    throw new OptionError("dim", `must be a whole number ≥ 1, got ${o.dim}`);
  }
  const ahead = new ReadAhead(read);
  const { format, bytes } = await readHead(read, o, ahead);
  // no input, raw and NDJSON: float32 rows with no header of their own
  const rows = (C: number, head = bytes): InputInfo =>
    Object.freeze({ format, C, dataOffset: 0, itemSize: 4, dtype: "<f4", head });
  if (format === null) return rows(o.dim ?? 0);
  if (format === "npy") {
    const h = parseNpyHeader(bytes);
    if (h.shape.length !== 2 && h.shape.length !== 3) {
      throw new DataError(`.npy shape (${h.shape.join(", ")}) must be [N, C] or [B, T, C]`);
    }
    const C = h.shape[h.shape.length - 1];
    if (C < 1) throw new DataError(`.npy shape (${h.shape.join(", ")}) has 0 channels`);
    if (o.dim !== undefined && o.dim !== C) {
      throw new OptionError(
        "dim",
        `${o.dim} does not match the .npy shape (${h.shape.join(", ")})`,
      );
    }
    return Object.freeze({
      format,
      C,
      shape: Object.freeze([...h.shape]),
      totalTokens: h.shape.slice(0, -1).reduce((a, b) => a * b, 1),
      dataOffset: h.dataOffset,
      itemSize: itemSize(h.dtype),
      dtype: h.dtype,
      head: bytes,
    });
  }
  if (format === "raw") {
    if (o.dim === undefined) {
      throw new UsageError("raw float32 input needs `dim: C` (or give .npy or NDJSON input)");
    }
    return rows(o.dim);
  }
  if (o.dim !== undefined) return rows(o.dim);
  const { C, head, firstLine } = await firstToken(ahead, o.field ?? "embedding");
  return Object.freeze({ ...rows(C, head), firstLine });
}

/**
 * Reads NDJSON lines ahead (keeping every byte from the first line that is not blank) until
 * one holds a token: its length is C. A malformed line stops the search with C = 0 (the
 * decoder then reports it by line number). Blank lines before the first other line are left
 * out of `head` (they produce nothing); `firstLine` numbers its first line.
 */
async function firstToken(
  ahead: ReadAhead,
  field: string,
): Promise<{ C: number; head: Uint8Array; firstLine: number }> {
  let lineStart = 0, scan = 0, lineNo = 1, kept = -1, keptLine = 1, view = ahead.bytes;
  const dec = new TextDecoder();
  const result = (C: number) => {
    // a long blank prefix is let go (a copy of what follows it); a short one stays
    const from = kept < 0 ? ahead.got : kept;
    const head = from > 1 << 16 ? ahead.bytes.slice(from) : ahead.bytes.subarray(from);
    return { C, head, firstLine: kept < 0 ? lineNo : keptLine };
  };
  for (;;) {
    const found = nextNewline(view, scan), nl = found < 0 ? -1 : found - scan;
    if (nl < 0 && !ahead.eof) {
      if (ahead.got - lineStart > MAX_LINE) {
        throw new DataError(`a line longer than ${MAX_LINE / 2 ** 20} MiB before the first token`);
      }
      scan = ahead.got;
      await ahead.more(ahead.got + 1);
      view = ahead.bytes; // the bytes read so far, one view until more come
      continue;
    }
    const end = nl < 0 ? ahead.got : scan + nl;
    // blank lines (and a BOM) are skipped as bytes: megabytes of them cost no decoding
    const bom = lineStart === 0 && ahead.buf[0] === 0xef && ahead.buf[1] === 0xbb &&
        ahead.buf[2] === 0xbf
      ? 3
      : 0;
    if (isEmptyArray(ahead.buf, lineStart + bom, end)) {
      // `[]`: no token, and nothing to decode
      if (kept < 0) [kept, keptLine] = [lineStart, lineNo];
    } else if (!isBlankLine(ahead.buf, lineStart + bom, end)) {
      if (kept < 0) [kept, keptLine] = [lineStart, lineNo];
      const line = dec.decode(ahead.buf.subarray(lineStart + bom, end));
      let C: number | null;
      try {
        C = firstTokenLength(parseLine(line), field);
      } catch {
        C = null;
      }
      if (C === null) return result(0); // malformed: the decoder says so
      if (C > 0) return result(C);
    }
    if (nl < 0) return result(0); // the end: no token at all
    lineStart = scan = end + 1;
    lineNo++;
    if (kept >= 0 && lineStart - kept > MAX_HEAD) {
      // lines without tokens are kept until C is known: so far, and no farther
      throw new UsageError(
        `no token in the first ${MAX_HEAD / 2 ** 20} MiB of NDJSON (${lineNo - 1} lines): ` +
          "C comes from the first token; to stream lines without tokens, say C: " +
          "`format: ndjson` with `dim: C`",
      );
    }
  }
}
