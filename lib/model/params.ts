/**
 * The parameter layout: every tensor of the stack lives in one flat buffer at a
 * fixed offset (llm.c's `ParameterTensors`); gradients use the same layout.
 *
 * @module
 */
import type { NormKind, ResolvedConfig } from "./config.ts";

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

/**
 * Every parameter a block can have, in layout order: the 12 of `BLOCK_PARAMS`, DyT's scalars
 * `ln1_a`, `ln2_a` (after each norm's γ, β), and Peri-LN's output norms `ln1o_*` (after the
 * attention's projection) and `ln2o_*` (after the MLP's). Which a block has depends on the
 * config (`blockParams`).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(ALL_BLOCK_PARAMS.length === 20 && ALL_BLOCK_PARAMS.includes("ln2o_a"));
 * ```
 */
export const ALL_BLOCK_PARAMS = [
  "ln1_g",
  "ln1_b",
  "ln1_a",
  "W_attn",
  "b_attn",
  "W_proj",
  "b_proj",
  "ln1o_g",
  "ln1o_b",
  "ln1o_a",
  "ln2_g",
  "ln2_b",
  "ln2_a",
  "W_fc",
  "b_fc",
  "W_proj2",
  "b_proj2",
  "ln2o_g",
  "ln2o_b",
  "ln2o_a",
] as const;

/** A block parameter's short name. */
export type BlockParam = typeof ALL_BLOCK_PARAMS[number];

/** The parameters every block has, whatever its norm and placement. */
export type CoreBlockParam = Exclude<BlockParam, `${string}_b` | `${string}_a` | `ln${1 | 2}o_g`>;

/**
 * The parameter suffixes of one norm: γ always, β unless RMSNorm, DyT's scalar `a`.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * assertEquals(normSuffixes("rms"), ["_g"]);
 * assertEquals(normSuffixes("dyt"), ["_g", "_b", "_a"]);
 * ```
 */
export function normSuffixes(norm: NormKind): string[] {
  return norm === "rms" ? ["_g"] : norm === "dyt" ? ["_g", "_b", "_a"] : ["_g", "_b"];
}

/**
 * The parameters one block of `c` has, in layout order.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { resolveConfig } from "./config.ts";
 * const c = resolveConfig({ nLayer: 1, nHead: 1, nEmbd: 4, placement: "peri", norm: "rms" });
 * assert(blockParams(c).join() ===
 *   "ln1_g,W_attn,b_attn,W_proj,b_proj,ln1o_g,ln2_g,W_fc,b_fc,W_proj2,b_proj2,ln2o_g");
 * ```
 */
export function blockParams(c: Pick<ResolvedConfig, "norm" | "placement">): BlockParam[] {
  const kinds = normSuffixes(c.norm);
  return ALL_BLOCK_PARAMS.filter((p) => {
    const m = /^ln[12](o?)(_[gba])$/.exec(p);
    if (m === null) return true;
    return (m[1] === "" || c.placement === "peri") && kinds.includes(m[2]);
  });
}

/**
 * Why a parameter name is not in a config's layout, when the config explains it (an RMSNorm has
 * no β, only DyT has `a`, only Peri-LN has output norms); null otherwise.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(absentBecause("blocks.0.ln1_b", { norm: "rms", placement: "pre" })!.includes("rms"));
 * ```
 */
export function absentBecause(
  name: string,
  c: Pick<ResolvedConfig, "norm" | "placement">,
): string | null {
  const m = /(?:^|\.)ln(?:[12]o?|_f)(_[gba])$/.exec(name);
  if (m === null) return null;
  if (/ln[12]o_/.test(name) && c.placement !== "peri") {
    return `output norms (ln1o, ln2o) belong to placement "peri", not "${c.placement}"`;
  }
  if (m[1] === "_b" && c.norm === "rms") return `norm "rms" has no bias β (no _b parameters)`;
  if (m[1] === "_a" && c.norm !== "dyt") return `only norm "dyt" has a scalar a, not "${c.norm}"`;
  return null;
}

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
    case "ln1_a":
    case "ln2_a":
    case "ln1o_a":
    case "ln2o_a":
      return [1];
    default:
      return [C];
  }
}

/**
 * The layout for a config: blocks in order (`blockParams`), then the final norm's `ln_f_g`,
 * `ln_f_b`, `ln_f_a` (those its norm has) when the stack has one.
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
    for (const p of blockParams(c)) add(`blocks.${l}.${p}`, blockParamShape(p, c.nEmbd));
  }
  if (c.finalNorm) {
    for (const s of normSuffixes(c.norm)) add(`ln_f${s}`, s === "_a" ? [1] : [c.nEmbd]);
  }
  return out;
}
