/**
 * The parameter layout: every tensor of the stack lives in one flat buffer at a
 * fixed offset (llm.c's `ParameterTensors`); gradients use the same layout.
 *
 * @module
 */
import type { ResolvedConfig } from "./config.ts";

/** One named tensor in the flat buffer. */
export interface ParamSpec {
  /** e.g. `blocks.0.W_attn`, `ln_f_g` */
  name: string;
  /** offset in elements */
  offset: number;
  /** row-major shape; matrices are `[in, out]` */
  shape: number[];
  /** number of elements */
  size: number;
}

/**
 * The 12 parameters of one block, in layout order.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(BLOCK_PARAMS.length === 12 && BLOCK_PARAMS[8] === "W_fc");
 * ```
 */
export const BLOCK_PARAMS = [
  "ln1_g",
  "ln1_b",
  "W_attn",
  "b_attn",
  "W_proj",
  "b_proj",
  "ln2_g",
  "ln2_b",
  "W_fc",
  "b_fc",
  "W_proj2",
  "b_proj2",
] as const;

/** A block parameter's short name. */
export type BlockParam = typeof BLOCK_PARAMS[number];

/**
 * Shape of a block parameter for C channels.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * assertEquals(blockParamShape("W_proj2", 8), [32, 8]);
 * ```
 */
export function blockParamShape(p: BlockParam, C: number): number[] {
  switch (p) {
    case "W_attn":
      return [C, 3 * C];
    case "b_attn":
      return [3 * C];
    case "W_proj":
      return [C, C];
    case "W_fc":
      return [C, 4 * C];
    case "b_fc":
      return [4 * C];
    case "W_proj2":
      return [4 * C, C];
    default:
      return [C];
  }
}

/**
 * The layout for a config: blocks in order, then `ln_f_g`, `ln_f_b` when the
 * stack has a final norm.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { resolveConfig } from "./config.ts";
 * const l = paramLayout(resolveConfig({ nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" }));
 * assert(l.at(-1)!.name === "ln_f_b" && l[2].name === "blocks.0.W_attn");
 * ```
 */
export function paramLayout(c: ResolvedConfig): ParamSpec[] {
  const out: ParamSpec[] = [];
  let offset = 0;
  const add = (name: string, shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    out.push({ name, offset, shape, size });
    offset += size;
  };
  for (let l = 0; l < c.nLayer; l++) {
    for (const p of BLOCK_PARAMS) add(`blocks.${l}.${p}`, blockParamShape(p, c.nEmbd));
  }
  if (c.finalNorm) {
    add("ln_f_g", [c.nEmbd]);
    add("ln_f_b", [c.nEmbd]);
  }
  return out;
}
