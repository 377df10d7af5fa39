/**
 * The streaming pipeline: bytes in → decoder → ordered worker stage →
 * collector (statistics, in order) → encoder → bytes out.
 *
 * @module
 */
import { concatReadableStreams } from "../std/mod.ts";
import { lineChunks } from "../io/lines.ts";
import {
  type Batch,
  type ByteReader,
  type InputInfo,
  type SlotSink,
  streamReader,
} from "../io/batch.ts";
import { binaryBatches } from "../io/binary.ts";
import { ndjsonDecoder } from "../io/ndjson.ts";
import { encoder, Lender } from "../io/encode.ts";
import { openInput } from "../io/input.ts";
import { PermissionError, UsageError } from "../io/errors.ts";
import { GPT, type Placement } from "../model/mod.ts";
import { PROBE_DIRECTION } from "../model/rng.ts";
import { Arena, kernelModule } from "../kernels/arena.ts";
import { openBlas } from "../kernels/blas.ts";
import { type NormalizeTask, type RunTask, slotLayout } from "./protocol.ts";
import { BATCH_LIMIT_BYTES, SlotPool } from "./pool.ts";
import {
  OptionError,
  type ResolvedStreamOptions,
  resolveStreamOptions,
  type StreamOptionFields,
} from "./options.ts";
import { WorkerPool } from "./workers.ts";
import { orderedStage } from "./stage.ts";
import {
  type BatchRecord,
  collector,
  type Computed,
  type GradSum,
  nonfiniteFault,
  type Summary,
} from "./collect.ts";

/** Options shared by `normalizeStream` and `runStream` (checked by `resolveStreamOptions`). */
export interface StreamOptions extends StreamOptionFields {
  /**
   * normalize: backpropagate the probe loss for gradient statistics (default true); false
   * skips the probe and the backward pass, and the summary's `grad` and `loss` are 0
   */
  gradients?: boolean;
  /**
   * normalize: per-token statistics at all (default true); false computes the outputs only
   * (no gradients either): the summary's moments are those of no tokens
   */
  statistics?: boolean;
  /**
   * binary output (npy, raw) as views of the pipeline's shared memory instead of copies: each
   * chunk of `readable` is lent, and its memory is reused only after `giveBack(chunk)`; a
   * chunk never given back stalls the pipeline once every slot is lent (default false)
   */
  borrow?: boolean;
  /** the stage worker module (default: lnstream's `workers/stage.ts`) */
  workerUrl?: URL;
  /** each batch's statistics record, in order */
  onRecord?: (r: BatchRecord) => void;
  /** progress after each batch (tokens written, tokens declared when known) */
  onProgress?: (tokens: number, total: number | undefined) => void;
}

/** Options of `normalizeStream`. */
export interface NormalizeOptions extends StreamOptions {
  /** `layer` (default), `rms`, or `batch` (per feature over each batch) */
  norm?: "layer" | "rms" | "batch";
  /** epsilon (default 1e-5) */
  eps?: number;
  /** per-channel scale */
  weight?: Float32Array;
  /** per-channel shift (not for rms) */
  bias?: Float32Array;
  /** seed of the probe direction R (default 0) */
  seed?: number;
}

/** Options of `runStream`. */
export interface RunOptions extends StreamOptions {
  /** blocks (default 6) */
  layers?: number;
  /** attention heads (default 4); must divide the input's C */
  heads?: number;
  /** pre (default) or post */
  placement?: Placement;
  /** tokens per sequence (default: T of a `[B, T, C]` .npy input, else 64) */
  seq?: number;
  /** gpt2 (default) or xavier */
  init?: "gpt2" | "xavier";
  /** init and probe seed (default 0) */
  seed?: number;
  /** probe (default) or l2 */
  loss?: "probe" | "l2";
  /** LayerNorm epsilon (default 1e-5) */
  eps?: number;
  /** causal attention (default true) */
  causal?: boolean;
  /** final LayerNorm (default: pre true, post false) */
  finalNorm?: boolean;
}

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

/** Input: a byte stream, or a `ByteReader` such as `(v) => Deno.stdin.read(v)`. */
export type Input = ReadableStream<Uint8Array> | ByteReader;

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
export function normalizeStream(input: Input, o: NormalizeOptions = {}): Lnstream {
  // with statistics the workers are the bottleneck: one per core; without, the main thread's
  // reading and writing are, and keep a core busy: one worker fewer
  const cores = navigator.hardwareConcurrency ?? 1, statistics = o.statistics ?? true;
  const r = resolveStreamOptions(o, 2048, Math.max(1, statistics ? cores : cores - 1));
  const backend = r.backend;
  const norm = o.norm ?? "layer", eps = positive("eps", o.eps ?? 1e-5), seed = seedOf(o.seed);
  if (!["layer", "rms", "batch"].includes(norm)) {
    throw new OptionError("norm", `must be layer, rms or batch, got ${JSON.stringify(norm)}`);
  }
  if (norm === "rms" && o.bias) throw new OptionError("bias", "has no meaning with norm rms");
  if (backend === "blas") openBlas(r.blasLib);
  // the wasm kernels compute in place on slots in the stream's arena (BatchNorm runs in ts)
  const inPlace = backend !== "ts" && norm !== "batch";
  const gradients = statistics && (o.gradients ?? true);
  const config = (C: number | null) => ({
    norm,
    eps,
    seed,
    C,
    backend,
    ...(gradients ? { probe: PROBE_DIRECTION } : { gradients }),
  });
  return start(
    input,
    r,
    o,
    "normalize",
    // the default batch shrinks for tokens so wide that 2048 of them would pass the batch limit
    (_shape, C) =>
      o.batch !== undefined || C === 0 ? r.batch : Math.max(
        1,
        Math.min(r.batch, Math.floor(BATCH_LIMIT_BYTES / slotLayout(1, C).slotBytes)),
      ),
    (C) => {
      for (const [name, v] of [["weight", o.weight], ["bias", o.bias]] as const) {
        if (v && v.length !== C) {
          throw new OptionError(name, `has ${v.length} values, the input has ${C} channels`);
        }
      }
      const task: NormalizeTask = {
        kind: "normalize",
        backend,
        ...(o.blasLib === undefined ? {} : { blasLib: o.blasLib }),
        norm,
        eps,
        weight: o.weight ?? null,
        bias: o.bias ?? null,
        seed,
        nonfinite: r.nonfinite,
        gradients,
        statistics,
      };
      // the wasm kernels write each row's output over its input (one region per slot); by
      // default one worker starts and more join only a stream still running after 250 ms
      return {
        task,
        gradFloats: 0,
        config: config(C),
        overwrite: inPlace,
        growWorkersAfterMs: o.workers === undefined ? GROW_WORKERS_AFTER_MS : 0,
      };
    },
    config,
    undefined,
    () => (inPlace ? new Arena({ bytes: 0 }) : null),
  );
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
export function runStream(input: Input, o: RunOptions = {}): Lnstream {
  const r = resolveStreamOptions(o, 8), backend = r.backend;
  const layers = o.layers ?? 6, heads = o.heads ?? 4;
  const placement = o.placement ?? "pre", init = o.init ?? "gpt2", seed = seedOf(o.seed);
  const loss = o.loss ?? "probe";
  if (o.seq !== undefined && (!Number.isInteger(o.seq) || o.seq < 1)) {
    throw new OptionError("seq", `must be a whole number ≥ 1, got ${o.seq}`);
  }
  // sequences of --seq tokens; without it, a [B, T, C] .npy gives T, anything else 64
  let seq = o.seq ?? 64;
  const tokensPerBatch = (shape?: readonly number[]) => {
    if (o.seq === undefined && shape?.length === 3 && shape[1] > 0) seq = shape[1];
    return batchSeqs * seq;
  };
  if (loss !== "probe" && loss !== "l2") {
    throw new OptionError("loss", `must be probe or l2, got ${JSON.stringify(loss)}`);
  }
  if (init !== "gpt2" && init !== "xavier") {
    throw new OptionError("init", `must be gpt2 or xavier, got ${JSON.stringify(init)}`);
  }
  if (o.eps !== undefined) positive("eps", o.eps);
  const batchSeqs = r.batch;
  if (backend === "blas") openBlas(r.blasLib);
  // the summary's config, also for an empty input (C null); the defaults are resolveConfig's
  const config = (C: number | null) => ({
    layers,
    heads,
    C,
    placement,
    eps: o.eps ?? 1e-5,
    causal: o.causal ?? true,
    finalNorm: o.finalNorm ?? placement === "pre",
    seq,
    init,
    seed,
    loss,
    ...(loss === "probe" ? { probe: PROBE_DIRECTION } : {}),
    backend,
  });
  let model: GPT | null = null;
  const make = (C: number) => {
    try {
      model = new GPT({
        nLayer: layers,
        nHead: heads,
        nEmbd: C,
        placement,
        eps: o.eps,
        causal: o.causal,
        finalNorm: o.finalNorm,
        shared: true,
        backend,
        ...(r.blasLib === undefined ? {} : { blasLib: r.blasLib }),
      });
    } catch (e) {
      throw new UsageError(`${(e as Error).message} (the input has C = ${C} channels)`);
    }
    model.init({ scheme: init, seed });
    if (backend !== "ts") fitsArena(model, batchSeqs, seq, r.workers);
    return model;
  };
  return start(
    input,
    r,
    o,
    "run",
    tokensPerBatch,
    (C) => {
      const m = model ?? make(C);
      const task: RunTask = {
        kind: "run",
        config: m.config,
        // wasm/blas: workers attach to the model's arena; ts: to its shared parameter buffer
        ...(m.arena === null
          ? { params: m.params.buffer as SharedArrayBuffer }
          : { memory: m.arena.memory, paramsAt: m.params.byteOffset }),
        seq,
        loss,
        seed,
        nonfinite: o.nonfinite ?? "error",
      };
      // the stream's gradient is summed into the model's own gradient buffer, in batch order
      m.zeroGrad();
      const n = m.grads.length, sum = m.grads;
      return {
        task,
        gradFloats: n,
        config: config(C),
        layout: m.layout,
        finalNorm: m.config.finalNorm,
        align: seq,
        grads: {
          sum,
          add: (g: Float32Array) => m.kernels.add(sum, sum, g, n),
        },
      };
    },
    config,
    (C) => (model ?? make(C)).params.length,
    // wasm/blas: slots and the gradient ring live in the model's arena, where workers use them
    (C) => (model ?? make(C)).arena,
  );
}

/**
 * Refuses (64) a run whose model, with every worker's gradients and activations, would not fit
 * the 4 GiB WebAssembly arena the workers share, before any worker starts.
 */
function fitsArena(model: GPT, B: number, T: number, n: number) {
  const { params, activations } = GPT.bytesFor(model.config, B, T);
  // parameters, the summed gradient, a ring of n + 1 gradient buffers, each worker's activations
  const need = (n + 3) * params + n * activations;
  if (need > 2 ** 32) {
    const gib = (b: number) => (b / 2 ** 30).toFixed(2);
    throw new UsageError(
      `the model needs ${gib(need)} GiB of WebAssembly memory (limit 4 GiB): parameters and ` +
        `${n + 2} gradient buffers ${gib((n + 3) * params)} GiB, each of ${n} workers ` +
        `${gib(activations)} GiB (${B} sequences of ${T} tokens); use a smaller --batch or ` +
        `--seq, fewer --workers, or --backend ts`,
    );
  }
}

/**
 * Workers load lnstream's modules from disk: without read permission for its folder they
 * would each die with a stack trace. Refuse once, naming the flag (exit 77).
 */
export function canLoadWorkers(url?: URL): void {
  const module = url ?? new URL("../../workers/stage.ts", import.meta.url);
  if (module.protocol !== "file:") return;
  const root = url ? new URL(".", module) : new URL("../../", import.meta.url);
  const state = Deno.permissions.querySync({ name: "read", path: module }).state;
  if (state !== "granted") {
    const dir = decodeURIComponent(root.pathname).replace(/\/$/, "");
    throw new PermissionError(
      `the worker threads load lnstream's modules from ${dir}: run with --allow-read=${dir}`,
    );
  }
}

/** The seed option: a whole number from 0 to 2^32 − 1 (seeds are 32-bit), default 0. */
function seedOf(v: number | undefined): number {
  if (v === undefined) return 0;
  if (!(Number.isInteger(v) && v >= 0 && v <= 2 ** 32 - 1)) {
    throw new OptionError("seed", `must be a whole number from 0 to 2^32 − 1, got ${v}`);
  }
  return v;
}

/** A positive finite number option. */
function positive(field: string, v: number): number {
  if (!(Number.isFinite(v) && v > 0)) {
    throw new OptionError(field, `must be a positive number, got ${v}`);
  }
  return v;
}

interface TaskSetup {
  task: NormalizeTask | RunTask;
  gradFloats: number;
  config: Record<string, unknown>;
  layout?: GPT["layout"];
  finalNorm?: boolean;
  grads?: GradSum;
  /** outputs are written over the inputs (slots without an output region) */
  overwrite?: boolean;
  /** start one worker, the others as jobs find it busy after this long (0: all at once) */
  growWorkersAfterMs?: number;
  /** batches are cut only after multiples of this many tokens (run: whole sequences) */
  align?: number;
}

/**
 * normalize's default pool starts one worker and grows (up to `workers`) only for a stream
 * still running after this long: starting a worker costs its main thread ~15 ms and its code
 * warm-up ~20 ms of a core, which a stream of a few hundred MB does not win back (measured).
 */
const GROW_WORKERS_AFTER_MS = 250;

function start(
  input: Input,
  r: ResolvedStreamOptions,
  o: Pick<StreamOptions, "workerUrl" | "onRecord" | "onProgress" | "borrow">,
  command: "normalize" | "run",
  batchTokensFor: (npyShape: readonly number[] | undefined, C: number) => number,
  setup: (C: number) => TaskSetup,
  configFor: (C: number | null) => Record<string, unknown>,
  gradFloatsFor: (C: number) => number = () => 0,
  arenaFor: (C: number) => Arena | null = () => null,
): Lnstream {
  const workers = r.workers, first = r.offset;
  canLoadWorkers(o.workerUrl);
  let resolveDone!: (s: Summary) => void, rejectDone!: (e: Error) => void;
  const done = new Promise<Summary>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  done.catch(() => {});
  let fault: Error | null = null;
  let summary: Summary | null = null;
  let pool: WorkerPool | null = null;
  const inFlight = workers + 1;
  // a consumer that stops reading (| head) cancels `out`: the run then ends with the summary
  // of what was collected, rather than as a failure
  let outputClosed = false, failing = false;
  let lender: Lender | null = null;
  const out = new TransformStream<Uint8Array, Uint8Array>({
    // called when the consumer cancels the output — and when a failure aborts it, which is no
    // closed output
    cancel() {
      if (!failing) outputClosed = true;
    },
  });
  const read: ByteReader = typeof input === "function" ? input : streamReader(input);
  (async () => {
    // one straight line: open the input (format, C, shape), then the task, the slots and the
    // workers, then decode → ordered stage → collect → encode
    const info = await openInput(read, r);
    const batchTokens = batchTokensFor(info.format === "npy" ? info.shape : undefined, info.C);
    const task = info.C > 0 ? setup(info.C) : null;
    // progress: tokens collected, plus the done share of each batch still running
    let collected = 0;
    const running = new Map<number, { tokens: number; fraction: number }>();
    const report = () => {
      let t = collected;
      for (const r of running.values()) t += Math.floor(r.tokens * r.fraction);
      o.onProgress?.(t, info.totalTokens);
    };
    const inBatch = o.onProgress
      ? (slot: number, fraction: number) => {
        const r = running.get(slot);
        if (r) {
          r.fraction = fraction;
          report();
        }
      }
      : undefined;
    // slots (and run's ring of inFlight gradient buffers, one per batch in the stage, never
    // one per slot) in the stream's arena when it has one, so workers compute in place
    const arena = info.C > 0 ? arenaFor(info.C) : null;
    const store = (bytes: number) => {
      if (arena !== null) {
        try {
          const at = arena.allocBytes(bytes); // first: it may grow the memory
          return { sab: arena.buffer, at };
        } catch {
          // past the arena's 4 GiB: plain shared memory (workers copy rows in and out)
        }
      }
      return { sab: new SharedArrayBuffer(bytes), at: 0 };
    };
    // a slot per batch in the stage, one being read and one being written: fresh memory costs
    // (page faults), so no spare
    const slots = new SlotPool(
      inFlight + 2,
      batchTokens,
      gradFloatsFor,
      inFlight,
      store,
      task?.overwrite ?? false,
    );
    if (task !== null) {
      slots.open(info.C);
      const inArena = arena !== null && slots.sab === arena.buffer;
      pool = new WorkerPool(
        workers,
        {
          type: "init",
          ...(arena !== null ? { kernels: kernelModule() } : {}),
          sab: slots.sab!,
          slotsAt: slots.slotsAt,
          overwrite: slots.overwrite,
          ...(inArena ? { memory: arena.memory } : {}),
          capTokens: slots.capTokens,
          C: info.C,
          gradSab: slots.gradSab,
          gradAt: slots.gradAt,
          gradFloats: slots.gradFloats,
          task: task.task,
        },
        o.workerUrl,
        inBatch,
        task.growWorkersAfterMs ?? 0,
      );
    }
    const batches = decodeInput(read, info, slots, r, batchTokens, task?.align ?? 1);
    const outFormat = r.outFormat ?? info.format ?? "raw";
    const encodable = batches.pipeThrough(orderedStage(async (batch): Promise<Computed> => {
      if (batch.slot < 0 || batch.tokens === 0) return { batch, reply: null };
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
      running.set(batch.slot, { tokens: batch.tokens, fraction: 0 });
      try {
        const reply = await pool!.run({
          type: "job",
          slot: batch.slot,
          tokens: batch.tokens,
          offset: first + batch.offset,
          grad,
        });
        return { batch, reply, grad };
      } catch (e) {
        if (grad >= 0) slots.releaseGrad(grad);
        return { batch: { ...batch, tokens: 0, fault: e as Error }, reply: null };
      }
    }, inFlight)).pipeThrough(collector({
      pool: slots,
      command,
      offset: first,
      info,
      context: task ?? { config: configFor(null) },
      onRecord: o.onRecord,
      onProgress: (n, _total, slot) => {
        collected = n;
        running.delete(slot);
        report();
      },
      onSummary: (s) => (summary = s),
    }));
    const bytes = encodable.pipeThrough(encoder({
      format: outFormat,
      info,
      release: (s) => slots.release(s),
      onFault: (e) => (fault ??= e),
      ...(o.borrow ? { lender: lender = new Lender((s) => slots.release(s)) } : {}),
    }));
    // a failure upstream (an input stream that errors) is this run's error, not a closed output
    await bytes.pipeTo(out.writable, { preventAbort: true });
  })().then(
    () => {
      (pool as WorkerPool | null)?.close();
      if (fault) rejectDone(fault);
      else if (summary) resolveDone(summary);
      else rejectDone(new Error("the pipeline ended without a summary"));
    },
    (e) => {
      (pool as WorkerPool | null)?.close();
      if (outputClosed && summary && !fault) resolveDone(summary);
      else rejectDone(fault ?? e);
      failing = true;
      out.writable.abort(e).catch(() => {});
    },
  );
  return { readable: out.readable, done, giveBack: (chunk) => lender?.giveBack(chunk) };
}

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

/**
 * Decodes an input with the pipeline's opener and decoders, without workers: `visit` sees each
 * batch and its rows (`tokens × C` floats, in memory reused for the next batch) and may return
 * false to stop. The input's first fault is thrown as the pipeline would report it, after the
 * batches before it were visited — and, unless `nonfinite` is `pass`, a non-finite value too.
 * Returns what opening the input learned.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const input = ReadableStream.from([new TextEncoder().encode("[1,2]\n[3,4]\n")]);
 * let seen = 0;
 * const info = await scanInput(input, {}, (b) => (seen += b.tokens, true));
 * assert(info.C === 2 && seen === 2);
 * ```
 */
export async function scanInput(
  input: Input,
  o: Pick<StreamOptions, "dim" | "field" | "format" | "nonfinite">,
  visit: (batch: Batch, rows: Float32Array, C: number) => boolean,
  batchTokens = 256,
): Promise<InputInfo> {
  const read: ByteReader = typeof input === "function" ? input : streamReader(input);
  const info = await openInput(read, o);
  // nothing to read (a first line without tokens is left to the decoder to name)
  if (info.format === null) return info;
  let C = info.C, slot = new Float32Array(0);
  const sink: SlotSink = {
    capTokens: batchTokens,
    open(c) {
      C = c;
      slot = new Float32Array(batchTokens * c);
    },
    release() {},
    acquire: () => Promise.resolve({ slot: 0, input: slot }),
  };
  const nonfinite = o.nonfinite ?? "error";
  const reader = decodeInput(read, info, sink, { ...o, nonfinite }, batchTokens).getReader();
  try {
    for (;;) {
      const { done, value: b } = await reader.read();
      if (done) break;
      const rows = slot.subarray(0, b.tokens * C);
      if (nonfinite === "error") {
        const at = rows.findIndex((v) => !Number.isFinite(v));
        if (at >= 0) {
          const row = Math.floor(at / C);
          visit({ ...b, tokens: row }, rows.subarray(0, row * C), C);
          throw nonfiniteFault(info, b.offset + row, at % C, rows[at]);
        }
      }
      if (!visit(b, rows, C)) break;
      if (b.fault) throw b.fault;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return info;
}

/**
 * Reads up to `max` tokens of any input format into memory (for `compare`), with the same
 * opener and decoders as the pipeline (`scanInput`): the input's fault, or a non-finite value
 * among the tokens taken, is thrown.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const input = ReadableStream.from([new TextEncoder().encode("[1,2]\n[3,4]\n[5,6]\n")]);
 * const { tokens, C } = await readTokens(input, 2);
 * assert(C === 2 && tokens.length === 4 && tokens[3] === 4);
 * ```
 */
export async function readTokens(
  input: Input,
  max: number,
  o: Pick<StreamOptions, "dim" | "field" | "format"> = {},
): Promise<{ tokens: Float32Array; C: number }> {
  const out: Float32Array[] = [];
  let n = 0, C = 0;
  try {
    C = (await scanInput(input, o, (b, rows, c) => {
      C = c;
      const take = Math.min(b.tokens, max - n);
      if (take > 0) out.push(rows.slice(0, take * c));
      n += take;
      return n < max;
    })).C;
  } catch (e) {
    // a fault past the tokens taken is no concern of the caller's
    if (n < max) throw e;
  }
  const tokens = new Float32Array(n * C);
  let off = 0;
  for (const p of out) {
    tokens.set(p, off);
    off += p.length;
  }
  return { tokens, C };
}
