/**
 * The decoder: an opened input's bytes as batches of rows in slots — npy or raw binary read
 * straight into the slots, NDJSON cut into lines and parsed into them.
 *
 * @module
 */
import { concatReadableStreams } from "../std/mod.ts";
import { lineChunks } from "../io/lines.ts";
import type { Batch, ByteReader, InputInfo, SlotSink } from "../io/batch.ts";
import { binaryBatches } from "../io/binary.ts";
import { ndjsonDecoder } from "../io/ndjson.ts";
import type { StreamOptions } from "./options.ts";

/**
 * The decoder for an opened input (its head bytes are processed first): npy or raw binary
 * batches read into `sink`'s slots, or NDJSON lines parsed into them.
 *
 * @example
 * ```ts ignore
 * const info = await openInput(read, {});
 * const batches = decodeInput(read, info, pool, {}, 1024);
 * ```
 */
export function decodeInput(
  read: ByteReader,
  info: InputInfo,
  sink: SlotSink,
  o: Pick<StreamOptions, "field" | "nonfinite">,
  batchTokens: number,
  align = 1,
): ReadableStream<Batch> {
  if (info.format === null) return ReadableStream.from<Batch>([]);
  if (info.format === "npy" || info.format === "raw") {
    const npy = info.format === "npy";
    return binaryBatches(read, info.head.subarray(info.dataOffset), sink, {
      dtype: info.dtype,
      C: info.C,
      batchTokens,
      dataOffset: info.dataOffset,
      expectedTokens: info.totalTokens,
      what: npy ? ".npy" : "raw float32",
    });
  }
  const rest = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const buf = new Uint8Array(64 * 1024);
      const n = await read(buf);
      if (n === null) ctrl.close();
      else ctrl.enqueue(buf.subarray(0, n));
    },
  });
  return concatReadableStreams(ReadableStream.from([info.head]), rest)
    .pipeThrough(lineChunks(undefined, info.firstLine))
    .pipeThrough(ndjsonDecoder(sink, {
      C: info.C || undefined,
      field: o.field ?? "embedding",
      batchTokens,
      nonfinite: o.nonfinite ?? "error",
      align,
    }));
}
