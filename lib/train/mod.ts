/**
 * Training pieces: character-level data, the learning-rate schedule and AdamW.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * assertEquals(lrAt(0, { lr: 1e-3, minLr: 1e-4, warmup: 0, iters: 10 }), 1e-3);
 * ```
 *
 * @module
 */
export { type AdamWStep, adamwUpdate, clipScale } from "./adamw.ts";
export { CharData, type Split } from "./chardata.ts";
export { CharLM, type CharLMConfig } from "./lm.ts";
export { lrAt, type Schedule } from "./schedule.ts";
