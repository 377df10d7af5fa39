/**
 * The compute stage: each batch becomes a job for the stage workers, up to `inFlight` at once,
 * and leaves (in input order) with the worker's reply.
 *
 * @module
 */
import type { Batch } from "../io/batch.ts";
import type { Computed } from "./collect.ts";
import { OptionError } from "./options.ts";
import type { SlotPool } from "./pool.ts";
import type { RunState } from "./state.ts";
import { orderedStage } from "./stage.ts";
import type { StagePool } from "./workers.ts";

/** Options of `jobStage`. */
export interface JobStageOptions {
  /** the slots the batches live in (and run's gradient ring) */
  slots: SlotPool;
  /** the workers; null when the input has no tokens */
  workers: StagePool | null;
  /** global index of the stream's first token (`offset`) */
  first: number;
  /** batches computed at once */
  inFlight: number;
  /** the run, told which batches are running */
  state: RunState;
}

/**
 * A `TransformStream` from decoded batches to computed ones, in order. A failed job becomes
 * its batch's fault (a new batch value: no rows, the error), so rows before it are written.
 *
 * @example
 * ```ts ignore
 * batches.pipeThrough(jobStage({ slots, workers, first: 0, inFlight: 3, state }));
 * ```
 */
export function jobStage(o: JobStageOptions): TransformStream<Batch, Computed> {
  const { slots, first } = o;
  return orderedStage(async (batch: Batch): Promise<Computed> => {
    if (batch.slot < 0 || batch.tokens === 0 || o.workers === null) return { batch, reply: null };
    if (first + batch.offset + batch.tokens > Number.MAX_SAFE_INTEGER) {
      // a token's probe key is its global index: past 2^53 two tokens would share one
      const fault = new OptionError(
        "offset",
        `${first}: token ${first + batch.offset + batch.tokens - 1} would pass 2^53 − 1, ` +
          `past which global token indices (and their probe directions) collide`,
      );
      return { batch: { ...batch, tokens: 0, fault }, reply: null };
    }
    const grad = slots.gradSab ? await slots.acquireGrad() : -1;
    o.state.started(batch.slot, batch.tokens);
    try {
      const job = { type: "job", slot: batch.slot, tokens: batch.tokens, grad } as const;
      const reply = await o.workers.run({ ...job, offset: first + batch.offset });
      return { batch, reply, grad };
    } catch (e) {
      if (grad >= 0) slots.releaseGrad(grad);
      return { batch: { ...batch, tokens: 0, fault: e as Error }, reply: null };
    }
  }, o.inFlight);
}
