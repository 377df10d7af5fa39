// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): the module's exports, one
// file per op, each named as its TypeScript twin in lib/kernels/. `deno task build:wasm`
// compiles this file and writes the module and its bindings (`KernelExports`, generated from
// the declarations the compiler emits) into ../kernels.generated.ts.

export { init, reservedBytes } from "./common.ts";
export { add, colSumAcc, fillRows, maxAbs, scale, scaleAdd, sumSq } from "./elementwise.ts";
export { adamw } from "./adamw.ts";
export { layerNormBackward, layerNormRows } from "./layernorm.ts";
export { rmsNormBackward, rmsNormRows } from "./rmsnorm.ts";
export { dytBackward, dytForward } from "./dyt.ts";
export { qkNormBackward, qkNormForward } from "./qknorm.ts";
export { tanhScalar } from "./common.ts";
export { geluBackward, geluForward } from "./gelu.ts";
export { softmaxBackward, softmaxForward } from "./softmax.ts";
export { gemm, gemmScratchBytes } from "./matmul.ts";
export { probeFill } from "./probe.ts";
export { batchSums, gradStats, rowStats } from "./stats.ts";
export { normStats } from "./normalize.ts";
export { formatRows } from "./format.ts";
