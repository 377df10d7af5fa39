/**
 * What `normalizeStream` and `runStream` differ in, as a value: a `StreamPlan` is built once
 * from checked options, and tells the pipeline, once the input is open, how many tokens go in a
 * batch, what the summary's config says and what the workers compute.
 *
 * @module
 */
import type { InputInfo } from "../io/input.ts";
import type { Format } from "../io/batch.ts";
import { UsageError } from "../io/errors.ts";
import { GPT } from "../model/gpt.ts";
import { resolveConfig } from "../model/config.ts";
import type { ParamSpec } from "../model/params.ts";
import { PROBE_DIRECTION } from "../kernels/probe.ts";
import { Arena } from "../kernels/arena.ts";
import { openBlas } from "../kernels/blas.ts";
import type { BatchRecord, GradSum } from "./collect.ts";
import {
  type NormalizeOptions,
  OptionError,
  type ResolvedStreamOptions,
  resolveStreamOptions,
  type RunOptions,
} from "./options.ts";
import { BATCH_LIMIT_BYTES } from "./pool.ts";
import { type NormalizeTask, type RunTask, slotLayout } from "./protocol.ts";

/** A stream's plan: its checked options and what it does with an opened input. */
export interface StreamPlan {
  /** the summary's command */
  readonly command: "normalize" | "run";
  /** the shared options, checked */
  readonly options: ResolvedStreamOptions;
  /** the stage worker module (default: lnstream's `workers/stage.ts`) */
  readonly workerUrl?: URL;
  /** binary output chunks are lent views of the slots (`StreamOptions.borrow`) */
  readonly borrow: boolean;
  /** each batch's statistics record, in order */
  readonly onRecord?: (r: BatchRecord) => void;
  /** progress: tokens done, tokens declared when known */
  readonly onProgress?: (tokens: number, total: number | undefined) => void;
  /** start one worker, the others as jobs find it busy after this long (0: all at once) */
  readonly growWorkersAfterMs: number;
  /** the work for an opened input */
  forInput(info: InputInfo): StreamWork;
}

/** The work for one opened input. */
export interface StreamWork {
  /** tokens per batch (the slots' rows) */
  batchTokens: number;
  /** the summary's config block */
  config: Record<string, unknown>;
  /** what the workers compute; null for an input without tokens (C = 0) */
  task: TaskSetup | null;
  /** the output format (`outFormat`, else the input's); NDJSON: the workers write the text */
  outFormat: Format;
}

/** What the workers compute, and where. */
export interface TaskSetup {
  /** the workers' task */
  task: NormalizeTask | RunTask;
  /** run: floats of a batch's parameter gradient (0 for normalize) */
  gradFloats: number;
  /** the arena holding slots (and run's gradient ring), so workers compute in place; or null */
  arena: Arena | null;
  /** outputs are written over the inputs (slots without an output region) */
  overwrite: boolean;
  /** batches are cut only after multiples of this many tokens (run: whole sequences) */
  align: number;
  /** run: the parameter layout, whether there is a final LayerNorm, where gradients sum */
  layout?: ParamSpec[];
  /** run: the model ends with a LayerNorm */
  finalNorm?: boolean;
  /** run: where the stream's gradient is summed */
  grads?: GradSum;
}

/**
 * normalize's default pool starts one worker and grows (up to `workers`) only for a stream
 * still running after this long: starting a worker costs its main thread ~15 ms and its code
 * warm-up ~20 ms of a core, which a stream of a few hundred MB does not win back (measured).
 */
const GROW_WORKERS_AFTER_MS = 250;

/**
 * The plan of `normalizeStream`: options checked (an `OptionError` names the bad one).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const plan = normalizePlan({ workers: 1, norm: "rms" });
 * const info = { format: "ndjson" as const, C: 4, dataOffset: 0, itemSize: 4, dtype: "<f4" as const, head: new Uint8Array(0) };
 * const work = plan.forInput(info);
 * assert(plan.command === "normalize" && work.batchTokens === 2048 && work.config.norm === "rms");
 * ```
 */
export function normalizePlan(o: NormalizeOptions = {}): StreamPlan {
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
  const task = (C: number): TaskSetup => {
    for (const [name, v] of [["weight", o.weight], ["bias", o.bias]] as const) {
      if (v && v.length !== C) {
        throw new OptionError(name, `has ${v.length} values, the input has ${C} channels`);
      }
    }
    return {
      task: {
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
      },
      gradFloats: 0,
      arena: inPlace ? new Arena({ bytes: 0 }) : null,
      // the wasm kernels write each row's output over its input (one region per slot)
      overwrite: inPlace,
      align: 1,
    };
  };
  return {
    ...hooksOf("normalize", r, o),
    // by default one worker starts and more join only a stream still running after 250 ms
    growWorkersAfterMs: o.workers === undefined ? GROW_WORKERS_AFTER_MS : 0,
    forInput(info) {
      const C = info.C, outFormat = outFormatOf(r, info), text = outFormat === "ndjson";
      // the default batch shrinks for tokens so wide that 2048 of them would pass the limit
      const row = slotLayout(1, C, false, text).slotBytes;
      const batchTokens = o.batch !== undefined || C === 0
        ? r.batch
        : Math.max(1, Math.min(r.batch, Math.floor(BATCH_LIMIT_BYTES / row)));
      const work = { batchTokens, config: config(C > 0 ? C : null), outFormat };
      return { ...work, task: C > 0 ? task(C) : null };
    },
  };
}

/**
 * The plan of `runStream`: options checked (an `OptionError` names the bad one); the model is
 * built once the input gives C.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const plan = runPlan({ workers: 1, layers: 1, heads: 2, backend: "ts" });
 * const info = { format: "npy" as const, C: 4, shape: [2, 3, 4], dataOffset: 128, itemSize: 4, dtype: "<f4" as const, head: new Uint8Array(0) };
 * const work = plan.forInput(info);
 * assert(work.batchTokens === 8 * 3 && work.config.seq === 3 && work.task!.align === 3);
 * ```
 */
export function runPlan(options: RunOptions = {}): StreamPlan {
  // a model's blocks: its config decides the stack (its placement, norms, width and depth)
  const mc = options.model?.config;
  const o: RunOptions = mc === undefined ? options : {
    ...options,
    layers: mc.nLayer,
    heads: mc.nHead,
    placement: mc.placement,
    ...(mc.norm === undefined ? {} : { norm: mc.norm }),
    ...(mc.qkNorm === undefined ? {} : { qkNorm: mc.qkNorm }),
    ...(mc.mixPost === undefined ? {} : { mixPost: mc.mixPost }),
    ...(mc.dytAlpha === undefined ? {} : { dytAlpha: mc.dytAlpha }),
    ...(mc.eps === undefined ? {} : { eps: mc.eps }),
    ...(mc.finalNorm === undefined ? {} : { finalNorm: mc.finalNorm }),
  };
  const r = resolveStreamOptions(o, 8), backend = r.backend;
  const layers = o.layers ?? 6, heads = o.heads ?? 4;
  const placement = o.placement ?? "pre", init = o.init ?? "gpt2", seed = seedOf(o.seed);
  const loss = o.loss ?? "probe";
  if (o.seq !== undefined && (!Number.isInteger(o.seq) || o.seq < 1)) {
    throw new OptionError("seq", `must be a whole number ≥ 1, got ${o.seq}`);
  }
  if (loss !== "probe" && loss !== "l2") {
    throw new OptionError("loss", `must be probe or l2, got ${JSON.stringify(loss)}`);
  }
  if (init !== "gpt2" && init !== "xavier") {
    throw new OptionError("init", `must be gpt2 or xavier, got ${JSON.stringify(init)}`);
  }
  if (o.eps !== undefined) positive("eps", o.eps);
  for (const [name, v] of [["layers", layers], ["heads", heads]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) {
      throw new OptionError(name, `must be a whole number ≥ 1, got ${v}`);
    }
  }
  // the stack's config without its width: the zoo's options are checked (RangeErrors naming
  // the allowed values) and defaulted here, before any input is read
  const zoo = resolveConfig({
    nLayer: layers,
    nHead: 1,
    nEmbd: 1,
    placement,
    ...(o.norm === undefined ? {} : { norm: o.norm }),
    ...(o.qkNorm === undefined ? {} : { qkNorm: o.qkNorm }),
    ...(o.mixPost === undefined ? {} : { mixPost: o.mixPost }),
    ...(o.dytAlpha === undefined ? {} : { dytAlpha: o.dytAlpha }),
    ...(o.finalNorm === undefined ? {} : { finalNorm: o.finalNorm }),
    backend: "ts",
  });
  const batchSeqs = r.batch;
  if (backend === "blas") openBlas(r.blasLib);
  // the summary's config, also for an empty input (C null); the defaults are resolveConfig's
  const config = (C: number | null, seq: number) => ({
    layers,
    heads,
    C,
    placement,
    norm: zoo.norm,
    qkNorm: zoo.qkNorm,
    ...(placement === "mix" ? { mixPost: zoo.mixPost } : {}),
    ...(zoo.norm === "dyt" ? { dytAlpha: zoo.dytAlpha } : {}),
    eps: o.eps ?? 1e-5,
    causal: o.causal ?? true,
    finalNorm: zoo.finalNorm,
    seq,
    init: options.model ? "model" : init,
    ...(options.model ? { model: options.model.name ?? "given" } : {}),
    seed,
    loss,
    ...(loss === "probe" ? { probe: PROBE_DIRECTION } : {}),
    backend,
  });
  const task = (C: number, seq: number): TaskSetup => {
    let m: GPT;
    try {
      m = new GPT({
        nLayer: layers,
        nHead: heads,
        nEmbd: C,
        placement,
        norm: zoo.norm,
        qkNorm: zoo.qkNorm,
        mixPost: zoo.mixPost,
        dytAlpha: zoo.dytAlpha,
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
    m.init({ scheme: init, seed });
    if (options.model) {
      if (C !== options.model.config.nEmbd) {
        throw new UsageError(
          `the model has C = ${options.model.config.nEmbd} channels, the input ${C}: ` +
            `give it the model's embeddings (embed)`,
        );
      }
      m.params.set(options.model.params.subarray(0, m.params.length));
    }
    if (backend !== "ts") fitsArena(m, batchSeqs, seq, r.workers);
    // the stream's gradient is summed into the model's own gradient buffer, in batch order
    m.zeroGrad();
    const n = m.grads.length, sum = m.grads;
    return {
      task: {
        kind: "run",
        config: m.config,
        // wasm/blas: workers attach to the model's arena; ts: to its shared parameter buffer
        ...(m.arena === null
          ? { params: m.params.buffer as SharedArrayBuffer }
          : { memory: m.arena.memory, paramsAt: m.params.byteOffset }),
        seq,
        loss,
        seed,
        nonfinite: r.nonfinite,
      },
      gradFloats: n,
      // wasm/blas: slots and the gradient ring live in the model's arena, where workers use them
      arena: m.arena,
      overwrite: false,
      align: seq,
      layout: m.layout,
      finalNorm: m.config.finalNorm,
      grads: { sum, add: (g: Float32Array) => m.kernels.add(sum, sum, g, n) },
    };
  };
  return {
    ...hooksOf("run", r, o),
    growWorkersAfterMs: 0,
    forInput(info) {
      // sequences of `seq` tokens; without it, a [B, T, C] .npy gives T, anything else 64
      const shape = info.format === "npy" ? info.shape : undefined;
      const seq = o.seq ?? (shape?.length === 3 && shape[1] > 0 ? shape[1] : 64);
      const C = info.C;
      return {
        batchTokens: batchSeqs * seq,
        config: config(C > 0 ? C : null, seq),
        task: C > 0 ? task(C, seq) : null,
        outFormat: outFormatOf(r, info),
      };
    },
  };
}

/** The output format: `outFormat`, else the input's (raw for an empty input). */
function outFormatOf(r: ResolvedStreamOptions, info: InputInfo): Format {
  return r.outFormat ?? info.format ?? "raw";
}

/** The plan's fields every stream shares. */
function hooksOf(
  command: StreamPlan["command"],
  options: ResolvedStreamOptions,
  o: NormalizeOptions | RunOptions,
): Omit<StreamPlan, "forInput" | "growWorkersAfterMs"> {
  return {
    command,
    options,
    borrow: o.borrow ?? false,
    ...(o.workerUrl ? { workerUrl: o.workerUrl } : {}),
    ...(o.onRecord ? { onRecord: o.onRecord } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  };
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
        `${gib(activations)} GiB (${B} sequences of ${T} tokens); use a smaller \`batch\` or ` +
        `\`seq\`, fewer \`workers\`, or \`backend: ts\``,
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
