/**
 * NDJSON lines as bytes: a `TransformStream` that cuts a byte stream at `\n` into chunks of
 * whole lines, each line's bytes exactly as read (a `\r` before the `\n` is the line's end, kept
 * apart so the output can end the line the same way; bytes that are not UTF-8 stay as they
 * are). Many lines travel in one chunk, so a stream of short or blank lines costs little more
 * than the bytes themselves.
 *
 * @module
 */

import { DataError } from "./errors.ts";

/** Whole lines of bytes (each ending in `\n`, but for the input's last line). */
export interface LineChunk {
  /** the lines' bytes, line ends included */
  bytes: Uint8Array;
  /** how many lines */
  lines: number;
  /** the 1-based number of the first line in the input */
  first: number;
}

/**
 * Walks the lines of a `LineChunk`: `next()` moves to the next line (false after the last);
 * `start`/`end` bound its content in `bytes` (without `\n` or `\r\n`), `crlf` says whether it
 * ended with `\r\n`, `line` is its number.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const c = new LineCursor({ bytes: new TextEncoder().encode("a\r\nbc\n"), lines: 2, first: 7 });
 * const seen: string[] = [];
 * while (c.next()) seen.push(`${c.line}:${c.end - c.start}:${c.crlf}`);
 * assertEquals(seen, ["7:1:true", "8:2:false"]);
 * ```
 */
export class LineCursor {
  /** the chunk's bytes */
  readonly bytes: Uint8Array;
  /** where the current line's content starts */
  start = 0;
  /** where it ends (exclusive, before its line end) */
  end = 0;
  /** it ended with `\r\n` */
  crlf = false;
  /** its number */
  line: number;
  #next = 0;

  /** A cursor before the first line of `c`. */
  constructor(c: LineChunk) {
    this.bytes = c.bytes;
    this.line = c.first - 1;
  }

  /** Moves to the next line; false when there is none. */
  next(): boolean {
    const b = this.bytes, a = this.#next;
    if (a >= b.length) return false;
    let nl = nextNewline(b, a);
    if (nl < 0) nl = b.length; // the input's last line, without a line end
    this.crlf = nl < b.length && nl > a && b[nl - 1] === 0x0d;
    this.start = a;
    this.end = this.crlf ? nl - 1 : nl;
    this.#next = nl + 1;
    this.line++;
    return true;
  }
}

/**
 * The index of the first `\n` in `b` at or after `from`, or -1: the next 16 bytes by hand (a
 * builtin call costs more than a short line), then `indexOf`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const b = new TextEncoder().encode("[]\n" + "x".repeat(40) + "\n");
 * assert(nextNewline(b, 0) === 2 && nextNewline(b, 3) === 43 && nextNewline(b, 44) === -1);
 * ```
 */
export function nextNewline(b: Uint8Array, from: number): number {
  const near = Math.min(b.length, from + 16);
  for (let i = from; i < near; i++) if (b[i] === 0x0a) return i;
  return near === b.length ? -1 : b.indexOf(0x0a, near);
}

/** The most lines one chunk carries. */
const LINES_PER_CHUNK = 16384;

/**
 * Whether bytes `[a, b)` are all blanks (space, tab, CR): a line that holds nothing.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(isBlankLine(Uint8Array.of(32, 9, 13), 0, 3) && !isBlankLine(Uint8Array.of(91), 0, 1));
 * ```
 */
export function isBlankLine(b: Uint8Array, a: number, end: number): boolean {
  for (let i = a; i < end; i++) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/**
 * Whether bytes `[a, b)` are `[]` with blanks around and between: a line of no tokens, told
 * without decoding or parsing it (files of millions of them go at the speed of the rest).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const t = new TextEncoder().encode(" [ ]\r");
 * assert(isEmptyArray(t, 0, t.length) && !isEmptyArray(t, 0, 2));
 * ```
 */
export function isEmptyArray(b: Uint8Array, a: number, end: number): boolean {
  const blank = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d;
  let i = a;
  while (i < end && blank(b[i])) i++;
  if (i >= end || b[i++] !== 0x5b) return false;
  while (i < end && blank(b[i])) i++;
  if (i >= end || b[i++] !== 0x5d) return false;
  while (i < end && blank(b[i])) i++;
  return i === end;
}

/**
 * Cuts bytes into `LineChunk`s of whole lines (numbered from `firstLine`), at most
 * `LINES_PER_CHUNK` lines each; a last line without `\n` ends the stream. A line longer than
 * `maxLine` bytes is a `DataError` naming it.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const enc = new TextEncoder();
 * const chunks = await Array.fromAsync(
 *   ReadableStream.from([enc.encode("[1]\r\n[2"), enc.encode("]\n\n[3]")]).pipeThrough(lineChunks()),
 * );
 * const lines: string[] = [];
 * for (const c of chunks) {
 *   const cur = new LineCursor(c);
 *   while (cur.next()) {
 *     lines.push(new TextDecoder().decode(c.bytes.subarray(cur.start, cur.end)) + (cur.crlf ? "⏎" : ""));
 *   }
 * }
 * assertEquals(lines, ["[1]⏎", "[2]", "", "[3]"]);
 * ```
 */
export function lineChunks(
  maxLine = 256 * 2 ** 20,
  firstLine = 1,
): TransformStream<Uint8Array, LineChunk> {
  // a line begun in earlier chunks, in pieces (joined once its end arrives: O(n) in all)
  let parts: Uint8Array[] = [], partsLen = 0;
  let lineNo = firstLine;
  const cut = (
    bytes: Uint8Array,
    ctrl: TransformStreamDefaultController<LineChunk>,
    final: boolean,
  ) => {
    let a = 0, from = 0, lines = 0;
    const emit = () => {
      if (lines === 0) return;
      ctrl.enqueue({ bytes: bytes.subarray(from, a), lines, first: lineNo });
      lineNo += lines;
      [from, lines] = [a, 0];
    };
    for (;;) {
      const nl = nextNewline(bytes, a);
      if (nl < 0) break;
      a = nl + 1;
      // many short lines travel in chunks of at most LINES_PER_CHUNK (a chunk is only bytes)
      if (++lines === LINES_PER_CHUNK) emit();
    }
    if (final && a < bytes.length) {
      a = bytes.length;
      lines++;
    }
    emit();
    return bytes.subarray(a);
  };
  const keep = (rest: Uint8Array) => {
    parts = rest.length > 0 ? [rest] : [];
    partsLen = rest.length;
    if (partsLen > maxLine) {
      throw new DataError(`line ${lineNo} is longer than ${maxLine / 2 ** 20} MiB`);
    }
  };
  const joined = (chunk: Uint8Array) => {
    if (partsLen === 0) return chunk;
    const all = new Uint8Array(partsLen + chunk.length);
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    all.set(chunk, o);
    return all;
  };
  return new TransformStream<Uint8Array, LineChunk>({
    transform(chunk, ctrl) {
      if (partsLen > 0 && chunk.indexOf(0x0a) < 0) {
        // still inside one long line: keep the piece (chunks are not reused by their source)
        parts.push(chunk);
        partsLen += chunk.length;
        if (partsLen > maxLine) {
          throw new DataError(`line ${lineNo} is longer than ${maxLine / 2 ** 20} MiB`);
        }
        return;
      }
      keep(cut(joined(chunk), ctrl, false));
    },
    flush(ctrl) {
      if (partsLen > 0) cut(joined(new Uint8Array(0)), ctrl, true);
    },
  });
}
