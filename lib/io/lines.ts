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

/** Whole lines of bytes and where each ends. */
export interface LineChunk {
  /** the lines' bytes, line ends included */
  bytes: Uint8Array;
  /** for line i: its content is `bytes[starts[i], ends[i])` (without `\n` or `\r\n`) */
  starts: number[];
  /** see `starts` */
  ends: number[];
  /** for line i: whether it ended with `\r\n` */
  crlf: boolean[];
  /** the 1-based number of the first line in the input */
  first: number;
}

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
 * Cuts bytes into `LineChunk`s of whole lines; a last line without `\n` ends the stream. A
 * line longer than `maxLine` bytes is a `DataError` naming it.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const enc = new TextEncoder();
 * const chunks = await Array.fromAsync(
 *   ReadableStream.from([enc.encode("[1]\r\n[2"), enc.encode("]\n\n[3]")]).pipeThrough(lineChunks()),
 * );
 * const lines = chunks.flatMap((c) =>
 *   c.starts.map((s, i) => new TextDecoder().decode(c.bytes.subarray(s, c.ends[i])) + (c.crlf[i] ? "⏎" : ""))
 * );
 * assertEquals(lines, ["[1]⏎", "[2]", "", "[3]"]);
 * ```
 */
export function lineChunks(maxLine = 256 * 2 ** 20): TransformStream<Uint8Array, LineChunk> {
  // a line begun in earlier chunks, in pieces (joined once its end arrives: O(n) in all)
  let parts: Uint8Array[] = [], partsLen = 0;
  let lineNo = 1;
  const cut = (
    bytes: Uint8Array,
    ctrl: TransformStreamDefaultController<LineChunk>,
    final: boolean,
  ) => {
    const starts: number[] = [], ends: number[] = [], crlf: boolean[] = [];
    let a = 0;
    for (;;) {
      const nl = bytes.indexOf(0x0a, a);
      if (nl < 0) break;
      const cr = nl > a && bytes[nl - 1] === 0x0d;
      starts.push(a);
      ends.push(cr ? nl - 1 : nl);
      crlf.push(cr);
      a = nl + 1;
    }
    if (final && a < bytes.length) {
      starts.push(a);
      ends.push(bytes.length);
      crlf.push(false);
      a = bytes.length;
    }
    if (starts.length > 0) {
      ctrl.enqueue({ bytes: bytes.subarray(0, a), starts, ends, crlf, first: lineNo });
      lineNo += starts.length;
    }
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
