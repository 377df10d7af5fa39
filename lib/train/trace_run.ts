/**
 * `trace` over many sequences on worker threads: each worker builds a model on the one copy of
 * the parameters (shared memory) with its own activations and one block's gradients, measures
 * whole sequences, and this thread adds their shares to the summary in sequence order — the
 * records and the summary are the same bytes for any number of workers.
 *
 * @module
 */
import type { CharLM, CharLMConfig } from "./lm.ts";
import { type SequenceTrace, type TraceOptions, type TracePart, Tracer } from "./trace.ts";
import type { TraceJob, TraceReply, TraceWorkerInit } from "./protocol.ts";
import { canLoadWorkers, WorkerPool } from "../pipeline/workers.ts";
import { kernelModule } from "../kernels/arena.ts";
import { GPT } from "../model/gpt.ts";
import { paramLayout } from "../model/params.ts";
import { resolveConfig } from "../model/config.ts";
import { UsageError } from "../io/errors.ts";

type Pool = WorkerPool<TraceWorkerInit, TraceJob, TraceReply>;

/** The config that builds `lm`'s twin on its parameters (in a worker). */
function configOf(lm: CharLM): CharLMConfig {
  return {
    ...lm.gpt.config,
    vocab: lm.vocab,
    block: lm.block,
    tiedHead: lm.head.byteOffset === lm.wte.byteOffset,
  };
}

/** Options of a `TraceRun`. */
export interface TraceRunOptions extends TraceOptions {
  /** worker threads; 1 = this thread (default 1) */
  workers?: number;
  /** the worker module (default `workers/trace.ts`) */
  workerUrl?: URL;
  /** the longest sequence to be traced: checked against the 4 GiB WebAssembly memory at start */
  seq?: number;
  /**
   * "all": every block's activations kept through the backward; "block": one block's, the
   * others recomputed in the backward (a third more work, a fraction of the memory); "auto"
   * (default): "all" when `seq` fits the memory that way, else "block"
   */
  activations?: "all" | "block" | "auto";
}

/**
 * The bytes one tracing thread adds to a model's WebAssembly memory for sequences of T tokens:
 * the stack's activations (`GPT.bytesFor`), one block's gradients, the embeddings, their
 * gradient and the logits.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const c = { vocab: 50257, block: 1024, nLayer: 24, nHead: 16, nEmbd: 1024, placement: "pre" as const };
 * assert(traceBytes(c, 1024) > 3 * 2 ** 30); // GPT-2 medium's full context: over 3 GiB a thread
 * assert(traceBytes(c, 1024, "block") < 0.6 * 2 ** 30); // a block's activations at a time
 * ```
 */
export function traceBytes(
  config: CharLMConfig,
  T: number,
  mode: "all" | "block" = "all",
): number {
  const { activations } = GPT.bytesFor(config, 1, T, mode), C = config.nEmbd;
  const block = paramLayout(resolveConfig(config)).filter((s) => s.name.startsWith("blocks.0."))
    .reduce((a, s) => a + s.size, 0);
  return activations + 4 * (block + 2 * C + 2 * T * C + T * config.vocab) + 4 * 64 * 8;
}

/** One traced sequence: its record, and its logits [T, V] and hidden states [L+1, T, C] if asked. */
export interface TracedSequence {
  /** the NDJSON record */
  record: SequenceTrace;
  /** logits [T, V] */
  logits?: Float32Array;
  /** the residual stream [L + 1, T, C] */
  hidden?: Float32Array;
}

/**
 * Traces sequences with `workers` threads; `summary()` and `channelMeans()` as `Tracer`'s.
 * The model should have `gradients: "block"` (its workers' have): then a trace holds the
 * parameters once, plus per thread one block's gradients and one sequence's activations.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { CharLM } from "./lm.ts";
 * const lm = new CharLM({ vocab: 5, block: 8, nLayer: 2, nHead: 2, nEmbd: 8, placement: "pre" });
 * lm.init({ scheme: "gpt2", seed: 1 });
 * const run = await TraceRun.start(lm, { workers: 1 });
 * const out = [];
 * for await (const s of run.trace([Int32Array.of(1, 2, 3), Int32Array.of(4)])) out.push(s.record.tokens);
 * run.close();
 * assertEquals(out, [3, 1]);
 * ```
 */
export class TraceRun {
  readonly #tracer: Tracer;
  readonly #local: Tracer | null;
  readonly #pool: Pool | null;
  readonly #workers: number;
  /** how the tracing threads keep activations ("block": recomputed in the backward) */
  readonly activations: "all" | "block";
  readonly #shape: { L: number; C: number; V: number };

  private constructor(lm: CharLM, o: TraceRunOptions, pool: Pool | null) {
    this.#tracer = new Tracer(lm, o);
    // measuring leaves a Tracer's sums alone: one serves this thread for both
    this.#local = pool === null ? this.#tracer : null;
    this.#pool = pool;
    this.#workers = pool === null ? 1 : o.workers!;
    this.activations = o.activations === "block" ? "block" : "all";
    const c = lm.gpt.config;
    this.#shape = { L: c.nLayer, C: c.nEmbd, V: lm.vocab };
  }

  /** A run on `lm` with `options.workers` threads (workers started and given the model). */
  static async start(lm: CharLM, options: TraceRunOptions = {}): Promise<TraceRun> {
    const n = options.workers ?? 1;
    if (!(Number.isInteger(n) && n >= 1 && n <= 256)) {
      throw new RangeError(`workers must be an integer from 1 to 256, got ${n}`);
    }
    const arena = lm.gpt.arena, want = options.activations ?? "auto";
    if (want !== "all" && want !== "block" && want !== "auto") {
      throw new RangeError(`activations must be "all", "block" or "auto", got ${want}`);
    }
    let mode: "all" | "block" = want === "block" ? "block" : "all";
    if (arena !== null && options.seq !== undefined && options.seq > 0) {
      const config = configOf(lm), room = 2 ** 32 - arena.used;
      const fits = (k: number, T: number, m: "all" | "block") =>
        k * traceBytes(config, T, m) <= room;
      if (want === "auto" && !fits(n, options.seq, "all")) mode = "block";
      if (!fits(n, options.seq, mode)) {
        let fit = 0;
        for (let lo = 1, hi = options.seq; lo <= hi;) {
          const mid = (lo + hi) >> 1;
          if (fits(n, mid, mode)) [fit, lo] = [mid, mid + 1];
          else hi = mid - 1;
        }
        const gib = (b: number) => (b / 2 ** 30).toFixed(2);
        const one = n > 1 && fits(1, options.seq, mode) ? ", or `workers: 1`" : "";
        throw new UsageError(
          `tracing sequences of ${options.seq} tokens needs ${
            gib(traceBytes(config, options.seq, mode))
          } GiB of WebAssembly memory per thread (${
            mode === "block" ? "one block's activations" : "activations"
          }, attention maps [heads, T, T], logits) beside the model's ${gib(arena.used)} GiB, ` +
            `for ${n} thread(s): more than its 4 GiB; ` +
            (fit > 0 ? `use \`seq: ${fit}\` or less${one}` : `the model leaves no room`),
        );
      }
    }
    options = { ...options, activations: mode };
    if (n === 1) {
      lm.gpt.useActivations(mode);
      return new TraceRun(lm, options, null);
    }
    const url = options.workerUrl ?? new URL("../../workers/trace.ts", import.meta.url);
    canLoadWorkers(url);
    const config = configOf(lm);
    const init: TraceWorkerInit = {
      type: "init",
      config,
      share: lm.share(),
      top: options.top ?? 5,
      activations: mode,
      ...(lm.gpt.arena ? { kernels: kernelModule() } : {}),
    };
    const pool: Pool = new WorkerPool(n, init, url, {
      name: "trace worker",
    });
    // every worker has built its model before the first sequence (an error ends the start)
    try {
      await Promise.all(Array.from({ length: n }, (_, i) => pool.runOn(i, { type: "ready" })));
    } catch (e) {
      pool.close();
      throw e;
    }
    return new TraceRun(lm, { ...options, workers: n }, pool);
  }

  /**
   * The records of `seqs` in order (with logits/hidden states when asked), each added to the
   * summary as it is yielded; up to two sequences per worker are in flight.
   */
  async *trace(
    seqs: Iterable<Int32Array>,
    want: { logits?: boolean; hidden?: boolean } = {},
  ): AsyncGenerator<TracedSequence> {
    const { L, C, V } = this.#shape;
    const measure = async (ids: Int32Array, index: number): Promise<TraceReply> => {
      if (this.#pool !== null) {
        return await this.#pool.run({ type: "trace", ids, index, ...want });
      }
      const T = ids.length;
      const logits = want.logits ? new Float32Array(T * V) : undefined;
      const hidden = want.hidden ? new Float32Array((L + 1) * T * C) : undefined;
      return { ...this.#local!.measure(ids, index, { logits, hidden }), logits, hidden };
    };
    const window = this.#pool === null ? 1 : 2 * this.#workers;
    const inFlight: Promise<TraceReply>[] = [];
    let index = 0;
    const it = seqs[Symbol.iterator]();
    let done = false;
    const fill = () => {
      while (!done && inFlight.length < window) {
        const r = it.next();
        if (r.done) done = true;
        else {
          const p = measure(r.value, index++);
          p.catch(() => {}); // awaited in order below; a failure is thrown there
          inFlight.push(p);
        }
      }
    };
    fill();
    while (inFlight.length > 0) {
      const reply = await inFlight.shift()!;
      fill();
      this.#tracer.add(reply.part as TracePart);
      const out: TracedSequence = { record: reply.record! };
      if (reply.logits) out.logits = reply.logits;
      if (reply.hidden) out.hidden = reply.hidden;
      yield out;
    }
  }

  /** The summary of every sequence yielded so far (as `Tracer#summary`). */
  summary(): ReturnType<Tracer["summary"]> {
    return this.#tracer.summary();
  }

  /** As `Tracer#channelMeans`. */
  channelMeans(): ReturnType<Tracer["channelMeans"]> {
    return this.#tracer.channelMeans();
  }

  /** Ends the workers. */
  close(): void {
    this.#pool?.close();
  }
}
