/**
 * Pre-LN against post-LN: the same weights (one init draw), the same input and
 * the same loss through both placements, per-layer gradient norms, swept over
 * depth, init and attention mask, averaged over seeds.
 *
 * @module
 */
import type { Backend } from "../kernels/backend.ts";
import { GPT } from "./gpt.ts";
import { ALL_BLOCK_PARAMS, type BlockParam } from "./params.ts";
import type { Placement } from "./config.ts";
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
  /** LayerNorm epsilon (default 1e-5) */
  eps?: number;
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
  /** pre or post */
  placement: Placement;
  /** the matrix reported */
  param: BlockParam;
  /** mean over seeds of ‖∂L/∂param‖ per layer, input side first */
  mean: number[];
  /** population std over seeds, per layer */
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
  /** pre or post */
  placement: Placement;
  /** the matrix */
  param: BlockParam;
  /** depths, ascending */
  layers: number[];
  /** mean last-layer norm at each depth */
  last: number[];
  /** least-squares slope of log(last) against log(L): ≈ 0 post-LN, ≈ −0.5 pre-LN (Xiong et al.) */
  exponent: number | null;
}

/** Post/pre ratio of the last layer's norm at each depth. */
export interface DepthRatio {
  /** init scheme */
  init: "gpt2" | "xavier";
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
  config: Required<Omit<CompareOptions, "input" | "onProgress" | "blasLib">> & { input: string };
  /** one entry per depth × init × mask × placement × param */
  runs: CompareRun[];
  /** per init × mask × placement × param */
  depth: DepthFit[];
  /** per init × mask × param */
  post_pre: DepthRatio[];
}

/** What tells one run from another: depth, init, mask, placement and parameter. */
export type RunKey = Pick<CompareRun, "layers" | "init" | "causal" | "placement" | "param">;

/**
 * The run of one setting among `runs`, if it was measured.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const key = { layers: 2, init: "gpt2", causal: true, placement: "pre", param: "W_fc" } as const;
 * const runs = [{ ...key, mean: [1, 2], std: [0, 0], samples: [[1, 2]] }];
 * assert(findRun(runs, key) === runs[0] && findRun(runs, { ...key, layers: 4 }) === undefined);
 * ```
 */
export function findRun(runs: readonly CompareRun[], k: RunKey): CompareRun | undefined {
  return runs.find((r) =>
    r.layers === k.layers && r.init === k.init && r.causal === k.causal &&
    r.placement === k.placement && r.param === k.param
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
  if (o.input && o.input.length < B * T * C) {
    throw new RangeError(`the input holds ${o.input.length / C} tokens, ${B}×${T} are needed`);
  }
  for (const p of params) {
    if (!ALL_BLOCK_PARAMS.includes(p)) throw new RangeError(`no block parameter named '${p}'`);
  }
  const total = layers.length * inits.length * masks.length * seeds * 2;
  let done = 0;
  const runs: CompareRun[] = [];
  const x = new Float32Array(B * T * C), dy = new Float32Array(B * T * C);
  // one model per depth, mask and placement, re-initialised for every init and seed: a GPT-2
  // sized stack's buffers are hundreds of MB, and touching fresh memory costs more than a run
  const models = new Map<string, GPT>();
  const modelFor = (L: number, causal: boolean, placement: Placement) => {
    const key = `${causal}/${placement}`;
    let m = models.get(key);
    if (m === undefined) {
      m = new GPT({
        nLayer: L,
        nHead: heads,
        nEmbd: C,
        placement,
        causal,
        eps,
        backend: o.backend ?? "wasm",
        ...(o.blasLib === undefined ? {} : { blasLib: o.blasLib }),
      });
      models.set(key, m);
    }
    return m;
  };
  for (const L of layers) {
    models.clear(); // a new depth: let the last depth's models go
    for (const init of inits) {
      for (const causal of masks) {
        const samples = new Map<string, number[][]>();
        for (let k = 0; k < seeds; k++) {
          const seed = seed0 + k;
          if (o.input) x.set(o.input.subarray(0, B * T * C));
          else new Rng(seed ^ 0x1f2e3d).fillNormal(x);
          for (const placement of ["pre", "post"] as const) {
            const model = modelFor(L, causal, placement);
            if (placement === "pre") model.init({ scheme: init, seed });
            else {
              // the same draw as pre-LN's: the blocks lead both layouts, drawn in the same order
              // (pre-LN only adds ln_f after them), so copying is drawing again, at no cost
              const pre = modelFor(L, causal, "pre").params;
              model.params.set(pre.subarray(0, model.params.length));
            }
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
              const key = `${placement}/${p}`;
              if (!samples.has(key)) samples.set(key, []);
              samples.get(key)!.push(st.layer_stats.map((l) => l.grad[p]!.l2));
            }
            o.onProgress?.(++done, total);
          }
        }
        for (const placement of ["pre", "post"] as const) {
          for (const p of params) {
            const s = samples.get(`${placement}/${p}`)!;
            const mean = s[0].map((_, l) => s.reduce((a, r) => a + r[l], 0) / s.length);
            const std = mean.map((m, l) =>
              Math.sqrt(s.reduce((a, r) => a + (r[l] - m) ** 2, 0) / s.length)
            );
            runs.push({ layers: L, init, causal, placement, param: p, mean, std, samples: s });
          }
        }
      }
    }
  }
  const depth: DepthFit[] = [], post_pre: DepthRatio[] = [];
  for (const init of inits) {
    for (const causal of masks) {
      for (const param of params) {
        const lastOf = (placement: Placement) =>
          layers.map((L) =>
            findRun(runs, { layers: L, init, causal, placement, param })!.mean.at(-1)!
          );
        const pre = lastOf("pre"), post = lastOf("post");
        for (const [placement, last] of [["pre", pre], ["post", post]] as const) {
          depth.push({
            init,
            causal,
            placement,
            param,
            layers,
            last,
            exponent: layers.length > 1 ? logSlope(layers, last) : null,
          });
        }
        post_pre.push({ init, causal, param, layers, ratio: post.map((v, i) => v / pre[i]) });
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
      input: o.input ? "stdin" : "N(0,1)",
      backend: o.backend ?? "wasm",
    },
    runs,
    depth,
    post_pre,
  };
}
