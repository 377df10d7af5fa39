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
export { type Input, type Lnstream, normalizeStream, runPipeline, runStream } from "./pipeline.ts";
export {
  normalizePlan,
  runPlan,
  type StreamPlan,
  type StreamWork,
  type TaskSetup,
} from "./plan.ts";
export { readTokens, scanInput } from "./scan.ts";
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
  type NormalizeOptions,
  OptionError,
  type ResolvedStreamOptions,
  resolveStreamOptions,
  type RunOptions,
  type StreamOptionFields,
  type StreamOptions,
} from "./options.ts";
// the types its API names, from the modules that define them
export type * from "../io/mod.ts";
export type * from "../model/mod.ts";
export type * from "../stats/mod.ts";
export type { Batch, InputInfo, LineInfo } from "../io/batch.ts";
export type { NormalizeTask, RunTask } from "./protocol.ts";
export type { GradSum } from "./collect.ts";
