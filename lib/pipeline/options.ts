/**
 * The stream functions' options, checked once (in the style of `resolveConfig`): every default
 * filled in, every value in range, and a frozen result the pipeline reads. A bad value is an
 * `OptionError` naming the option's field; the command line names the flag instead.
 *
 * @module
 */
import { OptionError } from "../io/errors.ts";

export { OptionError };
import { type Backend, checkBackend } from "../kernels/backend.ts";
import type { Format } from "../io/batch.ts";
import type { GPTConfig, NormKind, Placement } from "../model/config.ts";
import type { Floats } from "../kernels/types.ts";
import type { BatchRecord } from "./collect.ts";

/**
 * The command-line flag of an option field (`outFormat` → `--out-format`), from the field or
 * an `OptionError` naming it.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(flagOf(new OptionError("blasLib", "x")) === "--blas-lib" && flagOf("dim") === "--dim");
 * ```
 */
export function flagOf(e: OptionError | string): string {
  const field = typeof e === "string" ? e : e.field;
  return "--" + field.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
}

/** The most worker threads a stream starts (each holds its own buffers). */
export const MAX_WORKERS = 256;

/** The stream options `resolveStreamOptions` checks (the core of `StreamOptions`). */
export interface StreamOptionFields {
  /**
   * worker threads (at most `MAX_WORKERS`; default: run, the cores; normalize, the cores with
   * statistics and one fewer without, where its main thread's reading and writing are the work).
   * normalize's default starts one worker and adds the others only to a stream still running
   * after 250 ms; a given number starts them all at once.
   */
  workers?: number;
  /**
   * tokens per batch (normalize, default 2048, or what the batch limit holds of tokens so wide
   * that 2048 would not fit) or sequences per batch (run, default 8)
   */
  batch?: number;
  /** input format (default: sniffed, see `readHead`) */
  format?: Format;
  /** output format (default: the input's) */
  outFormat?: Format;
  /** channels; required for raw input (and implies it), checked against npy/NDJSON */
  dim?: number;
  /** NDJSON object field holding the embedding (default `embedding`) */
  field?: string;
  /** `error` (default): NaN/±Infinity input is a data error; `pass`: let through */
  nonfinite?: "error" | "pass";
  /**
   * global index of the first token (default 0): a shard of a larger stream passes its
   * position, so per-token probe directions match one whole run
   */
  offset?: number;
  /**
   * kernels: `wasm` (WebAssembly SIMD, default), `blas` (matrix products in the system
   * OpenBLAS; needs `--allow-ffi`) or `ts` (the TypeScript reference)
   */
  backend?: Backend;
  /** OpenBLAS library path for `blas` (default: searched, see `BLAS_SEARCH_PATHS`) */
  blasLib?: string;
}

/** Options with every default filled in and every value checked. */
export interface ResolvedStreamOptions {
  /** worker threads, 1 … MAX_WORKERS */
  readonly workers: number;
  /** per batch (≥ 1) */
  readonly batch: number;
  /** forced input format, if any */
  readonly format?: Format;
  /** forced output format, if any */
  readonly outFormat?: Format;
  /** channels, when given */
  readonly dim?: number;
  /** NDJSON object field */
  readonly field: string;
  /** non-finite input policy */
  readonly nonfinite: "error" | "pass";
  /** global index of the first token */
  readonly offset: number;
  /** kernels */
  readonly backend: Backend;
  /** OpenBLAS path (blas) */
  readonly blasLib?: string;
}

const FORMATS: readonly Format[] = ["npy", "ndjson", "raw"];

/**
 * Checks and completes the shared stream options; `batchDefault` is the command's.
 *
 * @example
 * ```ts
 * import { assert, assertThrows } from "@std/assert";
 * const r = resolveStreamOptions({ workers: 2 }, 1024);
 * assert(r.batch === 1024 && r.backend === "wasm" && Object.isFrozen(r));
 * assertThrows(() => resolveStreamOptions({ workers: 0 }, 1024), OptionError, "workers must");
 * ```
 */
export function resolveStreamOptions(
  o: StreamOptionFields,
  batchDefault: number,
  workersDefault = navigator.hardwareConcurrency ?? 1,
): ResolvedStreamOptions {
  const whole = (field: string, v: number | undefined, min: number, max = Infinity) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min && v <= max)) {
      const range = max === Infinity ? `≥ ${min}` : `from ${min} to ${max}`;
      throw new OptionError(field, `must be a whole number ${range}, got ${v}`);
    }
    return v;
  };
  const oneOf = <T extends string>(field: string, v: T | undefined, choices: readonly T[]) => {
    if (v !== undefined && !choices.includes(v)) {
      throw new OptionError(
        field,
        `must be one of ${choices.join(", ")}, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  const workers = whole(
    "workers",
    o.workers ?? workersDefault,
    1,
    MAX_WORKERS,
  )!;
  const batch = whole("batch", o.batch ?? batchDefault, 1)!;
  const backend = oneOf("backend", o.backend ?? "wasm", ["wasm", "blas", "ts"] as Backend[])!;
  checkBackend(backend);
  if (o.blasLib !== undefined && backend !== "blas") {
    throw new OptionError("blasLib", "is only for the blas backend");
  }
  const r: ResolvedStreamOptions = {
    workers,
    batch,
    format: oneOf("format", o.format, FORMATS),
    outFormat: oneOf("outFormat", o.outFormat, FORMATS),
    dim: whole("dim", o.dim, 1),
    field: o.field ?? "embedding",
    nonfinite: oneOf("nonfinite", o.nonfinite ?? "error", ["error", "pass"] as const)!,
    offset: whole("offset", o.offset ?? 0, 0, Number.MAX_SAFE_INTEGER)!,
    backend,
    ...(o.blasLib === undefined ? {} : { blasLib: o.blasLib }),
  };
  return Object.freeze(r);
}

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
  /** where the norms sit: pre (default), post, peri, deepnorm or mix (see `Placement`) */
  placement?: Placement;
  /** every norm of the stack: layer (default), rms or dyt */
  norm?: NormKind;
  /** RMS-normalize each head's q and k before q·kᵀ (default false) */
  qkNorm?: boolean;
  /** with mix: post-LN blocks (default ⌊layers/4⌋) */
  mixPost?: number;
  /** with dyt: the initial scalar a of every norm (default 0.5) */
  dytAlpha?: number;
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
  /**
   * a trained or loaded model's blocks instead of a random init: its config decides layers,
   * heads, placement, norms and eps; `params` holds its stack's parameters in `paramLayout`
   * order (a `CharLM`'s first ones: `lm.gpt.params`); `name` goes into the summary
   */
  model?: { config: GPTConfig; params: Floats; name?: string };
  /** a final norm (default: true for pre, peri and mix; false for post and deepnorm) */
  finalNorm?: boolean;
}
