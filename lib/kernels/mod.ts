/**
 * The numerical kernels: flat-array forward/backward pairs in the style of llm.c. Backward
 * kernels accumulate into caller-zeroed gradient buffers. The functions exported here are the
 * TypeScript references (float64 accumulation, any array); the WebAssembly SIMD and OpenBLAS
 * backends are reached through one `Kernels` object, `createKernels(backend)`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const y = new Float32Array(4), mean = new Float32Array(1), rstd = new Float32Array(1);
 * layerNormForward(y, mean, rstd, Float32Array.of(1, 2, 3, 4), null, null, 1, 4);
 * assert(Math.abs(y[3] - 1.3416) < 1e-4);
 * ```
 *
 * @module
 */
export type { Floats } from "./types.ts";
export { layerNormBackward, layerNormForward } from "./layernorm.ts";
export { rmsNormBackward, rmsNormForward } from "./rmsnorm.ts";
export { dytBackward, dytForward } from "./dyt.ts";
export { qkNormBackward, qkNormForward } from "./qknorm.ts";
export { batchNormBackward, batchNormForward } from "./batchnorm.ts";
export { geluBackward, geluForward } from "./gelu.ts";
export { matmulBackward, matmulForward } from "./matmul.ts";
export { softmaxBackward, softmaxForward } from "./softmax.ts";
export { attentionBackward, attentionForward } from "./attention.ts";
export { Arena, type ArenaOptions, checkExports, type KernelExports } from "./arena.ts";
export {
  type Backend,
  BACKENDS,
  checkBackend,
  createKernels,
  type Kernels,
  tsKernels,
} from "./backend.ts";
export { type F32, WasmKernels } from "./wasm.ts";
export {
  type BatchSums,
  batchSums,
  gradStats,
  type MomentSums,
  rowStats,
  type SquareSums,
  TOKEN,
  TOKEN_FIELDS,
} from "./stats.ts";
export { normRows, normStats } from "./normalize.ts";
export { probeFill } from "./probe.ts";
export { f32ToString, formatRows, rowTextBytes, tokenToJson } from "./format.ts";
export {
  BLAS_SEARCH_PATHS,
  BLAS_SYMBOLS,
  BlasKernels,
  type BlasLib,
  BlasUnavailableError,
  openBlas,
} from "./blas.ts";
export { type AdamWStep, adamwUpdate } from "./adamw.ts";
