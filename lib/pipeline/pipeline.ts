/**
 * The streaming pipeline, in one place: open the input (format, C, shape), ask the plan for the
 * work, take the slots and start the workers, then decode → compute (ordered) → collect →
 * encode, each a `TransformStream` of its own file:
 *
 * bytes → `decodeInput` (decode.ts) → `jobStage` (jobs.ts) → `collector` (collect.ts) →
 * `encoder` (io/encode.ts) → bytes
 *
 * @module
 */
import { type Input, readerOf } from "../io/batch.ts";
import { encoder, Lender } from "../io/encode.ts";
import { openInput } from "../io/input.ts";
import { collector, type Summary } from "./collect.ts";
import { decodeInput } from "./decode.ts";
import { jobStage } from "./jobs.ts";
import type { NormalizeOptions, RunOptions } from "./options.ts";
import { normalizePlan, runPlan, type StreamPlan } from "./plan.ts";
import { SlotPool } from "./pool.ts";
import { RunState } from "./state.ts";
import { canLoadWorkers, stageInit, stageWorkers } from "./workers.ts";

export type { Input };

/** A running pipeline. */
export interface Lnstream {
  /** the output bytes */
  readable: ReadableStream<Uint8Array>;
  /**
   * Resolves to the summary when the output is complete; rejects with the
   * first fault (`DataError` 65, `UsageError` 64, `WorkerError` 70) after every
   * row before it was written.
   */
  done: Promise<Summary>;
  /**
   * With `borrow`, gives a chunk of `readable` back once you are done with it (written,
   * copied); without, or for any other array, does nothing.
   */
  giveBack(chunk: Uint8Array): void;
}

/**
 * Normalizes a stream of token embeddings (npy, NDJSON or raw float32), with a
 * probe-loss backward pass for gradient statistics.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const input = ReadableStream.from([new TextEncoder().encode("[1, 2, 3]\n[4, 4, 8]\n")]);
 * const { readable, done } = normalizeStream(input, { workers: 1 });
 * const text = await new Response(readable).text();
 * const s = await done;
 * assert(text.split("\n").length === 3 && s.tokens_out === 2 && Math.abs(s.output.std - 1) < 1e-4);
 * ```
 */
export function normalizeStream(input: Input, options: NormalizeOptions = {}): Lnstream {
  return runPipeline(normalizePlan(options), input);
}

/**
 * Runs a GPT stack over a stream of token embeddings grouped into sequences of
 * `seq` tokens, streaming the outputs and accumulating gradients over the stream.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const rows = Array.from({ length: 6 }, (_, t) => JSON.stringify([t, 1, -t, 2]) + "\n").join("");
 * const { readable, done } = runStream(ReadableStream.from([new TextEncoder().encode(rows)]),
 *   { workers: 1, layers: 2, heads: 2, seq: 4 });
 * await new Response(readable).arrayBuffer();
 * const s = await done;
 * assert(s.tokens_out === 6 && "layer_stats" in s.grad && s.grad.layer_stats.length === 2);
 * ```
 */
export function runStream(input: Input, options: RunOptions = {}): Lnstream {
  return runPipeline(runPlan(options), input);
}

/**
 * Runs a plan over an input: the output bytes, the summary when they are complete.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { normalizePlan } from "./plan.ts";
 * const input = ReadableStream.from([new TextEncoder().encode("[1, 3]\n")]);
 * const { readable, done } = runPipeline(normalizePlan({ workers: 1 }), input);
 * assert((await new Response(readable).text()) === "[-0.999995,0.999995]\n");
 * assert((await done).tokens_out === 1);
 * ```
 */
export function runPipeline(plan: StreamPlan, input: Input): Lnstream {
  canLoadWorkers(plan.workerUrl);
  const o = plan.options, state = new RunState(plan.onProgress);
  // a consumer that stops reading (| head) cancels `out`: the run then ends with the summary
  // of what was collected, rather than as a failure
  const out = new TransformStream<Uint8Array, Uint8Array>({
    cancel: () => state.outputCancelled(),
  });
  const read = readerOf(input);
  // the workers start now: their modules load while the input is opened
  const onProgress = state.watching ? state.advanced.bind(state) : undefined;
  const workers = stageWorkers(o.workers, plan.growWorkersAfterMs, plan.workerUrl, onProgress);
  state.workers = workers;
  (async () => {
    const info = await openInput(read, o);
    const work = plan.forInput(info), setup = work.task;
    state.total = info.totalTokens;
    // a slot per batch being computed, one being read and one being written; run's ring of
    // gradient buffers has one per batch being computed
    const inFlight = o.workers + 1;
    const slots = new SlotPool(inFlight + 2, work.batchTokens, {
      gradFloats: setup?.gradFloats ?? 0,
      gradRing: inFlight,
      arena: setup?.arena ?? null,
      overwrite: setup?.overwrite ?? false,
      text: work.outFormat === "ndjson",
    });
    if (setup !== null) {
      slots.open(info.C);
      workers.start(stageInit(slots, setup));
    }
    if (plan.borrow) state.lender = new Lender((s) => slots.release(s));
    const bytes = decodeInput(read, info, slots, o, work.batchTokens, setup?.align ?? 1)
      .pipeThrough(
        jobStage({ slots, workers: setup && workers, first: o.offset, inFlight, state }),
      )
      .pipeThrough(collector({
        pool: slots,
        command: plan.command,
        offset: o.offset,
        info,
        context: { ...setup, config: work.config },
        onRecord: plan.onRecord,
        onProgress: (n, _total, slot) => state.collected(n, slot),
        onSummary: (s: Summary) => state.summarize(s),
      }))
      .pipeThrough(encoder({
        format: work.outFormat,
        info,
        release: (s) => slots.release(s),
        onFault: (e) => state.fault(e),
        ...(state.lender ? { lender: state.lender } : {}),
      }));
    // a failure upstream (an input stream that errors) is this run's error, not a closed output
    await bytes.pipeTo(out.writable, { preventAbort: true });
  })().then(
    () => state.end(),
    (e) => {
      if (state.end(e)) out.writable.abort(e).catch(() => {});
    },
  );
  return { readable: out.readable, done: state.done, giveBack: (c) => state.lender?.giveBack(c) };
}
