/**
 * The normalization zoo's flags, shared by `run`, `compare` and `train`: `--placement`, `--norm`,
 * `--qk-norm`, `--mix-post`, `--dyt-alpha`, parsed into the model's options.
 *
 * @module
 */
import { UsageError } from "../io/errors.ts";
import { NORM_KINDS, type NormKind, type Placement, PLACEMENTS } from "../model/config.ts";
import { intFlag, numberFlag } from "./args.ts";

/** The string flags (`parseCommand`'s `strings`). */
export const ZOO_STRINGS = ["placement", "norm", "mix-post", "dyt-alpha"] as const;
/** The boolean flag. */
export const ZOO_BOOLEANS = ["qk-norm"] as const;

/**
 * The flags' lines of `--help`; `lists` says a comma list sweeps them.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(zooHelp(false).includes("--placement pre|post|peri|deepnorm|mix"));
 * ```
 */
export function zooHelp(lists: boolean): string {
  const many = lists ? " (a comma list sweeps them)" : "";
  return `  --placement ${PLACEMENTS.join("|")}
                              where the norms sit${many}: pre x + f(N(x)) (GPT-2,
                              default); post N(x + f(x)); peri x + Nₒ(f(N(x))) (Peri-LN);
                              deepnorm N(α·x + f(x)), α = (2L)^¼ (DeepNorm); mix: the first
                              --mix-post blocks post, the rest pre (Mix-LN)
  --norm ${NORM_KINDS.join("|")}        every norm of the model${many}: LayerNorm (default),
                              RMSNorm (no bias) or Dynamic Tanh γ·tanh(a·x) + β
  --qk-norm                   RMS-normalize each head's q and k before q·kᵀ
  --mix-post N                with mix: post-LN blocks (default: ⌊layers/4⌋)
  --dyt-alpha A               with dyt: initial a of every norm (default: 0.5)`;
}

/** The zoo's options of one model, as `GPTConfig` names them. */
export interface ZooOptions {
  /** where the norms sit */
  placement: Placement;
  /** every norm */
  norm: NormKind;
  /** QK-norm */
  qkNorm: boolean;
  /** with mix: post-LN blocks (absent: the default) */
  mixPost?: number;
  /** with dyt: the initial scalar */
  dytAlpha?: number;
}

/**
 * The placements and norms a command sweeps (one each without `lists`), and the other flags.
 * Every value is checked here (exit 64 naming the flag): `--mix-post` needs a mix placement
 * and at most `--layers` (the smallest, for a list), `--dyt-alpha` a dyt norm.
 *
 * @example
 * ```ts
 * import { assert, assertThrows } from "@std/assert";
 * const z = zooFlags({ placement: "pre,peri", norm: "dyt", "dyt-alpha": "1" }, true, 4);
 * assert(z.placements.length === 2 && z.options.dytAlpha === 1);
 * assertThrows(() => zooFlags({ "mix-post": "1" }, false, 4), Error, "--mix-post");
 * ```
 */
export function zooFlags(
  f: Record<string, unknown>,
  lists: boolean,
  layers: number,
): {
  placements: Placement[];
  norms: NormKind[];
  options: { qkNorm: boolean; mixPost?: number; dytAlpha?: number };
} {
  const placements = listFlag(f, "placement", PLACEMENTS, "pre", lists);
  const norms = listFlag(f, "norm", NORM_KINDS, "layer", lists);
  const options: { qkNorm: boolean; mixPost?: number; dytAlpha?: number } = {
    qkNorm: f["qk-norm"] === true,
  };
  if (f["mix-post"] !== undefined) {
    if (!placements.includes("mix")) {
      throw new UsageError(`--mix-post is for --placement mix (Mix-LN's post-LN blocks)`);
    }
    options.mixPost = intFlag(f, "mix-post", undefined, 0, layers);
  }
  if (f["dyt-alpha"] !== undefined) {
    if (!norms.includes("dyt")) throw new UsageError(`--dyt-alpha is for --norm dyt`);
    const a = numberFlag(f, "dyt-alpha")!;
    if (!Number.isFinite(a)) {
      throw new UsageError(`--dyt-alpha must be a finite number, got '${f["dyt-alpha"]}'`);
    }
    options.dytAlpha = a;
  }
  return { placements, norms, options };
}

/**
 * One model's zoo options from `zooFlags`' values: `mixPost` only for mix and `dytAlpha` only
 * for dyt (so a sweep over pre and mix gives each what it takes).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const o = zooOptions("pre", "layer", { qkNorm: false, mixPost: 1, dytAlpha: 2 });
 * assert(!("mixPost" in o) && !("dytAlpha" in o));
 * ```
 */
export function zooOptions(
  placement: Placement,
  norm: NormKind,
  o: { qkNorm: boolean; mixPost?: number; dytAlpha?: number },
): ZooOptions {
  return {
    placement,
    norm,
    qkNorm: o.qkNorm,
    ...(placement === "mix" && o.mixPost !== undefined ? { mixPost: o.mixPost } : {}),
    ...(norm === "dyt" && o.dytAlpha !== undefined ? { dytAlpha: o.dytAlpha } : {}),
  };
}

function listFlag<T extends string>(
  f: Record<string, unknown>,
  name: string,
  choices: readonly T[],
  fallback: T,
  lists: boolean,
): T[] {
  const v = f[name];
  if (v === undefined) return [fallback];
  const parts = String(v).split(",").map((s) => s.trim());
  if (!lists && parts.length > 1) {
    throw new UsageError(`--${name} takes one value here, got '${v}'`);
  }
  const out: T[] = [];
  for (const p of parts) {
    if (!choices.includes(p as T)) {
      throw new UsageError(
        `--${name} must be ${lists ? "a comma list of " : "one of "}${choices.join(", ")}; got '${
          p === "" ? v : p
        }'`,
      );
    }
    if (out.includes(p as T)) throw new UsageError(`--${name} lists '${p}' twice`);
    out.push(p as T);
  }
  return out;
}
