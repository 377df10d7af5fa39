/**
 * What flows between the decoder, the stage and the encoder: batches of
 * tokens that live in slots of shared memory, plus the line structure of the
 * input so the output can mirror it.
 *
 * @module
 */

/** Input formats. */
export type Format = "npy" | "ndjson" | "raw";

/**
 * One input line of NDJSON (or one row group of binary input): how many tokens
 * it holds and how to write it back. `kind`: `token` (an array of C numbers),
 * `seq` (an array of tokens), or an object whose `field` holds a token or a
 * sequence (`obj`, with `inner`).
 */
export interface LineInfo {
  /** line shape */
  kind: "token" | "seq" | "obj";
  /** tokens in the line */
  n: number;
  /** the line ended with `\r\n` (its output line does too) */
  crlf?: boolean;
  /** for `obj`: the parsed object (its field is replaced on output) */
  obj?: Record<string, unknown>;
  /** for `obj`: the field that held the embedding */
  field?: string;
  /** for `obj`: what the field held */
  inner?: "token" | "seq";
  /** for `obj`: the line's bytes as read, and where the field's value stands in them */
  raw?: Uint8Array;
  /** `[start, end)` of the field's value in `raw` (`fieldSpan`) */
  span?: [number, number];
}

/** A batch of tokens in a slot. */
export interface Batch {
  /** 0, 1, 2, … in input order */
  index: number;
  /** the slot holding the rows */
  slot: number;
  /** rows in the slot */
  tokens: number;
  /** global index of the first row in the stream */
  offset: number;
  /** lines that start in this batch (NDJSON), in order */
  lines: LineInfo[];
  /** an input fault found after these rows: raised once they are written */
  fault?: Error;
}

/** Where decoders put rows: shared-memory slots of `capTokens` × C float32. */
export interface SlotSink {
  /** called once when C is known, before the first `acquire` */
  open(C: number): void;
  /** rows per slot */
  readonly capTokens: number;
  /** waits for a free slot; returns its index and its input rows */
  acquire(): Promise<{ slot: number; input: Float32Array }>;
  /** gives back a slot that carries no batch */
  release(slot: number): void;
}

export type { InputInfo } from "./input.ts";

/**
 * Reads into `view`; resolves to the byte count, or null at end of input.
 * `Deno.stdin.read` has this shape.
 */
export type ByteReader = (view: Uint8Array) => Promise<number | null>;

/** Input: a byte stream, or a `ByteReader` such as `(v) => Deno.stdin.read(v)`. */
export type Input = ReadableStream<Uint8Array> | ByteReader;

/**
 * The `ByteReader` of an input: itself, or `streamReader` of a stream.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const read = readerOf(ReadableStream.from([Uint8Array.of(7)]));
 * const v = new Uint8Array(4);
 * assert((await read(v)) === 1 && v[0] === 7);
 * ```
 */
export function readerOf(input: Input): ByteReader {
  return typeof input === "function" ? input : streamReader(input);
}

/**
 * A `ByteReader` over a `ReadableStream<Uint8Array>` (chunks are copied into
 * the caller's views).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const read = streamReader(ReadableStream.from([Uint8Array.of(1, 2, 3)]));
 * const v = new Uint8Array(2);
 * assert((await read(v)) === 2 && (await read(v)) === 1 && (await read(v)) === null);
 * ```
 */
export function streamReader(rs: ReadableStream<Uint8Array>): ByteReader {
  const reader = rs.getReader();
  let rest: Uint8Array | null = null;
  return async (view) => {
    while (rest === null || rest.length === 0) {
      const { done, value } = await reader.read();
      if (done) return null;
      rest = value;
    }
    const n = Math.min(view.length, rest.length);
    view.set(rest.subarray(0, n));
    rest = rest.subarray(n);
    return n;
  };
}

/**
 * Fills `view` completely unless the input ends; returns the bytes read.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const read = streamReader(ReadableStream.from([Uint8Array.of(1), Uint8Array.of(2, 3)]));
 * assert((await readFull(read, new Uint8Array(3))) === 3);
 * ```
 */
export async function readFull(read: ByteReader, view: Uint8Array): Promise<number> {
  let got = 0;
  while (got < view.length) {
    const n = await read(view.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}
