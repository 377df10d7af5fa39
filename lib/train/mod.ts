/**
 * Training a character-level GPT: `train` (or a `Trainer` step by step), the data, the
 * model, the schedule, AdamW and checkpoints.
 *
 * @example
 * ```ts
 * import { assert, assertEquals } from "@std/assert";
 * assertEquals(lrAt(0, { lr: 1e-3, minLr: 1e-4, warmup: 0, iters: 10 }), 1e-3);
 * const { summary } = await train({
 *   data: "a rose is a rose is a rose. ".repeat(30),
 *   layers: 1, heads: 1, dim: 8, block: 8, batch: 2, iters: 5, evalIters: 1,
 * });
 * assert(summary.final!.step === 5);
 * ```
 *
 * @module
 */
export { type AdamWStep, adamwUpdate, clipScale } from "./adamw.ts";
export { CharData, type Split } from "./chardata.ts";
export { CharLM, type CharLMConfig, type CharLMShare, lmLayout } from "./lm.ts";
export {
  CHECKPOINT_FORMAT,
  decodeCheckpoint,
  decodeWeights,
  encodeCheckpoint,
  encodeWeights,
  type Weights,
  WEIGHTS_FORMAT,
} from "./checkpoint.ts";
export {
  defaultText,
  divergedAt,
  type EvalRecord,
  fillConfig,
  type LayerGrad,
  modelShape,
  type StepRecord,
  summarize,
  train,
  TRAIN_DEFAULTS,
  type TrainConfig,
  Trainer,
  type TrainOptions,
  type TrainRecord,
  type TrainRuntime,
  type TrainState,
  type TrainSummary,
} from "./trainer.ts";
export { lrAt, type Schedule, scheduleWarning } from "./schedule.ts";
export { type LoadedModel, loadModel, type LoadOptions, type ModelInfo } from "./load.ts";
export { charTokenizer, GPT2_VOCAB, gpt2Tokenizer, type Tokenizer } from "./tokenizer.ts";
export { bpeTokenizer } from "./bpe.ts";
export {
  type LayerTrace,
  type LnChecks,
  type ResidMoments,
  type SequenceTrace,
  type TraceOptions,
  type TracePart,
  Tracer,
  type TraceSummary,
} from "./trace.ts";
export { traceBytes, type TracedSequence, TraceRun, type TraceRunOptions } from "./trace_run.ts";
// the types its API names, from the modules that define them
export type * from "../model/mod.ts";
