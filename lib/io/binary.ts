/**
 * Binary input (raw float32 or `.npy` data): a `ReadableStream` of batches
 * whose `pull` reads the bytes straight into shared slot memory.
 *
 * @module
 */
import { itemSize, type NpyDtype, toFloat32 } from "./npy.ts";
import { type Batch, type ByteReader, readFull, type SlotSink } from "./batch.ts";
import { DataError } from "./errors.ts";

/** Options of `binaryBatches`. */
export interface BinaryOptions {
  /** element type of the input */
  dtype: NpyDtype;
  /** channels per token */
  C: number;
  /** rows per batch (≤ the sink's capacity) */
  batchTokens: number;
  /** byte offset of the first data byte in the input (for messages) */
  dataOffset: number;
  /** rows the input declares (npy); more or fewer is an error */
  expectedTokens?: number;
  /** what to call the input in messages */
  what: string;
}

/**
 * Batches of rows read from `read`, after the bytes in `prefix` (already read
 * while detecting the format). A truncated last row, or a row count that does
 * not match the header, becomes the `fault` of the last batch, after every
 * complete row.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { streamReader } from "./batch.ts";
 * const input = new Float32Array(6).fill(1);
 * const slots = [new Float32Array(4), new Float32Array(4)];
 * let next = 0;
 * const sink = { capTokens: 2, open() {}, release() {}, acquire: async () => ({ slot: next, input: slots[next++] }) };
 * const read = streamReader(ReadableStream.from([new Uint8Array(input.buffer)]));
 * const batches = await Array.fromAsync(binaryBatches(read, new Uint8Array(0), sink,
 *   { dtype: "<f4", C: 2, batchTokens: 2, dataOffset: 0, what: "raw float32" }));
 * assert(batches.length === 2 && batches[1].tokens === 1);
 * ```
 */
export function binaryBatches(
  read: ByteReader,
  prefix: Uint8Array,
  sink: SlotSink,
  o: BinaryOptions,
): ReadableStream<Batch> {
  const item = itemSize(o.dtype), rowBytes = o.C * item;
  let pending = prefix; // bytes read but not yet placed
  let index = 0, offset = 0, done = false;
  let stage: Uint8Array | null = null; // other dtypes are read here, then converted
  const src: ByteReader = async (view) => {
    if (pending.length > 0) {
      const n = Math.min(view.length, pending.length);
      view.set(pending.subarray(0, n));
      pending = pending.subarray(n);
      return n;
    }
    return await read(view);
  };
  sink.open(o.C);
  return new ReadableStream<Batch>({
    async pull(ctrl) {
      if (done) return ctrl.close();
      const want = o.expectedTokens === undefined
        ? o.batchTokens
        : Math.min(o.batchTokens, o.expectedTokens - offset);
      const { slot, input } = await sink.acquire();
      let view: Uint8Array;
      if (o.dtype === "<f4") {
        view = new Uint8Array(input.buffer, input.byteOffset, want * rowBytes);
      } else {
        if (stage === null || stage.length < o.batchTokens * rowBytes) {
          stage = new Uint8Array(o.batchTokens * rowBytes);
        }
        view = stage.subarray(0, want * rowBytes);
      }
      const got = await readFull(src, view);
      let rows = Math.floor(got / rowBytes);
      if (o.dtype !== "<f4" && rows > 0) toFloat32(input, stage!, o.dtype, rows * o.C);
      // a finite float64 past float32's range is bad data (not a non-finite value)
      const over = item === 8 ? overflowAt(input, stage!, o.dtype, rows * o.C) : -1;
      let overflow: DataError | null = null;
      if (over >= 0) {
        const row = Math.floor(over / o.C), col = over % o.C;
        const v = new DataView(stage!.buffer, stage!.byteOffset).getFloat64(
          8 * over,
          o.dtype[0] === "<",
        );
        overflow = new DataError(
          `${o.what}: row ${offset + row}, channel ${col} (byte ${
            o.dataOffset + (offset + row) * rowBytes + col * item
          }): ${v} is beyond float32's range (±3.4e38)`,
        );
        rows = row;
      }
      let fault: DataError | undefined;
      const at = o.dataOffset + (offset + rows) * rowBytes;
      if (got < view.length) {
        done = true;
        if (got % rowBytes !== 0) {
          fault = new DataError(
            `${o.what}: truncated at byte ${at + (got % rowBytes)}: row ${offset + rows} has ` +
              `${got % rowBytes} of ${rowBytes} bytes (${o.C} × ${item}-byte floats)`,
          );
        } else if (o.expectedTokens !== undefined) {
          fault = new DataError(
            `${o.what}: truncated at byte ${at}: the header declares ${o.expectedTokens} rows, ` +
              `the data ends after ${offset + rows}`,
          );
        }
      } else if (o.expectedTokens !== undefined && offset + rows === o.expectedTokens) {
        done = true;
        const extra = await src(new Uint8Array(1));
        if (extra !== null && extra > 0) {
          fault = new DataError(
            `${o.what}: unexpected data at byte ${at}: the header declares ${o.expectedTokens} rows`,
          );
        }
      }
      if (overflow) {
        fault = overflow;
        done = true;
      }
      if (rows === 0 && fault === undefined) {
        sink.release(slot); // nothing more: no empty batch
        return ctrl.close();
      }
      const batch: Batch = {
        index,
        slot,
        tokens: rows,
        offset,
        lines: [],
        ...(fault ? { fault } : {}),
      };
      index++;
      offset += rows;
      ctrl.enqueue(batch);
      if (done) ctrl.close();
    },
  }, { highWaterMark: 0 });
}

/**
 * The first element that float32 made infinite although the float64 it came from is finite,
 * or -1.
 */
function overflowAt(out: Float32Array, src: Uint8Array, dtype: NpyDtype, n: number): number {
  for (let i = 0; i < n; i++) {
    if (Number.isFinite(out[i])) continue;
    const v = new DataView(src.buffer, src.byteOffset).getFloat64(8 * i, dtype[0] === "<");
    if (Number.isFinite(v)) return i;
  }
  return -1;
}
