/**
 * The kernel contract: one `Kernels` object, chosen once per model or stream with
 * `createKernels(backend)`, is how every caller reaches a kernel. Three backends compute the
 * same ops:
 *
 * - `ts`: the TypeScript references exported by each kernel's file (float64 accumulation); the
 *   only backend for float64.
 * - `wasm`: WebAssembly SIMD on arena memory (the default for float32).
 * - `blas`: `wasm`, with every matrix product handed to the system OpenBLAS through FFI.
 *
 * @module
 */
import type { Floats } from "./types.ts";
import { layerNormBackward, layerNormForward } from "./layernorm.ts";
import { rmsNormBackward, rmsNormForward } from "./rmsnorm.ts";
import { dytBackward, dytForward } from "./dyt.ts";
import { qkNormBackward, qkNormForward } from "./qknorm.ts";
import { batchNormBackward, batchNormForward } from "./batchnorm.ts";
import { geluBackward, geluForward } from "./gelu.ts";
import { matmulBackward, matmulForward } from "./matmul.ts";
import { softmaxBackward, softmaxForward } from "./softmax.ts";
import { attentionBackward, attentionForward } from "./attention.ts";
import { adamwUpdate } from "./adamw.ts";
import { probeFill } from "./probe.ts";
import { type BatchSums, batchSums, gradStats, rowStats } from "./stats.ts";
import { normRows, normStats } from "./normalize.ts";
import { formatRows } from "./format.ts";
import { WasmKernels } from "./wasm.ts";
import { BlasKernels } from "./blas.ts";
import { Arena } from "./arena.ts";

/** A backend's name. */
export type Backend = "ts" | "wasm" | "blas";

/** The backends, in the order `--help` lists them. */
export const BACKENDS: readonly Backend[] = ["ts", "wasm", "blas"];

/**
 * Checks a backend name; an unknown one is a `RangeError` naming the choices.
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * assertThrows(() => checkBackend("gpu"), RangeError);
 * ```
 */
export function checkBackend(name: unknown): Backend {
  if (!BACKENDS.includes(name as Backend)) {
    throw new RangeError(`backend must be "ts", "wasm" or "blas", got ${JSON.stringify(name)}`);
  }
  return name as Backend;
}

/**
 * Every op a model, a trainer or the pipeline calls, with the signature of the TypeScript
 * reference of the same name (shapes as explicit arguments, caller-owned buffers). The `wasm`
 * and `blas` backends take float32 arrays that live in their arena (`alloc` gives them).
 */
export interface Kernels {
  /** which backend this is */
  readonly name: Backend;
  /** the arena every argument must live in (`null` for `ts`: any array) */
  readonly arena: Arena | null;
  /** a zeroed float32 array where this backend computes (its arena, for wasm and blas) */
  alloc(n: number): Float32Array;
  /** a zeroed float64 array where this backend computes (statistics records) */
  allocF64(n: number): Float64Array;
  /** `layerNormForward` */
  layerNormForward: typeof layerNormForward;
  /** `layerNormBackward` */
  layerNormBackward: typeof layerNormBackward;
  /** `rmsNormForward` */
  rmsNormForward: typeof rmsNormForward;
  /** `rmsNormBackward` */
  rmsNormBackward: typeof rmsNormBackward;
  /** `dytForward` */
  dytForward: typeof dytForward;
  /** `dytBackward` */
  dytBackward: typeof dytBackward;
  /** `qkNormForward` */
  qkNormForward: typeof qkNormForward;
  /** `qkNormBackward` */
  qkNormBackward: typeof qkNormBackward;
  /** `batchNormForward` (TypeScript on every backend: it is per feature over the batch) */
  batchNormForward: typeof batchNormForward;
  /** `batchNormBackward` */
  batchNormBackward: typeof batchNormBackward;
  /** `geluForward` */
  geluForward: typeof geluForward;
  /** `geluBackward` */
  geluBackward: typeof geluBackward;
  /** `matmulForward` */
  matmulForward: typeof matmulForward;
  /** `matmulBackward` */
  matmulBackward: typeof matmulBackward;
  /** `softmaxForward` */
  softmaxForward: typeof softmaxForward;
  /** `softmaxBackward` */
  softmaxBackward: typeof softmaxBackward;
  /** `attentionForward` */
  attentionForward: typeof attentionForward;
  /** `attentionBackward` */
  attentionBackward: typeof attentionBackward;
  /** `adamwUpdate` (float32 on wasm, as PyTorch's float32 AdamW) */
  adamw: typeof adamwUpdate;
  /** out = a + b (n elements): the shard sum */
  add(out: Floats, a: Floats, b: Floats, n: number): void;
  /** out = alpha·a + b (n elements): a residual scaled by DeepNorm's α */
  scaleAdd(out: Floats, a: Floats, alpha: number, b: Floats, n: number): void;
  /** out = alpha·a (n elements) */
  scale(out: Floats, a: Floats, alpha: number, n: number): void;
  /** Σ a² over the first n elements, in float64: the global norm */
  sumSq(a: Floats, n: number): number;
  /** max |a| over the first n elements */
  maxAbs(a: Floats, n: number): number;
  /** `probeFill`: the probe directions of tokens `first …` of stream `seed` into out [N,C] */
  probeFill(out: Floats, seed: number, first: number, N: number, C: number): void;
  /** `rowStats` */
  rowStats: typeof rowStats;
  /** `gradStats` */
  gradStats: typeof gradStats;
  /** `normRows` */
  normRows: typeof normRows;
  /** `normStats` */
  normStats: typeof normStats;
  /** `batchSums` */
  batchSums(stats: Float64Array, N: number, C: number, stride?: number): BatchSums;
  /** `formatRows`: float32 rows as NDJSON token lines (`text` and `ends` in the arena too) */
  formatRows: typeof formatRows;
}

/**
 * The TypeScript reference backend: any array, either precision.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const out = new Float64Array(2);
 * tsKernels.add(out, Float64Array.of(1, 2), Float64Array.of(3, 4), 2);
 * assert(out[1] === 6 && tsKernels.sumSq(out, 2) === 52);
 * ```
 */
export const tsKernels: Kernels = Object.freeze(
  {
    name: "ts",
    arena: null,
    alloc: (n: number) => new Float32Array(n),
    allocF64: (n: number) => new Float64Array(n),
    layerNormForward,
    layerNormBackward,
    rmsNormForward,
    rmsNormBackward,
    dytForward,
    dytBackward,
    qkNormForward,
    qkNormBackward,
    batchNormForward,
    batchNormBackward,
    geluForward,
    geluBackward,
    matmulForward,
    matmulBackward,
    softmaxForward,
    softmaxBackward,
    attentionForward,
    attentionBackward,
    adamw: adamwUpdate,
    add(out: Floats, a: Floats, b: Floats, n: number) {
      for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
    },
    scaleAdd(out: Floats, a: Floats, alpha: number, b: Floats, n: number) {
      for (let i = 0; i < n; i++) out[i] = alpha * a[i] + b[i];
    },
    scale(out: Floats, a: Floats, alpha: number, n: number) {
      for (let i = 0; i < n; i++) out[i] = alpha * a[i];
    },
    sumSq(a: Floats, n: number) {
      let s = 0;
      for (let i = 0; i < n; i++) s += a[i] * a[i];
      return s;
    },
    maxAbs(a: Floats, n: number) {
      let m = 0;
      for (let i = 0; i < n; i++) {
        const v = Math.abs(a[i]);
        if (!(v <= m)) m = v; // NaN wins, as in the wasm kernel
      }
      return m;
    },
    probeFill,
    rowStats,
    gradStats,
    normRows,
    normStats,
    batchSums,
    formatRows,
  } as const,
);

/**
 * The kernels of a backend: `ts` is `tsKernels`; `wasm` and `blas` compute on arrays in
 * `arena` (this thread's handle; a new arena when none is given). `blas` loads OpenBLAS from
 * `blasLib` or the usual places, and throws when it cannot (never a silent fallback).
 *
 * @param backend `ts`, `wasm` or `blas`
 * @param arena the shared memory the arrays live in (wasm, blas)
 * @param blasLib the OpenBLAS library (blas)
 * @returns the backend's kernels
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const k = createKernels("wasm");
 * const x = k.alloc(4), y = k.alloc(4), mean = k.alloc(1), rstd = k.alloc(1);
 * x.set([1, 2, 3, 4]);
 * k.layerNormForward(y, mean, rstd, x, null, null, 1, 4); // WebAssembly SIMD, in the arena
 * assert(k.name === "wasm" && Math.abs(y[3] - 1.3416) < 1e-4);
 * ```
 */
export function createKernels(backend: Backend, arena?: Arena | null, blasLib?: string): Kernels {
  checkBackend(backend);
  if (backend === "ts") return tsKernels;
  const a = arena ?? new Arena();
  // the float32 arrays of these backends pass through the Floats-typed interface
  return (backend === "wasm"
    ? new WasmKernels(a)
    : new BlasKernels(a, blasLib)) as unknown as Kernels;
}
