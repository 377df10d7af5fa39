/**
 * Pre-LN against post-LN, and every other variant of the normalization zoo: the same weights
 * (one init draw), the same input and the same loss through each placement and norm,
 * per-layer gradient norms, swept over depth, init and attention mask, averaged over seeds.
 *
 * @module
 */
import type { Backend } from "../kernels/backend.ts";
import { GPT } from "./gpt.ts";
import { ALL_BLOCK_PARAMS, type BlockParam } from "./params.ts";
import { type NormKind, type Placement, variantName } from "./config.ts";
import { L2Loss, type Loss, ProbeLoss, XentLoss } from "./loss.ts";
import { Rng } from "./rng.ts";

/** Options of `compareRuns`. */
export interface CompareOptions {
  /** depths to sweep (default [6, 12, 24]) */
  layers?: number[];
  /** channels C (default 64; the input's when `input` is given) */
  dim?: number;
  /** heads (default 4) */
  heads?: number;
  /** tokens per sequence T (default 32) */
  seq?: number;
  /** sequences B (default 4) */
  batch?: number;
  /** init schemes to sweep (default ["gpt2", "xavier"]) */
  inits?: ("gpt2" | "xavier")[];
  /** attention masks to sweep (default [true]) */
  causal?: boolean[];
  /** loss (default xent over `vocab` classes with seeded targets) */
  loss?: "xent" | "probe" | "l2";
  /** classes of the xent head (default 256) */
  vocab?: number;
  /** matrices to report (default ["W_fc"]) */
  params?: BlockParam[];
  /** number of seeds to average over (default 5) */
  seeds?: number;
  /** first seed (default 0); run k uses seed + k */
  seed?: number;
  /** input tokens [B·T, C] instead of N(0, 1) draws (reused for every seed) */
  input?: Float32Array;
  /** norm epsilon (default 1e-5) */
  eps?: number;
  /** placements to compare (default ["pre", "post"]) */
  placements?: Placement[];
  /** norms to compare, each with every placement (default ["layer"]) */
  norms?: NormKind[];
  /** QK-norm in every variant (default false) */
  qkNorm?: boolean;
  /** Mix-LN's post-LN blocks (default ⌊L/4⌋ of each depth); at most the smallest depth */
  mixPost?: number;
  /** DyT's initial scalar (default 0.5) */
  dytAlpha?: number;
  /** kernels (default `wasm`; `blas` needs `--allow-ffi`, `ts` is the TypeScript reference) */
  backend?: Backend;
  /** OpenBLAS path for `blas` */
  blasLib?: string;
  /** called after each stack run */
  onProgress?: (done: number, total: number) => void;
}

/** One line of results: a placement at one depth, init, mask and parameter. */
export interface CompareRun {
  /** depth L */
  layers: number;
  /** init scheme */
  init: "gpt2" | "xavier";
  /** causal mask */
  causal: boolean;
  /** where the norms sit */
  placement: Placement;
  /** which norm */
  norm: NormKind;
  /** `variantName` of placement, norm and QK-norm: `pre`, `peri-dyt`, … */
  variant: string;
  /** the matrix reported */
  param: BlockParam;
  /** mean over seeds of ‖∂L/∂param‖ per layer, input side first */
  mean: number[];
  /** sample standard deviation over seeds (n − 1; 0 with one seed), per layer */
  std: number[];
  /** the raw norms: [seed][layer] */
  samples: number[][];
}

/** The depth scaling of the last layer's norm for one placement. */
export interface DepthFit {
  /** init scheme */
  init: "gpt2" | "xavier";
  /** causal mask */
  causal: boolean;
  /** where the norms sit */
  placement: Placement;
  /** which norm */
  norm: NormKind;
  /** `variantName` */
  variant: string;
  /** the matrix */
  param: BlockParam;
  /** depths, ascending */
  layers: number[];
  /** mean last-layer norm at each depth */
  last: number[];
  /** least-squares slope of log(last) against log(L): ≈ 0 post-LN, ≈ −0.5 pre-LN (Xiong et al.) */
  exponent: number | null;
  /** sample std of the exponent fitted to each seed alone (null: one seed or one depth) */
  exponent_std: number | null;
}

/** Post/pre ratio of the last layer's norm at each depth (for each norm run both ways). */
export interface DepthRatio {
  /** init scheme */
  init: "gpt2" | "xavier";
  /** the norm of both */
  norm: NormKind;
  /** causal mask */
  causal: boolean;
  /** the matrix */
  param: BlockParam;
  /** depths */
  layers: number[];
  /** post-LN last-layer norm / pre-LN last-layer norm */
  ratio: number[];
}

/** Everything `compareRuns` measured. */
export interface CompareResult {
  /** the settings used */
  config:
    & Required<Omit<CompareOptions, "input" | "onProgress" | "blasLib" | "mixPost">>
    & { input: string; mixPost: number | null };
  /** one entry per depth × init × mask × variant × param */
  runs: CompareRun[];
  /** per init × mask × variant × param */
  depth: DepthFit[];
  /** per init × mask × norm × param, when pre and post both ran */
  post_pre: DepthRatio[];
}

/** What tells one run from another: depth, init, mask, placement, norm (default layer), parameter. */
export type RunKey =
  & Pick<CompareRun, "layers" | "init" | "causal" | "placement" | "param">
  & { norm?: NormKind };

/**
 * The run of one setting among `runs`, if it was measured.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const key = { layers: 2, init: "gpt2", causal: true, placement: "pre", param: "W_fc" } as const;
 * const runs: CompareRun[] = [
 *   { ...key, norm: "layer", variant: "pre", mean: [1, 2], std: [0, 0], samples: [[1, 2]] },
 * ];
 * assert(findRun(runs, key) === runs[0] && findRun(runs, { ...key, layers: 4 }) === undefined);
 * ```
 */
export function findRun<R extends CompareRun>(runs: readonly R[], k: RunKey): R | undefined {
  return runs.find((r) =>
    r.layers === k.layers && r.init === k.init && r.causal === k.causal &&
    r.placement === k.placement && r.param === k.param && r.norm === (k.norm ?? "layer")
  );
}

/**
 * Least-squares slope of log y against log x.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(Math.abs(logSlope([1, 4, 16], [1, 0.5, 0.25]) + 0.5) < 1e-12);
 * ```
 */
export function logSlope(x: number[], y: number[]): number {
  const lx = x.map(Math.log), ly = y.map(Math.log), n = x.length;
  const mx = lx.reduce((a, b) => a + b, 0) / n, my = ly.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (lx[i] - mx) * (ly[i] - my);
    sxx += (lx[i] - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : 0;
}

/**
 * Runs both placements with identical weights for every depth, init, mask
 * and seed, and reports per-layer gradient norms of the chosen matrices.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const r = compareRuns({ layers: [2], dim: 16, heads: 2, seq: 4, batch: 2, inits: ["xavier"], seeds: 1 });
 * assert(r.runs.length === 2 && r.runs[0].mean.length === 2);
 * ```
 */
export function compareRuns(o: CompareOptions = {}): CompareResult {
  const layers = [...(o.layers ?? [6, 12, 24])].sort((a, b) => a - b);
  const heads = o.heads ?? 4, T = o.seq ?? 32, B = o.batch ?? 4;
  const C = o.dim ?? 64;
  const inits = o.inits ?? ["gpt2", "xavier"], masks = o.causal ?? [true];
  const lossName = o.loss ?? "xent", vocab = o.vocab ?? 256;
  const params = o.params ?? ["W_fc"], seeds = o.seeds ?? 5, seed0 = o.seed ?? 0;
  const eps = o.eps ?? 1e-5;
  const placements = o.placements ?? ["pre", "post"], norms = o.norms ?? ["layer"];
  const qkNorm = o.qkNorm ?? false;
  const variants = placements.flatMap((placement) => norms.map((norm) => ({ placement, norm })));
  if (variants.length === 0) throw new RangeError("placements and norms need a value each");
  if (placements.includes("mix") && o.mixPost !== undefined && !(o.mixPost <= layers[0])) {
    throw new RangeError(`mixPost ${o.mixPost} is past the smallest depth, ${layers[0]}`);
  }
  if (o.input && o.input.length < B * T * C) {
    throw new RangeError(`the input holds ${o.input.length / C} tokens, ${B}×${T} are needed`);
  }
  for (const p of params) {
    if (!ALL_BLOCK_PARAMS.includes(p)) throw new RangeError(`no block parameter named '${p}'`);
  }
  const total = layers.length * inits.length * masks.length * seeds * variants.length;
  let done = 0;
  const runs: CompareRun[] = [];
  const x = new Float32Array(B * T * C), dy = new Float32Array(B * T * C);
  // one model per depth, mask and variant, re-initialised for every init and seed: a GPT-2
  // sized stack's buffers are hundreds of MB, and touching fresh memory costs more than a run
  const models = new Map<string, GPT>();
  const modelFor = (L: number, causal: boolean, placement: Placement, norm: NormKind) => {
    const key = `${causal}/${placement}/${norm}`;
    let m = models.get(key);
    if (m === undefined) {
      m = new GPT({
        nLayer: L,
        nHead: heads,
        nEmbd: C,
        placement,
        norm,
        qkNorm,
        ...(placement === "mix" && o.mixPost !== undefined ? { mixPost: o.mixPost } : {}),
        ...(o.dytAlpha === undefined ? {} : { dytAlpha: o.dytAlpha }),
        causal,
        eps,
        backend: o.backend ?? "wasm",
        ...(o.blasLib === undefined ? {} : { blasLib: o.blasLib }),
      });
      models.set(key, m);
    }
    return m;
  };
  const keyOf = (v: { placement: Placement; norm: NormKind }, p: string) =>
    `${v.placement}/${v.norm}/${p}`;
  for (const L of layers) {
    models.clear(); // a new depth: let the last depth's models go
    for (const init of inits) {
      for (const causal of masks) {
        const samples = new Map<string, number[][]>();
        for (let k = 0; k < seeds; k++) {
          const seed = seed0 + k;
          if (o.input) x.set(o.input.subarray(0, B * T * C));
          else new Rng(seed ^ 0x1f2e3d).fillNormal(x);
          for (const v of variants) {
            const model = modelFor(L, causal, v.placement, v.norm);
            // the same draw for every variant: init draws the matrices in layout order, whatever
            // the norms around them (DeepNorm then scales its four by β, as its init says)
            model.init({ scheme: init, seed });
            const loss: Loss = lossName === "xent"
              ? new XentLoss({ vocab, nEmbd: C, seed, scheme: init })
              : lossName === "probe"
              ? new ProbeLoss({ seed })
              : new L2Loss();
            const y = model.forward(x, B, T);
            loss.lossAndGrad(y, dy, B * T, C);
            model.zeroGrad();
            model.backward(dy);
            const st = model.layerStats();
            for (const p of params) {
              const key = keyOf(v, p);
              if (!samples.has(key)) samples.set(key, []);
              samples.get(key)!.push(st.layer_stats.map((l) => {
                const g = l.grad[p];
                if (g === undefined) {
                  throw new RangeError(`a ${variantName(v)} block has no parameter '${p}'`);
                }
                return g.l2;
              }));
            }
            o.onProgress?.(++done, total);
          }
        }
        for (const v of variants) {
          const variant = variantName({ ...v, qkNorm });
          for (const p of params) {
            const s = samples.get(keyOf(v, p))!;
            const mean = s[0].map((_, l) => s.reduce((a, r) => a + r[l], 0) / s.length);
            // the sample std (n − 1), as train's seed cells give it
            const std = mean.map((m, l) =>
              s.length > 1
                ? Math.sqrt(s.reduce((a, r) => a + (r[l] - m) ** 2, 0) / (s.length - 1))
                : 0
            );
            runs.push({ layers: L, init, causal, ...v, variant, param: p, mean, std, samples: s });
          }
        }
      }
    }
  }
  const depth: DepthFit[] = [], post_pre: DepthRatio[] = [];
  for (const init of inits) {
    for (const causal of masks) {
      for (const param of params) {
        const lastOf = (placement: Placement, norm: NormKind) =>
          layers.map((L) =>
            findRun(runs, { layers: L, init, causal, placement, norm, param })!.mean.at(-1)!
          );
        for (const v of variants) {
          const last = lastOf(v.placement, v.norm);
          // each seed's own exponent (its last-layer norm at every depth), for the spread
          const perSeed = Array.from({ length: layers.length > 1 ? seeds : 0 }, (_, k) =>
            logSlope(
              layers,
              layers.map((L) =>
                findRun(runs, { layers: L, init, causal, ...v, param })!.samples[k].at(-1)!
              ),
            ));
          const em = perSeed.reduce((a, b) => a + b, 0) / Math.max(1, perSeed.length);
          const exponent_std = perSeed.length > 1
            ? Math.sqrt(perSeed.reduce((a, e) => a + (e - em) ** 2, 0) / (seeds - 1))
            : null;
          depth.push({
            init,
            causal,
            ...v,
            variant: variantName({ ...v, qkNorm }),
            param,
            layers,
            last,
            exponent: layers.length > 1 ? logSlope(layers, last) : null,
            exponent_std,
          });
        }
        if (placements.includes("pre") && placements.includes("post")) {
          for (const norm of norms) {
            const pre = lastOf("pre", norm), post = lastOf("post", norm);
            post_pre.push({
              init,
              norm,
              causal,
              param,
              layers,
              ratio: post.map((v, i) => v / pre[i]),
            });
          }
        }
      }
    }
  }
  return {
    config: {
      layers,
      dim: C,
      heads,
      seq: T,
      batch: B,
      inits,
      causal: masks,
      loss: lossName,
      vocab,
      params,
      seeds,
      seed: seed0,
      eps,
      placements,
      norms,
      qkNorm,
      // null: Mix-LN's ⌊L/4⌋ of each depth
      mixPost: o.mixPost ?? null,
      dytAlpha: o.dytAlpha ?? 0.5,
      input: o.input ? "stdin" : "N(0,1)",
      backend: o.backend ?? "wasm",
    },
    runs,
    depth,
    post_pre,
  };
}
