/**
 * Backends: the same kernels computed three ways, chosen once per model or stream.
 *
 * - `ts`: the TypeScript reference (float64 accumulation); the only backend for float64.
 * - `wasm`: WebAssembly SIMD on arena memory (the default for float32).
 * - `blas`: `wasm`, with every matrix product handed to the system OpenBLAS through FFI.
 *
 * @module
 */
import type { Floats } from "./types.ts";
import {
  type layerNormBackward,
  layerNormBackwardTs,
  type layerNormForward,
  layerNormForwardTs,
} from "./layernorm.ts";
import {
  type rmsNormBackward,
  rmsNormBackwardTs,
  type rmsNormForward,
  rmsNormForwardTs,
} from "./rmsnorm.ts";
import { type geluBackward, geluBackwardTs, type geluForward, geluForwardTs } from "./gelu.ts";
import {
  type matmulBackward,
  matmulBackwardTs,
  type matmulForward,
  matmulForwardTs,
} from "./matmul.ts";
import {
  type attentionBackward,
  attentionBackwardTs,
  type attentionForward,
  attentionForwardTs,
} from "./attention.ts";
import { WasmKernels } from "./wasm.ts";
import { BlasKernels } from "./blas.ts";
import type { Arena } from "./arena.ts";

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
 * What a model calls: the kernels of `lib/kernels/` plus the few elementwise helpers a block
 * needs. Every method has the signature of the kernel of the same name.
 */
export interface Kernels {
  /** which backend this is */
  readonly name: Backend;
  /** the arena every argument must live in (`null` for `ts`: any array) */
  readonly arena: Arena | null;
  /** `layerNormForward` */
  layerNormForward: typeof layerNormForward;
  /** `layerNormBackward` */
  layerNormBackward: typeof layerNormBackward;
  /** `rmsNormForward` */
  rmsNormForward: typeof rmsNormForward;
  /** `rmsNormBackward` */
  rmsNormBackward: typeof rmsNormBackward;
  /** `geluForward` */
  geluForward: typeof geluForward;
  /** `geluBackward` */
  geluBackward: typeof geluBackward;
  /** `matmulForward` */
  matmulForward: typeof matmulForward;
  /** `matmulBackward` */
  matmulBackward: typeof matmulBackward;
  /** `attentionForward` */
  attentionForward: typeof attentionForward;
  /** `attentionBackward` */
  attentionBackward: typeof attentionBackward;
  /** out = a + b over the first n elements */
  /** out = a + b (n elements) */
  add(out: Floats, a: Floats, b: Floats, n: number): void;
  /** Σ a² over the first n elements, in float64 */
  /** Σ a², float64 */
  sumSq(a: Floats, n: number): number;
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
export const tsKernels: Kernels = {
  name: "ts",
  arena: null,
  layerNormForward: layerNormForwardTs,
  layerNormBackward: layerNormBackwardTs,
  rmsNormForward: rmsNormForwardTs,
  rmsNormBackward: rmsNormBackwardTs,
  geluForward: geluForwardTs,
  geluBackward: geluBackwardTs,
  matmulForward: matmulForwardTs,
  matmulBackward: matmulBackwardTs,
  attentionForward: attentionForwardTs,
  attentionBackward: attentionBackwardTs,
  add(out, a, b, n) {
    for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
  },
  sumSq(a, n) {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[i] * a[i];
    return s;
  },
};

/**
 * The kernels of a backend: `ts` ignores the arena; `wasm` and `blas` compute on arrays in
 * `arena` (this thread's instance). `blas` loads OpenBLAS from `blasLib` or the usual places,
 * and throws when it cannot (never a silent fallback).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { Arena } from "./arena.ts";
 * const k = createKernels("wasm", new Arena());
 * assert(k.name === "wasm" && k.arena !== null);
 * ```
 */
export function createKernels(backend: Backend, arena: Arena | null, blasLib?: string): Kernels {
  checkBackend(backend);
  if (backend === "ts") return tsKernels;
  if (arena === null) throw new TypeError(`the ${backend} backend needs an arena`);
  // the float32 arrays of these backends pass through the Floats-typed interface
  return (backend === "wasm" ? new WasmKernels(arena) : new BlasKernels(arena, blasLib)) as
    & Kernels
    & WasmKernels;
}
