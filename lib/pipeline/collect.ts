/**
 * The in-order collector: merges each batch's per-token statistics (and, for
 * `run`, its gradients) into the run's totals in batch-index order, writes one
 * record per batch, and turns worker findings into batch faults.
 *
 * @module
 */
import type { Batch, InputInfo } from "../io/batch.ts";
import type { Encodable } from "../io/encode.ts";
import { DataError } from "../io/errors.ts";
import {
  ExactSum,
  Moments,
  type MomentState,
  type MomentSummary,
  NormAcc,
  type Partials,
} from "../stats/mod.ts";
import { type ParamSpec, type StackStats, stackStats } from "../model/mod.ts";
import type { Reply } from "./protocol.ts";
import type { SlotPool } from "./pool.ts";

/** A batch and what its worker answered (null when it had no rows). */
export interface Computed {
  /** the batch */
  batch: Batch;
  /** the worker's reply */
  reply: Reply | null;
  /** run: the gradient buffer holding the batch's gradients (released once summed) */
  grad?: number;
}

/** Gradient statistics of `normalize`: the probe's ‖∂L/∂y‖ and ‖∂L/∂x‖. */
export interface ProbeGrad {
  /** ‖∂L/∂y‖₂ (R itself) */
  dy_l2: number;
  /** ‖∂L/∂x‖₂ after the normalization's backward */
  dx_l2: number;
  /** dx_l2 / dy_l2 */
  ratio: number;
  /** max |∂L/∂y| */
  dy_max_abs: number;
  /** max |∂L/∂x| */
  dx_max_abs: number;
}

/** One `{"type": "batch"}` record. */
export interface BatchRecord {
  /** "batch" */
  type: "batch";
  /** batch index */
  index: number;
  /** rows in the batch */
  tokens: number;
  /** input moments */
  input: MomentSummary;
  /** output moments */
  output: MomentSummary;
  /** the batch's loss */
  loss: number;
  /** normalize: probe gradient norms; run: the batch's layer statistics */
  grad: ProbeGrad | StackStats;
}

/** The mergeable part of a summary (exact sums as partials). */
export interface SummaryState {
  /** input moments */
  input: MomentState;
  /** output moments */
  output: MomentState;
  /** partials of the loss */
  loss: Partials;
  /** ‖∂L/∂y‖² partials and max */
  dy: { sq: Partials; max_abs: number };
  /** ‖∂L/∂x‖² partials and max */
  dx: { sq: Partials; max_abs: number };
  /** run: per layer, partials of Σ‖h_l‖² and Σ‖∂L/∂h_l‖² over batches */
  layers?: { h_sq: Partials; dh_sq: Partials }[];
}

/** The `{"type": "summary"}` record. */
export interface Summary {
  /** "summary" */
  type: "summary";
  /** normalize or run */
  command: string;
  /** what determines the numbers (norm, eps, seed, model, …) */
  config: Record<string, unknown>;
  /** the global index of the first token covered (the run's --offset) */
  offset: number;
  /** tokens covered: the range [offset, offset + tokens) (= tokens_in) */
  tokens: number;
  /** rows read */
  tokens_in: number;
  /** rows written */
  tokens_out: number;
  /** batches */
  batches: number;
  /** input tokens holding NaN/±Infinity that were passed through (left out of the input moments) */
  nonfinite_tokens: number;
  /** tokens whose output holds NaN/±Infinity (left out of the output moments) */
  nonfinite_outputs: number;
  /** input moments */
  input: MomentSummary;
  /** output moments */
  output: MomentSummary;
  /** total loss */
  loss: number;
  /**
   * normalize: probe norms; run: layer statistics of the gradient accumulated over the stream
   * (merged shards: the norms that merge exactly, see `MergedStackStats`)
   */
  grad: ProbeGrad | StackStats | MergedStackStats;
  /** exact state for `stats merge` */
  state: SummaryState;
  /** the output was closed early (e.g. `| head`): the summary covers the batches collected */
  output_closed?: boolean;
  /** merged summaries: token ranges no shard covered (`stats merge --allow-gaps`) */
  gaps?: [number, number][];
  /** wall time and throughput: the only fields that differ between identical runs */
  timing: { wall_s: number; tokens_per_s: number };
}

/**
 * The stack statistics of merged `run` shards: the activation and gradient norms that merge
 * exactly (per-parameter norms of a summed gradient cannot be rebuilt from norms).
 */
export interface MergedStackStats {
  /** per layer: ‖h_l‖₂ and ‖∂L/∂h_l‖₂ over all shards */
  layer_stats: { layer: number; h_l2: number; dh_l2: number }[];
  /** ‖∂L/∂x‖₂ over all shards */
  dx_l2: number;
  /** what the merge could not rebuild */
  note: string;
}

/** run: where the stream's gradient is summed (batch by batch, in order) and how. */
export interface GradSum {
  /** the running sum, in the parameter layout */
  sum: Float32Array | Float64Array;
  /** adds one batch's gradient to `sum` */
  add(g: Float32Array): void;
}

/** Options of `collector`. */
export interface CollectOptions {
  /** the slot pool holding the batches */
  pool: SlotPool;
  /** normalize or run */
  command: "normalize" | "run";
  /** global index of the stream's first token */
  offset: number;
  /** what the source learned (for byte offsets in messages) */
  info: InputInfo;
  /**
   * What the task is: the summary's config block and, for run, the parameter layout,
   * whether there is a final LayerNorm, and where the stream's gradient is summed.
   */
  context: {
    config: Record<string, unknown>;
    layout?: ParamSpec[];
    finalNorm?: boolean;
    grads?: GradSum;
  };
  /** receives each batch record, in order */
  onRecord?: (r: BatchRecord) => void;
  /** receives progress after each batch (and the batch's slot) */
  onProgress?: (tokens: number, total: number | undefined, slot: number) => void;
  /** receives the summary at the end */
  onSummary: (s: Summary) => void;
}

/**
 * The fault of a non-finite input value, named by its row (counted from the input's start),
 * channel and, for binary input, byte.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const info = { format: "npy" as const, C: 4, dataOffset: 128, itemSize: 4, dtype: "<f4" as const, head: new Uint8Array(0) };
 * assert(nonfiniteFault(info, 2, 1, "NaN").message.startsWith("row 2, channel 1 (byte 164)"));
 * ```
 */
export function nonfiniteFault(info: InputInfo, row: number, col: number, value: unknown): Error {
  const byte = info.format === "ndjson"
    ? ""
    : ` (byte ${info.dataOffset + (row * info.C + col) * info.itemSize})`;
  return new DataError(
    `row ${row}, channel ${col}${byte}: non-finite value ${value} (use \`nonfinite: pass\` to allow)`,
  );
}

/** The probe norms from two accumulators. */
function probeGrad(dy: NormAcc, dx: NormAcc): ProbeGrad {
  const a = dy.l2(), b = dx.l2();
  return {
    dy_l2: a,
    dx_l2: b,
    ratio: a > 0 ? b / a : 0,
    dy_max_abs: dy.maxAbs,
    dx_max_abs: dx.maxAbs,
  };
}

/**
 * A `TransformStream` from computed batches to encodable ones, in order.
 *
 * @example
 * ```ts ignore
 * computed.pipeThrough(collector({ pool, command: "normalize", info, context, onSummary }));
 * ```
 */
export function collector(o: CollectOptions): TransformStream<Computed, Encodable> {
  const start = performance.now();
  const inp = new Moments(), out = new Moments(), dy = new NormAcc(), dx = new NormAcc();
  const loss = new ExactSum();
  let tokensIn = 0, tokensOut = 0, batches = 0, nonfinite = 0, nonfiniteOut = 0;
  const ctx = o.context;
  // run: the stream's gradient sum and, per layer, Σ‖h_l‖² and Σ‖∂L/∂h_l‖² over batches
  const L = ctx.layout ? ctx.layout.filter((p) => p.name.endsWith(".W_fc")).length : 0;
  const gradAcc = ctx.layout ? ctx.grads ?? sumInFloat64(o.pool.gradFloats) : null;
  const hSq = Array.from({ length: L }, () => new ExactSum());
  const dhSq = Array.from({ length: L }, () => new ExactSum());
  return new TransformStream<Computed, Encodable>({
    transform({ batch, reply, grad: gradBuf }, ctrl) {
      const C = o.info.C;
      // a worker that refused a non-finite value computed the rows before it: they are written
      const bad = reply?.bad;
      const fault = bad ? nonfiniteFault(o.info, batch.offset + bad.row, bad.col, bad.value) : null;
      const n = reply ? reply.tokens : 0;
      tokensIn += batch.tokens;
      // the worker summed the batch's tokens exactly; merging keeps the totals exact
      const acc = n > 0 ? reply?.acc : undefined;
      const bi = acc ? Moments.from(acc.inp) : new Moments();
      const bo = acc ? Moments.from(acc.out) : new Moments();
      const by = acc ? NormAcc.from(acc.dy) : new NormAcc();
      const bx = acc ? NormAcc.from(acc.dx) : new NormAcc();
      const bl = acc ? ExactSum.from(acc.loss) : new ExactSum();
      nonfinite += acc?.nonfinite ?? 0;
      nonfiniteOut += acc?.nonfiniteOut ?? 0;
      inp.merge(bi);
      out.merge(bo);
      dy.merge(by);
      dx.merge(bx);
      loss.merge(bl);
      tokensOut += n;
      let grad: ProbeGrad | StackStats = probeGrad(by, bx);
      if (gradBuf !== undefined && gradBuf >= 0) {
        // in batch order: the same sum, bit for bit, for any --workers
        if (gradAcc && reply?.stack) {
          gradAcc.add(o.pool.grads(gradBuf));
        }
        o.pool.releaseGrad(gradBuf);
      }
      if (gradAcc && reply?.stack) {
        reply.sums?.h_sq.forEach((v, l) => hSq[l].add(v));
        reply.sums?.dh_sq.forEach((v, l) => dhSq[l].add(v));
        grad = reply.stack;
      }
      if (n > 0) {
        // a batch of lines without tokens is no batch of the statistics
        batches++;
        o.onRecord?.({
          type: "batch",
          index: batch.index,
          tokens: n,
          input: bi.summary(),
          output: bo.summary(),
          loss: bl.value(),
          grad,
        });
      }
      o.onProgress?.(tokensOut, o.info.totalTokens, batch.slot);
      const output = batch.slot >= 0
        ? o.pool.output(batch.slot).subarray(0, n * C)
        : new Float32Array(0);
      // NDJSON output: the rows as the workers wrote them
      const text = o.pool.text && batch.slot >= 0 && n > 0 ? o.pool.textOf(batch.slot) : null;
      ctrl.enqueue({
        batch: { ...batch, tokens: n, ...(fault ? { fault } : {}) },
        output,
        ...(text ? { text } : {}),
      });
    },
    flush() {
      finish(false);
    },
    // the output was closed early (| head): summarize what was collected
    cancel() {
      finish(true);
    },
  });

  function finish(early: boolean) {
    const wall = (performance.now() - start) / 1000;
    const state: SummaryState = {
      input: inp.toJSON(),
      output: out.toJSON(),
      loss: loss.toJSON(),
      dy: dy.toJSON(),
      dx: dx.toJSON(),
    };
    let grad: Summary["grad"] | undefined;
    if (gradAcc && ctx.layout) {
      state.layers = hSq.map((h, l) => ({ h_sq: h.toJSON(), dh_sq: dhSq[l].toJSON() }));
      const dxl2 = dx.l2();
      grad = stackStats(gradAcc.sum, ctx.layout, {
        h_sq: hSq.map((s) => s.value()),
        dh_sq: dhSq.map((s) => s.value()),
        dx_sq: dxl2 * dxl2,
      }, ctx.finalNorm ?? false);
    }
    o.onSummary(summaryFromState(
      {
        command: o.command,
        config: ctx.config,
        offset: o.offset,
        tokens: tokensIn,
        tokens_in: tokensIn,
        tokens_out: tokensOut,
        batches,
        nonfinite_tokens: nonfinite,
        nonfinite_outputs: nonfiniteOut,
        state,
        timing: { wall_s: wall, tokens_per_s: wall > 0 ? tokensOut / wall : 0 },
      },
      grad,
      early,
    ));
  }
}

/** The counting fields of a summary, and its exact state. */
export type SummaryParts = Pick<
  Summary,
  | "command"
  | "config"
  | "offset"
  | "tokens"
  | "tokens_in"
  | "tokens_out"
  | "batches"
  | "nonfinite_tokens"
  | "nonfinite_outputs"
  | "state"
  | "timing"
>;

/**
 * A summary from its exact state: every derived number (moments, loss, norms)
 * is computed from the state alone, so a merged state gives the same summary
 * as one run over all the data. `grad` overrides the derived gradient block
 * (run: the accumulated gradient's statistics, which no state can rebuild).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { Moments, NormAcc } from "../stats/mod.ts";
 * const m = new Moments();
 * m.addToken(2, 3, 0.5, 1, 2);
 * const state = { input: m.toJSON(), output: m.toJSON(), loss: [1.5], dy: new NormAcc().toJSON(), dx: new NormAcc().toJSON() };
 * const s = summaryFromState({ command: "normalize", config: {}, offset: 0, tokens: 1, tokens_in: 1, tokens_out: 1, batches: 1,
 *   nonfinite_tokens: 0, nonfinite_outputs: 0, state, timing: { wall_s: 1, tokens_per_s: 1 } });
 * assert(s.input.mean === 1.5 && s.loss === 1.5);
 * ```
 */
export function summaryFromState(
  p: SummaryParts,
  grad?: Summary["grad"],
  outputClosed = false,
): Summary {
  const st = p.state;
  const dy = NormAcc.from(st.dy), dx = NormAcc.from(st.dx);
  let g: Summary["grad"] = grad ?? probeGrad(dy, dx);
  if (!grad && st.layers) {
    const merged: MergedStackStats = {
      layer_stats: st.layers.map((l, i) => ({
        layer: i,
        h_l2: Math.sqrt(ExactSum.from(l.h_sq).value()),
        dh_l2: Math.sqrt(ExactSum.from(l.dh_sq).value()),
      })),
      dx_l2: dx.l2(),
      note: "merged: per-parameter norms of the accumulated gradient need the gradient itself, " +
        "which stats files do not hold; h_l2, dh_l2 and dx_l2 are exact",
    };
    g = merged;
  }
  return {
    type: "summary",
    command: p.command,
    config: p.config,
    offset: p.offset,
    tokens: p.tokens,
    tokens_in: p.tokens_in,
    tokens_out: p.tokens_out,
    batches: p.batches,
    nonfinite_tokens: p.nonfinite_tokens,
    nonfinite_outputs: p.nonfinite_outputs,
    input: Moments.from(st.input).summary(),
    output: Moments.from(st.output).summary(),
    loss: ExactSum.from(st.loss).value(),
    grad: g,
    state: st,
    ...(outputClosed ? { output_closed: true } : {}),
    timing: p.timing,
  };
}

/** A float64 running sum of float32 gradients (when the task gives none of its own). */
function sumInFloat64(n: number): GradSum {
  const sum = new Float64Array(n);
  return {
    sum,
    add(g) {
      for (let i = 0; i < n; i++) sum[i] += g[i];
    },
  };
}
