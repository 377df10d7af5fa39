/**
 * lnstream: exact LayerNorm, RMSNorm, BatchNorm and GPT-2 building blocks in
 * TypeScript — flat-array forward/backward kernels, a GPT stack in pre-LN and
 * post-LN placement, a streaming pipeline over Web Workers, and data-parallel training of
 * a character-level GPT.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { layerNormForward } from "./mod.ts";
 * const x = Float32Array.of(1, 2, 3, 4, 10, 10, 10, 14); // two tokens of 4 channels
 * const y = new Float32Array(8), mean = new Float32Array(2), rstd = new Float32Array(2);
 * layerNormForward(y, mean, rstd, x, null, null, 2, 4);
 * assert(mean[1] === 11);
 * ```
 *
 * @module
 */
export * from "./lib/kernels/mod.ts";
export * from "./lib/model/mod.ts";
export * from "./lib/stats/mod.ts";
export * from "./lib/io/mod.ts";
export * from "./lib/pipeline/mod.ts";
export * from "./lib/train/mod.ts";

if (import.meta.main) {
  const { main } = await import("./lib/cli/main.ts");
  Deno.exit(await main(Deno.args));
}
