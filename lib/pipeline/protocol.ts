/**
 * Messages between the pipeline and its stage workers, and the byte layout of
 * a slot in the shared pool.
 *
 * @module
 */
import type { Backend } from "../kernels/backend.ts";
import type { GPTConfig, NormSums, StackStats } from "../model/mod.ts";
import type { MomentState, NormState, Partials } from "../stats/mod.ts";

// the layout of a token's statistics record: one place, the kernels' (lib/kernels/stats.ts)
export { TOKEN, TOKEN_FIELDS } from "../kernels/stats.ts";
import { TOKEN_FIELDS } from "../kernels/stats.ts";
import { rowTextBytes } from "../kernels/format.ts";

/** Byte offsets of one slot's regions. */
export interface SlotLayout {
  /** bytes per slot */
  slotBytes: number;
  /** input rows (float32, capTokens × C) */
  input: number;
  /** output rows (float32, capTokens × C) */
  output: number;
  /** per-token statistics (float64, capTokens × TOKEN_FIELDS) */
  stats: number;
  /** NDJSON output: the rows as text (capTokens × `rowTextBytes(C)` bytes), or -1 */
  text: number;
  /** NDJSON output: where each row's line ends in `text` (uint32, capTokens), or -1 */
  ends: number;
}

/**
 * The layout of a slot for rows of C channels; with `overwrite` the outputs are written over
 * the inputs (one region for both); with `text` the workers also write the outputs as NDJSON
 * lines (`formatRows`). (A batch's parameter gradients live apart, in a small ring of gradient
 * buffers: see `SlotPool.acquireGrad`.)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const l = slotLayout(4, 3);
 * assert(l.output === 48 && l.stats % 8 === 0 && l.slotBytes % 8 === 0 && l.text === -1);
 * assert(slotLayout(4, 3, true).output === 0 && slotLayout(4, 3, false, true).text > 0);
 * ```
 */
export function slotLayout(
  capTokens: number,
  C: number,
  overwrite = false,
  text = false,
): SlotLayout {
  const a8 = (n: number) => Math.ceil(n / 8) * 8;
  const input = 0;
  const output = overwrite ? input : a8(capTokens * C * 4);
  const stats = a8(output + capTokens * C * 4);
  const rows = a8(stats + capTokens * TOKEN_FIELDS * 8);
  if (!text) return { input, output, stats, text: -1, ends: -1, slotBytes: rows };
  const ends = a8(rows + capTokens * rowTextBytes(C));
  return { input, output, stats, text: rows, ends, slotBytes: a8(ends + capTokens * 4) };
}

/** Per-token normalization with a probe-loss backward pass. */
export interface NormalizeTask {
  /** "normalize" */
  kind: "normalize";
  /** kernels: ts, or wasm/blas (the rows are computed in a worker-local arena) */
  backend: Backend;
  /** OpenBLAS path (blas) */
  blasLib?: string;
  /** LayerNorm, RMSNorm or BatchNorm (per feature over the batch) */
  norm: "layer" | "rms" | "batch";
  /** epsilon */
  eps: number;
  /** optional per-channel scale */
  weight: Float32Array | null;
  /** optional per-channel shift (LayerNorm, BatchNorm) */
  bias: Float32Array | null;
  /** seed of the probe direction R */
  seed: number;
  /** refuse (error) or pass non-finite inputs */
  nonfinite: "error" | "pass";
  /** compute the probe backward and its statistics (false: outputs and moments only) */
  gradients: boolean;
  /** per-token statistics at all (false: outputs only; implies no gradients) */
  statistics: boolean;
}

/** A GPT stack with a loss and a backward pass. */
export interface RunTask {
  /** "run" */
  kind: "run";
  /** the stack (dtype float32) */
  config: GPTConfig;
  /** the parameters, shared read-only (ts backend) */
  params?: SharedArrayBuffer;
  /** the model's arena (wasm, blas backends): workers attach and allocate their own buffers */
  memory?: WebAssembly.Memory;
  /** byte offset of the parameters in `memory` */
  paramsAt?: number;
  /** tokens per sequence */
  seq: number;
  /** probe (Σ y·R) or l2 (½Σy²) */
  loss: "probe" | "l2";
  /** seed of the probe direction R */
  seed: number;
  /** refuse (error) or pass non-finite inputs */
  nonfinite: "error" | "pass";
}

/** First message to a worker. */
export interface StageInit {
  /** "init" */
  type: "init";
  /** the kernels' module, compiled by the main thread (shared machine code) */
  kernels?: WebAssembly.Module;
  /** the memory holding the slot pool */
  sab: SharedArrayBuffer;
  /** byte offset of slot 0 in `sab` */
  slotsAt: number;
  /** the slots' outputs are written over their inputs (`slotLayout`'s `overwrite`) */
  overwrite?: boolean;
  /** the workers also write the outputs as NDJSON lines (`slotLayout`'s `text`) */
  text?: boolean;
  /** the arena whose memory `sab` is, when the slots live in one (kernels compute in place) */
  memory?: WebAssembly.Memory;
  /** rows per slot */
  capTokens: number;
  /** channels */
  C: number;
  /** the ring of gradient buffers (run), each `gradFloats` float32 (in the arena for wasm) */
  gradSab: SharedArrayBuffer | null;
  /** byte offset of the ring in `gradSab` (in the model's memory for wasm and blas) */
  gradAt: number;
  /** floats in each gradient buffer (0 for normalize) */
  gradFloats: number;
  /** what to compute */
  task: NormalizeTask | RunTask;
}

/** One batch to compute, in place in its slot. */
export interface Job {
  /** "job" */
  type: "job";
  /** slot index */
  slot: number;
  /** rows in the slot */
  tokens: number;
  /** global index of the first row */
  offset: number;
  /** run: the gradient buffer this batch's gradients go to (−1: none) */
  grad: number;
}

/** A worker's answer to a job. */
export interface Reply {
  /** the job's slot */
  slot: number;
  /** rows computed (fewer than asked when a non-finite value stopped it) */
  tokens: number;
  /** the first non-finite input, when refused */
  bad?: { row: number; col: number; value: number };
  /** the batch's statistics, summed exactly over its tokens by the worker (none when off) */
  acc?: BatchAcc;
  /** run: this batch's gradient statistics */
  stack?: StackStats;
  /** run: this batch's squared norm sums (added exactly across batches by the collector) */
  sums?: NormSums;
  /** an exception inside the worker */
  error?: string;
}

/**
 * A batch's statistics as exact, mergeable sums over its tokens (each token's own non-finite
 * fields left out, and counted): merged in any grouping they give the same totals, so the
 * workers sum their batches and the collector only merges.
 */
export interface BatchAcc {
  /** input moments */
  inp: MomentState;
  /** output moments */
  out: MomentState;
  /** ‖∂L/∂y‖² and max |∂L/∂y| */
  dy: NormState;
  /** ‖∂L/∂x‖² and max |∂L/∂x| */
  dx: NormState;
  /** Σ loss */
  loss: Partials;
  /** tokens whose input moments are not finite */
  nonfinite: number;
  /** tokens whose output moments are not finite */
  nonfiniteOut: number;
}
