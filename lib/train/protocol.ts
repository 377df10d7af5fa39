/**
 * The messages between `Trainer` and its workers (`workers/train.ts`).
 *
 * @module
 */
import type { Floats } from "../kernels/types.ts";
import type { CharLMConfig, CharLMShare } from "./lm.ts";
import type { SequenceTrace, TracePart } from "./trace.ts";

/** First message: build a model on the shared parameters. */
export interface TrainWorkerInit {
  /** "init" */
  type: "init";
  /** the model's shape */
  config: CharLMConfig;
  /** where the parameters are */
  share: CharLMShare;
  /** the kernels' module, compiled by the main thread (shared machine code) */
  kernels?: WebAssembly.Module;
}

/**
 * A gradient shard ("grad": zero the gradients, then loss and gradient), a loss only, or
 * ("grads", once after init) the worker's gradient buffer.
 */
export type ShardJob = LossJob | { type: "grads" };

/** A shard to compute: its loss, and with "grad" its gradient. */
export interface LossJob {
  /** what to compute */
  type: "grad" | "loss";
  /** token ids [B,T] */
  x: Int32Array;
  /** next-token targets [B,T] */
  y: Int32Array;
  /** sequences in the shard */
  B: number;
  /** tokens per sequence */
  T: number;
  /** tokens of the whole batch: the gradient is of the summed loss / over */
  over: number;
}

/** A worker's answer: its gradient buffer ("grads"), a shard's loss, or an error. */
export interface ShardReply {
  /** the worker's gradient buffer (shared), after init */
  grads?: Floats;
  /** the shard's mean loss */
  loss?: number;
  /** what went wrong */
  error?: string;
}

/** First message to a trace worker (`workers/trace.ts`): the model on the shared parameters. */
export interface TraceWorkerInit {
  /** "init" */
  type: "init";
  /** the model's shape */
  config: CharLMConfig;
  /** where the parameters are */
  share: CharLMShare;
  /** channels listed per layer */
  top: number;
  /** how the worker's model keeps activations */
  activations: "all" | "block";
  /** the kernels' module, compiled by the main thread */
  kernels?: WebAssembly.Module;
}

/** A trace worker's job: "ready" (answered once the model is built), or a sequence to trace. */
export type TraceJob = { type: "ready" } | {
  /** "trace" */
  type: "trace";
  /** the sequence's token ids */
  ids: Int32Array;
  /** its index in the input */
  index: number;
  /** return its logits [T, V] */
  logits?: boolean;
  /** return its hidden states [L + 1, T, C] */
  hidden?: boolean;
};

/** A trace worker's answer. */
export interface TraceReply {
  /** the sequence's record */
  record?: SequenceTrace;
  /** its share of the summary */
  part?: TracePart;
  /** logits [T, V] */
  logits?: Float32Array;
  /** hidden states [L + 1, T, C] */
  hidden?: Float32Array;
  /** what went wrong */
  error?: string;
}
