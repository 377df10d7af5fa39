/**
 * GPT configuration, nanoGPT style: one plain object describes the stack.
 *
 * @module
 */

/** Where LayerNorm sits: `pre` (GPT-2, `x + f(LN(x))`) or `post` (`LN(x + f(x))`). */
export type Placement = "pre" | "post";

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
  /** LayerNorm placement */
  placement: Placement;
  /** LayerNorm epsilon (default 1e-5) */
  eps?: number;
  /** a final LayerNorm `ln_f` after the last block (default: true for pre, false for post) */
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

/** A config with every default filled in (`blasLib` stays optional). */
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
  if (c.placement !== "pre" && c.placement !== "post") {
    throw new RangeError(`placement must be "pre" or "post", got ${c.placement}`);
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
    placement: c.placement,
    eps,
    finalNorm: c.finalNorm ?? c.placement === "pre",
    causal: c.causal ?? true,
    dtype,
    shared: c.shared ?? false,
    backend,
    ...(c.blasLib === undefined ? {} : { blasLib: c.blasLib }),
  };
}
