/**
 * The streaming pipeline: decoders into a shared slot pool, an ordered worker
 * stage, an in-order statistics collector and encoders.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const input = ReadableStream.from([new TextEncoder().encode("[3, 1]\n")]);
 * const { readable, done } = normalizeStream(input, { workers: 1 });
 * const [y0, y1] = JSON.parse(await new Response(readable).text());
 * assert(Math.abs(y0 - 1) < 1e-4 && Math.abs(y1 + 1) < 1e-4);
 * assert((await done).tokens_out === 1);
 * ```
 *
 * @module
 */
export {
  type Input,
  type Lnstream,
  type NormalizeOptions,
  normalizeStream,
  type RunOptions,
  runStream,
  type StreamOptions,
} from "./pipeline.ts";
export {
  type BatchRecord,
  type MergedStackStats,
  type ProbeGrad,
  type Summary,
  summaryFromState,
  type SummaryParts,
  type SummaryState,
} from "./collect.ts";
export { WorkerError } from "./workers.ts";
export {
  flagOf,
  MAX_WORKERS,
  OptionError,
  type ResolvedStreamOptions,
  resolveStreamOptions,
  type StreamOptionFields,
} from "./options.ts";
