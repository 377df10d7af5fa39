/**
 * Output encoders: `.npy` (`<f4`, the input's shape), raw float32, and NDJSON
 * mirroring the input's line shape. Each writes a batch's rows, releases its
 * slot, and stops cleanly (keeping every row already written) at a fault.
 *
 * @module
 */
import type { Batch, Format, InputInfo, LineInfo } from "./batch.ts";
import { npyHeader } from "./npy.ts";
import { UsageError } from "./errors.ts";
import { f32ToString, formatRows, rowTextBytes, tokenToJson } from "../kernels/format.ts";

export { f32ToString, tokenToJson };

/** A batch with its computed rows (`output` holds `batch.tokens` × C floats). */
export interface Encodable {
  /** the batch */
  batch: Batch;
  /** its output rows */
  output: Float32Array;
  /**
   * NDJSON output: the rows as token lines `[…]\n` (`formatRows`, written by the workers) and
   * where each ends; without it the encoder writes the text itself
   */
  text?: { bytes: Uint8Array; ends: Uint32Array };
}

/** Options of `encoder`. */
export interface EncoderOptions {
  /** output format */
  format: Format;
  /** what the source learned (format, C, npy shape) */
  info: InputInfo;
  /** gives a slot back once its rows are encoded */
  release: (slot: number) => void;
  /** called with a batch's fault after its rows are written; the stream then ends */
  onFault: (e: Error) => void;
  /**
   * binary output as views of the slots (no copy), lent: the slot is released once every chunk
   * of it came back through the lender's `giveBack`
   */
  lender?: Lender;
}

/**
 * Keeps track of output chunks lent out as views of a slot: the slot goes back to the pool
 * once all of its chunks have been given back.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const freed: number[] = [];
 * const lender = new Lender((slot) => freed.push(slot));
 * const a = new Uint8Array(4), b = new Uint8Array(4);
 * lender.lend(3, [a, b]);
 * lender.giveBack(a);
 * assert(freed.length === 0);
 * lender.giveBack(b);
 * lender.giveBack(b); // twice, or a chunk never lent: nothing happens
 * assert(freed.length === 1 && freed[0] === 3);
 * ```
 */
export class Lender {
  #slotOf = new WeakMap<Uint8Array, number>();
  #left = new Map<number, number>();
  #release: (slot: number) => void;

  /** `release` gives a slot back to its pool. */
  constructor(release: (slot: number) => void) {
    this.#release = release;
  }

  /** Lends `chunks`, views of `slot` (at least one). */
  lend(slot: number, chunks: Uint8Array[]): void {
    this.#left.set(slot, chunks.length);
    for (const c of chunks) this.#slotOf.set(c, slot);
  }

  /** A lent chunk is back: its bytes may be overwritten once its slot's other chunks are. */
  giveBack(chunk: Uint8Array): void {
    const slot = this.#slotOf.get(chunk);
    if (slot === undefined) return;
    this.#slotOf.delete(chunk);
    const left = this.#left.get(slot)! - 1;
    if (left > 0) this.#left.set(slot, left);
    else {
      this.#left.delete(slot);
      this.#release(slot);
    }
  }
}

// binary output in 1 MiB chunks: at 64 KiB the per-chunk write (a promise and a syscall each)
// cost a third of normalize's time on a 268 MB file
const CHUNK = 1024 * 1024;
const utf8 = new TextEncoder();

/**
 * A `TransformStream` from computed batches to bytes.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const info = { format: "ndjson" as const, C: 2, dataOffset: 0, itemSize: 4, dtype: "<f4" as const, head: new Uint8Array(0) };
 * const batch = { index: 0, slot: 0, tokens: 1, offset: 0, lines: [{ kind: "token" as const, n: 1 }] };
 * const enc = encoder({ format: "ndjson", info, release() {}, onFault() {} });
 * const bytes = await Array.fromAsync(ReadableStream.from([{ batch, output: Float32Array.of(0.5, -1) }]).pipeThrough(enc));
 * assert(new TextDecoder().decode(bytes[0]) === "[0.5,-1]\n");
 * ```
 */
export function encoder(o: EncoderOptions): TransformStream<Encodable, Uint8Array> {
  const { info } = o;
  let started = false;
  const header = (ctrl: TransformStreamDefaultController<Uint8Array>) => {
    if (started) return;
    started = true;
    if (o.format !== "npy") return;
    if (info.format === "npy" && info.shape) ctrl.enqueue(npyHeader(info.shape));
    else if (info.format === null) ctrl.enqueue(npyHeader([0, info.C]));
    else {
      throw new UsageError(
        "`outFormat: npy` needs .npy input (its header gives the row count up front); " +
          "use `outFormat: raw` or `outFormat: ndjson`",
      );
    }
  };
  const text = textWriter(info);
  const finish = (ctrl: TransformStreamDefaultController<Uint8Array>, b: Batch) => {
    if (b.slot >= 0) o.release(b.slot);
    if (b.fault) {
      o.onFault(b.fault);
      ctrl.terminate();
    }
  };
  const lend = (
    ctrl: TransformStreamDefaultController<Uint8Array>,
    b: Batch,
    bytes: Uint8Array,
  ) => {
    if (o.lender && b.slot >= 0) {
      // views of the slot, lent: the slot is released when they come back
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < bytes.length; i += CHUNK) chunks.push(bytes.subarray(i, i + CHUNK));
      o.lender.lend(b.slot, chunks);
      for (const c of chunks) ctrl.enqueue(c);
      return finish(ctrl, { ...b, slot: -1 });
    }
    // slice: a copy on a fresh (not shared) buffer, without zero-filling it first
    for (let i = 0; i < bytes.length; i += CHUNK) ctrl.enqueue(bytes.slice(i, i + CHUNK));
    finish(ctrl, b);
  };
  return new TransformStream<Encodable, Uint8Array>({
    transform({ batch, output, text: rows }, ctrl) {
      header(ctrl);
      const n = batch.tokens * info.C;
      if (o.format === "ndjson") {
        const lines = rows ?? formatted(output, batch.tokens, info.C);
        // token lines only, and none left open: the workers' text is the output as it is
        if (text.plain(batch)) {
          return lend(ctrl, batch, lines.bytes.subarray(0, lines.ends[batch.tokens - 1]));
        }
        const bytes = text.write(batch, lines);
        if (bytes.length > 0) ctrl.enqueue(bytes);
      } else if (n > 0) {
        return lend(ctrl, batch, new Uint8Array(output.buffer, output.byteOffset, n * 4));
      }
      finish(ctrl, batch);
    },
    flush(ctrl) {
      header(ctrl);
    },
  });
}

/** Rows as token lines, written here (when no worker wrote them). */
function formatted(x: Float32Array, N: number, C: number) {
  const bytes = new Uint8Array(N * rowTextBytes(C)), ends = new Uint32Array(N);
  formatRows(bytes, x, N, C, ends);
  return { bytes, ends };
}

/**
 * NDJSON writing: rows (token lines `[…]\n`, as `formatRows` writes them) are gathered into
 * their lines, a line written when complete. An object line is its input bytes with the
 * embedding's text replaced; a line that ended in `\r\n` ends so again. `plain` says when a
 * batch is token lines only, with no line left open: its rows' text is then the output as it is.
 */
function textWriter(info: InputInfo) {
  const pending: LineInfo[] = [];
  let head = 0; // pending[head] is the next line to write (shifting would be O(n²))
  let rows: Uint8Array[] = [];
  /** binary input: a line per token, or per sequence of T for [B, T, C] .npy */
  const T = info.shape?.length === 3 ? info.shape[1] : 0;
  const binaryLines = (b: Batch) => {
    for (let r = 0; r < b.tokens; r++) {
      if (T === 0) pending.push(TOKEN_LINE);
      else if ((b.offset + r) % T === 0) pending.push({ kind: "seq", n: T });
    }
  };
  const plain = (b: Batch): boolean => {
    if (b.tokens === 0 || head < pending.length || rows.length > 0) return false;
    if (info.format !== "ndjson") return T === 0;
    if (b.lines.length !== b.tokens) return false;
    for (const l of b.lines) if (l.kind !== "token" || l.crlf) return false;
    return true;
  };
  const write = (b: Batch, text: { bytes: Uint8Array; ends: Uint32Array }): Uint8Array => {
    if (info.format !== "ndjson") binaryLines(b);
    else for (const l of b.lines) pending.push(l);
    const parts: Uint8Array[] = [];
    const line = (l: LineInfo) => {
      const seq = l.kind === "seq" || (l.kind === "obj" && l.inner === "seq");
      const end = l.crlf ? CRLF : LF;
      if (l.n === 0 && l.kind === "seq") {
        // `[]`: one constant (files of millions of them)
        parts.push(l.crlf ? EMPTY_CRLF : EMPTY_LF);
        return;
      }
      const value = seq ? joined(rows) : rows[0];
      if (l.kind !== "obj") parts.push(value, end);
      else if (l.raw !== undefined && l.span) {
        // only the field's value changes: every other byte of the line is kept as read
        parts.push(l.raw.subarray(0, l.span[0]), value, l.raw.subarray(l.span[1]), end);
      } else {
        // the field's value is written as text, keeping the shortest float32 forms
        const v = latin1.decode(value);
        const fields = Object.entries(l.obj!).map(([k, x]) =>
          `${JSON.stringify(k)}:${k === l.field ? v : JSON.stringify(x)}`
        );
        parts.push(utf8.encode(`{${fields.join(",")}}`), end);
      }
      rows = [];
    };
    const flushComplete = () => {
      while (head < pending.length && rows.length === pending[head].n) line(pending[head++]);
      if (head === pending.length) {
        pending.length = 0;
        head = 0;
      }
    };
    flushComplete();
    for (let r = 0; r < b.tokens; r++) {
      // a row's text without its "\n", copied: its line may end in a later batch
      rows.push(text.bytes.slice(r > 0 ? text.ends[r - 1] : 0, text.ends[r] - 1));
      flushComplete();
    }
    return concat(parts);
  };
  return { plain, write };
}

const LF = Uint8Array.of(10), CRLF = Uint8Array.of(13, 10);
const EMPTY_LF = Uint8Array.of(91, 93, 10), EMPTY_CRLF = Uint8Array.of(91, 93, 13, 10);
const COMMA = Uint8Array.of(44), OPEN = Uint8Array.of(91), CLOSE = Uint8Array.of(93);
const latin1 = new TextDecoder("latin1");
const TOKEN_LINE: LineInfo = Object.freeze({ kind: "token", n: 1 });

/** `[row,row,…]` */
function joined(rows: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [OPEN];
  rows.forEach((r, i) => parts.push(...(i > 0 ? [COMMA, r] : [r])));
  parts.push(CLOSE);
  return concat(parts);
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let total = 0;
  for (const p of parts) total += p.length;
  const all = new Uint8Array(total);
  total = 0;
  for (const p of parts) {
    // a few bytes by hand: set() costs more than it copies for them
    if (p.length <= 8) { for (let i = 0; i < p.length; i++) all[total + i] = p[i]; }
    else all.set(p, total);
    total += p.length;
  }
  return all;
}
