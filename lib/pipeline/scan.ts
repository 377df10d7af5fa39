/**
 * Reading an input without workers: `scanInput` visits its batches with the pipeline's opener
 * and decoders, `readTokens` keeps the first tokens in memory.
 *
 * @module
 */
import { type Batch, type Input, type InputInfo, readerOf, type SlotSink } from "../io/batch.ts";
import { openInput } from "../io/input.ts";
import { nonfiniteFault } from "./collect.ts";
import { decodeInput } from "./decode.ts";
import type { StreamOptions } from "./options.ts";

/**
 * Decodes an input with the pipeline's opener and decoders, without workers: `visit` sees each
 * batch and its rows (`tokens × C` floats, in memory reused for the next batch) and may return
 * false to stop. The input's first fault is thrown as the pipeline would report it, after the
 * batches before it were visited — and, unless `nonfinite` is `pass`, a non-finite value too.
 * Returns what opening the input learned.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const input = ReadableStream.from([new TextEncoder().encode("[1,2]\n[3,4]\n")]);
 * let seen = 0;
 * const info = await scanInput(input, {}, (b) => (seen += b.tokens, true));
 * assert(info.C === 2 && seen === 2);
 * ```
 */
export async function scanInput(
  input: Input,
  o: Pick<StreamOptions, "dim" | "field" | "format" | "nonfinite">,
  visit: (batch: Batch, rows: Float32Array, C: number) => boolean,
  batchTokens = 256,
): Promise<InputInfo> {
  const read = readerOf(input);
  const info = await openInput(read, o);
  // nothing to read (a first line without tokens is left to the decoder to name)
  if (info.format === null) return info;
  let C = info.C, slot = new Float32Array(0);
  const sink: SlotSink = {
    capTokens: batchTokens,
    open(c) {
      C = c;
      slot = new Float32Array(batchTokens * c);
    },
    release() {},
    acquire: () => Promise.resolve({ slot: 0, input: slot }),
  };
  const nonfinite = o.nonfinite ?? "error";
  const reader = decodeInput(read, info, sink, { ...o, nonfinite }, batchTokens).getReader();
  try {
    for (;;) {
      const { done, value: b } = await reader.read();
      if (done) break;
      const rows = slot.subarray(0, b.tokens * C);
      if (nonfinite === "error") {
        const at = rows.findIndex((v) => !Number.isFinite(v));
        if (at >= 0) {
          const row = Math.floor(at / C);
          visit({ ...b, tokens: row }, rows.subarray(0, row * C), C);
          throw nonfiniteFault(info, b.offset + row, at % C, rows[at]);
        }
      }
      if (!visit(b, rows, C)) break;
      if (b.fault) throw b.fault;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return info;
}

/**
 * Reads up to `max` tokens of any input format into memory (for `compare`), with the same
 * opener and decoders as the pipeline (`scanInput`): the input's fault, or a non-finite value
 * among the tokens taken, is thrown.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const input = ReadableStream.from([new TextEncoder().encode("[1,2]\n[3,4]\n[5,6]\n")]);
 * const { tokens, C } = await readTokens(input, 2);
 * assert(C === 2 && tokens.length === 4 && tokens[3] === 4);
 * ```
 */
export async function readTokens(
  input: Input,
  max: number,
  o: Pick<StreamOptions, "dim" | "field" | "format"> = {},
): Promise<{ tokens: Float32Array; C: number }> {
  const out: Float32Array[] = [];
  let n = 0, C = 0;
  try {
    C = (await scanInput(input, o, (b, rows, c) => {
      C = c;
      const take = Math.min(b.tokens, max - n);
      if (take > 0) out.push(rows.slice(0, take * c));
      n += take;
      return n < max;
    })).C;
  } catch (e) {
    // a fault past the tokens taken is no concern of the caller's
    if (n < max) throw e;
  }
  const tokens = new Float32Array(n * C);
  let off = 0;
  for (const p of out) {
    tokens.set(p, off);
    off += p.length;
  }
  return { tokens, C };
}
