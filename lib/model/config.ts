/**
 * GPT configuration, nanoGPT style: one plain object describes the stack.
 *
 * @module
 */

/**
 * Where the norms sit in a block, per sublayer f (attention, then MLP):
 * - `pre` (GPT-2): x ← x + f(N(x)), and a final norm;
 * - `post` (the original Transformer): x ← N(x + f(x));
 * - `peri` (Peri-LN, sandwich-LN): x ← x + Nₒ(f(N(x))), output norms with their own parameters,
 *   and a final norm;
 * - `deepnorm` (DeepNorm): x ← N(α·x + f(x)), α = (2L)^¼, and β = (8L)^−¼ on the value and
 *   output projections at init;
 * - `mix` (Mix-LN): blocks before `mixPost` post-LN, the rest pre-LN, and a final norm.
 */
export type Placement = "pre" | "post" | "peri" | "deepnorm" | "mix";

/**
 * The placements, in the order `--help` lists them.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(PLACEMENTS.includes("peri") && PLACEMENTS.length === 5);
 * ```
 */
export const PLACEMENTS: readonly Placement[] = ["pre", "post", "peri", "deepnorm", "mix"];

/**
 * Which norm every norm of the model is: `layer` γ⊙(x−μ)/√(σ²+ε)+β; `rms` γ⊙x/√(mean(x²)+ε)
 * (no β); `dyt` γ⊙tanh(a·x)+β with a learnable scalar `a` per norm (Dynamic Tanh).
 */
export type NormKind = "layer" | "rms" | "dyt";

/**
 * The norms, in the order `--help` lists them.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(NORM_KINDS.join() === "layer,rms,dyt");
 * ```
 */
export const NORM_KINDS: readonly NormKind[] = ["layer", "rms", "dyt"];

/** Working precision of parameters, activations and gradients. */
export type DType = "float32" | "float64";

import { type Backend, checkBackend } from "../kernels/backend.ts";

/**
 * What a user passes to `new GPT(…)`.
 *
 * @example
 * ```ts
 * const cfg: GPTConfig = { nLayer: 2, nHead: 2, nEmbd: 16, placement: "pre" };
 * console.log(resolveConfig(cfg).finalNorm); // true: pre-LN stacks end with ln_f
 * ```
 */
export interface GPTConfig {
  /** number of blocks L */
  nLayer: number;
  /** attention heads; must divide nEmbd */
  nHead: number;
  /** channels C */
  nEmbd: number;
  /** where the norms sit (see `Placement`) */
  placement: Placement;
  /** every norm of the model: `layer` (default), `rms` or `dyt` */
  norm?: NormKind;
  /** RMS-normalize each head's q and k (no parameters, ε = `eps`) before q·kᵀ (default false) */
  qkNorm?: boolean;
  /** with `mix`: blocks `l < mixPost` are post-LN, the rest pre-LN (default ⌊nLayer/4⌋) */
  mixPost?: number;
  /** with `dyt`: the initial value of each norm's scalar `a` (default 0.5) */
  dytAlpha?: number;
  /** norm epsilon (default 1e-5; `layer`, `rms` and QK-norm) */
  eps?: number;
  /**
   * a final norm `ln_f` after the last block (default: true for pre, peri and mix, false for
   * post and deepnorm)
   */
  finalNorm?: boolean;
  /** causal attention mask (default true); false is encoder-style attention */
  causal?: boolean;
  /** float32 (default) or float64 for exact checks */
  dtype?: DType;
  /** put parameters and gradients on a SharedArrayBuffer so workers can read them */
  shared?: boolean;
  /**
   * how the kernels run: `wasm` (WebAssembly SIMD, the default for float32), `blas` (wasm with
   * the matrix products in the system OpenBLAS; needs `--allow-ffi`), or `ts` (the TypeScript
   * reference, the only choice for float64)
   */
  backend?: Backend;
  /** path of the OpenBLAS library for `blas` (default: Debian's `libopenblas.so.0`, searched) */
  blasLib?: string;
}

/**
 * A config with every default filled in (`blasLib` stays optional). `mixPost` is 0 unless the
 * placement is `mix`.
 */
export type ResolvedConfig = Required<Omit<GPTConfig, "blasLib">> & { blasLib?: string };

/**
 * Fills defaults and checks the shape arguments.
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * assertThrows(() => resolveConfig({ nLayer: 1, nHead: 3, nEmbd: 16, placement: "pre" }));
 * assertThrows(() => resolveConfig({ nLayer: 1, nHead: 1, nEmbd: 16, placement: "pre", eps: -1 }));
 * ```
 */
export function resolveConfig(c: GPTConfig): ResolvedConfig {
  const whole = (v: number) => Number.isInteger(v) && v > 0;
  if (!whole(c.nLayer)) throw new RangeError(`nLayer must be a positive integer, got ${c.nLayer}`);
  if (!whole(c.nHead)) throw new RangeError(`nHead must be a positive integer, got ${c.nHead}`);
  if (!whole(c.nEmbd)) throw new RangeError(`nEmbd must be a positive integer, got ${c.nEmbd}`);
  if (c.nEmbd % c.nHead !== 0) {
    throw new RangeError(`nHead (${c.nHead}) must divide nEmbd (${c.nEmbd})`);
  }
  const placement = checkChoice("placement", c.placement, PLACEMENTS);
  const norm = checkChoice("norm", c.norm ?? "layer", NORM_KINDS);
  const L = c.nLayer;
  const mixPost = c.mixPost ?? (placement === "mix" ? Math.floor(L / 4) : 0);
  if (!(Number.isInteger(mixPost) && mixPost >= 0 && mixPost <= L)) {
    throw new RangeError(
      `mixPost must be a whole number from 0 to nLayer (${L}), got ${c.mixPost}`,
    );
  }
  if (placement !== "mix" && mixPost !== 0) {
    throw new RangeError(`mixPost is for placement "mix", not "${placement}"`);
  }
  const dytAlpha = c.dytAlpha ?? 0.5;
  if (!(typeof dytAlpha === "number" && Number.isFinite(dytAlpha))) {
    throw new RangeError(`dytAlpha must be a finite number, got ${c.dytAlpha}`);
  }
  if (c.qkNorm !== undefined && typeof c.qkNorm !== "boolean") {
    throw new RangeError(`qkNorm must be true or false, got ${JSON.stringify(c.qkNorm)}`);
  }
  const eps = c.eps ?? 1e-5;
  if (!(typeof eps === "number" && Number.isFinite(eps) && eps > 0)) {
    throw new RangeError(`eps must be a positive number, got ${c.eps}`);
  }
  const dtype = c.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "float64") {
    throw new RangeError(`dtype must be "float32" or "float64", got ${dtype}`);
  }
  const backend = checkBackend(c.backend ?? (dtype === "float64" ? "ts" : "wasm"));
  if (dtype === "float64" && backend !== "ts") {
    throw new RangeError(`float64 runs on the ts backend only, got backend "${backend}"`);
  }
  return {
    nLayer: c.nLayer,
    nHead: c.nHead,
    nEmbd: c.nEmbd,
    placement,
    norm,
    qkNorm: c.qkNorm ?? false,
    mixPost,
    dytAlpha,
    eps,
    finalNorm: c.finalNorm ?? (placement !== "post" && placement !== "deepnorm"),
    causal: c.causal ?? true,
    dtype,
    shared: c.shared ?? false,
    backend,
    ...(c.blasLib === undefined ? {} : { blasLib: c.blasLib }),
  };
}

/**
 * `value` when it is one of `allowed`; else a `RangeError` naming the option and the choices.
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * assertThrows(() => checkChoice("norm", "batch", NORM_KINDS), RangeError, '"layer", "rms" or "dyt"');
 * ```
 */
export function checkChoice<T extends string>(
  option: string,
  value: unknown,
  allowed: readonly T[],
): T {
  if (allowed.includes(value as T)) return value as T;
  const names = allowed.map((a) => JSON.stringify(a));
  const list = `${names.slice(0, -1).join(", ")} or ${names.at(-1)}`;
  throw new RangeError(`${option} must be ${list}, got ${JSON.stringify(value)}`);
}

/**
 * How block `l` of a resolved config places its norms: `mix` is post-LN before `mixPost` and
 * pre-LN after; every other placement is the same for all blocks.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const c = resolveConfig({ nLayer: 8, nHead: 1, nEmbd: 4, placement: "mix" });
 * assert(blockPlacement(c, 1) === "post" && blockPlacement(c, 2) === "pre");
 * ```
 */
export function blockPlacement(c: ResolvedConfig, l: number): Exclude<Placement, "mix"> {
  if (c.placement !== "mix") return c.placement;
  return l < c.mixPost ? "post" : "pre";
}

/**
 * A short name of a model variant, for tables, legends, JSON and CSV: the placement, then
 * `-rms`/`-dyt` unless LayerNorm, then `+qk` with QK-norm — `pre`, `peri-dyt`, `post+qk`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(variantName({ placement: "pre" }) === "pre");
 * assert(variantName({ placement: "peri", norm: "dyt", qkNorm: true }) === "peri-dyt+qk");
 * ```
 */
export function variantName(
  c: { placement: Placement; norm?: NormKind; qkNorm?: boolean },
): string {
  const norm = c.norm === undefined || c.norm === "layer" ? "" : `-${c.norm}`;
  return `${c.placement}${norm}${c.qkNorm ? "+qk" : ""}`;
}

/**
 * A variant's name for people: `pre-LN`, `post-LN`, `Peri-LN`, `DeepNorm`, `Mix-LN`, then the
 * norm unless LayerNorm, then `+QK-norm`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(variantLabel({ placement: "pre" }) === "pre-LN");
 * assert(variantLabel({ placement: "peri", norm: "dyt", qkNorm: true }) === "Peri-LN DyT +QK-norm");
 * ```
 */
export function variantLabel(
  c: { placement: Placement; norm?: NormKind; qkNorm?: boolean },
): string {
  const place = {
    pre: "pre-LN",
    post: "post-LN",
    peri: "Peri-LN",
    deepnorm: "DeepNorm",
    mix: "Mix-LN",
  }[c.placement];
  const norm = c.norm === "rms" ? " RMSNorm" : c.norm === "dyt" ? " DyT" : "";
  return `${place}${norm}${c.qkNorm ? " +QK-norm" : ""}`;
}
