/**
 * What LayerNorm does to real activations: a sequence through a whole model, forward and the
 * backward of its next-token loss, measured per layer — the residual stream's moments, LN1's
 * input and output spread and gain, the channels of largest mean |x| ("massive activations",
 * Sun et al. 2024), the block's gradient norm — and the article's claims checked on the real
 * stream: each token's LN output before the affine has mean 0 and std 1, LN keeps the order of a
 * token's values, and how often the gain γ reorders them after it.
 *
 * @module
 */
import type { Floats } from "../kernels/types.ts";
import type { CharLM } from "./lm.ts";

/** ResidMoments of a tensor. */
export interface ResidMoments {
  /** mean */
  mean: number;
  /** standard deviation (population) */
  std: number;
  /** root mean square */
  rms: number;
  /** largest |x| */
  max_abs: number;
}

/** One block of one sequence. */
export interface LayerTrace {
  /** block index, input side first */
  layer: number;
  /** the residual stream entering the block (hidden state `layer`) */
  resid: ResidMoments;
  /** LN1 of a block that normalizes its input (pre-LN): mean per-token std in and out, ‖γ‖ */
  ln1: { in_std: number; out_std: number; gain_l2: number } | null;
  /** the channels of largest mean |x| over the sequence's tokens: [channel, mean |x|] */
  top_channels: [number, number][];
  /** ‖∂L/∂θ‖ over all the block's parameters */
  grad_l2: number;
}

/** One sequence's record (`trace`'s NDJSON line). */
export interface SequenceTrace {
  /** "sequence" */
  type: "sequence";
  /** 0, 1, … in input order */
  index: number;
  /** its token ids */
  ids: number[];
  /** its length T */
  tokens: number;
  /** mean next-token cross-entropy (null for a one-token sequence: nothing to predict) */
  loss: number | null;
  /** one entry per block */
  layers: LayerTrace[];
}

/** The article's claims, checked over every token of every LN1 (pre-LN blocks). */
export interface LnChecks {
  /** (token, layer) pairs checked */
  tokens: number;
  /** largest |mean| of a token's LN output before the affine */
  max_mean_dev: number;
  /** largest |std − 1| of a token's LN output before the affine */
  max_std_dev: number;
  /** largest |std − √(σ²/(σ² + ε))|: the deviation ε does not explain (float32 rounding) */
  max_std_dev_beyond_eps: number;
  /** tokens whose LN output before the affine keeps the order of their input values */
  order_kept: number;
  /** tokens whose values the affine γ·x̂ + β puts in another order than the input's */
  reordered_by_gain: number;
  /** mean Spearman correlation of a token's input and its LN output after the affine */
  spearman_after_gain: number;
}

/** What `Tracer.summary` gives. */
export interface TraceSummary {
  /** "summary" */
  type: "summary";
  /** sequences traced */
  sequences: number;
  /** tokens traced */
  tokens: number;
  /** mean next-token loss over every predicted token */
  loss: number | null;
  /** per block: the residual's mean std and the channels of largest mean |x| over all tokens */
  layers: { layer: number; resid_std: number; top_channels: [number, number][] }[];
  /** the LN claims */
  ln_checks: LnChecks;
}

/**
 * One sequence's share of the summary: what `Tracer#measure` gives and `Tracer#add` merges
 * (in sequence order, so the summary does not depend on which thread measured what).
 */
export interface TracePart {
  /** the sequence's tokens */
  tokens: number;
  /** its mean next-token loss (null: one token, nothing predicted) */
  loss: number | null;
  /** Σ|x| per layer and channel of the residual entering each block, [L·C] */
  absSum: Float64Array;
  /** per layer: the residual's std × tokens */
  stdSum: Float64Array;
  /** per layer: LN1's mean input std × tokens (0 without an input norm) */
  lnInSum: Float64Array;
  /** the LN claims over the sequence's tokens */
  checks: {
    tokens: number;
    maxMean: number;
    maxStd: number;
    maxEps: number;
    kept: number;
    reordered: number;
    spearman: number;
  };
}

/** Options of a `Tracer`. */
export interface TraceOptions {
  /** channels listed per layer (default 5) */
  top?: number;
}

/**
 * Traces sequences through a model and accumulates the summary.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { CharLM } from "./lm.ts";
 * const lm = new CharLM({ vocab: 5, block: 8, nLayer: 2, nHead: 2, nEmbd: 8, placement: "pre" });
 * lm.init({ scheme: "gpt2", seed: 1 });
 * const t = new Tracer(lm);
 * const r = t.trace(Int32Array.of(1, 2, 3, 4), 0);
 * assert(r.layers.length === 2 && r.loss! > 0 && t.summary().ln_checks.order_kept === 8);
 * ```
 */
export class Tracer {
  readonly #lm: CharLM;
  readonly #top: number;
  #sequences = 0;
  #tokens = 0;
  #lossSum = 0;
  #predicted = 0;
  #absSum: Float64Array[];
  #stdSum: Float64Array;
  #lnInSum: Float64Array;
  #checks = { tokens: 0, maxMean: 0, maxStd: 0, maxEps: 0, kept: 0, reordered: 0, spearman: 0 };

  /** A tracer of `lm` (its gradients are used as scratch). */
  constructor(lm: CharLM, options: TraceOptions = {}) {
    this.#lm = lm;
    this.#top = options.top ?? 5;
    const { nLayer: L, nEmbd: C } = lm.gpt.config;
    this.#absSum = Array.from({ length: L }, () => new Float64Array(C));
    this.#stdSum = new Float64Array(L);
    this.#lnInSum = new Float64Array(L);
  }

  /**
   * Traces one sequence (its ids, at most the model's context): forward, the next-token loss
   * and its backward; its record, and its share added to the summary. With `logits` ([T, V])
   * and `hidden` ([L + 1, T, C]: the embeddings, then each block's output) those are written
   * too.
   */
  trace(
    ids: Int32Array,
    index: number,
    out: { logits?: Float32Array; hidden?: Float32Array } = {},
  ): SequenceTrace {
    const { record, part } = this.measure(ids, index, out);
    this.add(part);
    return record;
  }

  /**
   * `trace` without the summary: the record and the sequence's share of the summary, for
   * `add` (in another thread, possibly: a worker measures, the main thread adds in order).
   *
   * @example
   * ```ts
   * import { assert, assertEquals } from "@std/assert";
   * import { CharLM } from "./lm.ts";
   * const lm = new CharLM({ vocab: 5, block: 8, nLayer: 2, nHead: 2, nEmbd: 8, placement: "pre" });
   * lm.init({ scheme: "gpt2", seed: 1 });
   * const a = new Tracer(lm), b = new Tracer(lm);
   * const { record, part } = a.measure(Int32Array.of(1, 2, 3), 0);
   * b.add(part);
   * assertEquals(record, new Tracer(lm).trace(Int32Array.of(1, 2, 3), 0));
   * assert(b.summary().tokens === 3 && a.summary().tokens === 0);
   * ```
   */
  measure(
    ids: Int32Array,
    index: number,
    out: { logits?: Float32Array; hidden?: Float32Array } = {},
  ): { record: SequenceTrace; part: TracePart } {
    const lm = this.#lm, gpt = lm.gpt, { nLayer: L, nEmbd: C } = gpt.config;
    const T = ids.length;
    const y = Int32Array.from(ids, (_, i) => (i + 1 < T ? ids[i + 1] : -1));
    const part: TracePart = {
      tokens: T,
      loss: null,
      absSum: new Float64Array(L * C),
      stdSum: new Float64Array(L),
      lnInSum: new Float64Array(L),
      checks: { tokens: 0, maxMean: 0, maxStd: 0, maxEps: 0, kept: 0, reordered: 0, spearman: 0 },
    };
    // hidden state 0: the embeddings the model sums
    const emb = new Float32Array(T * C);
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < C; c++) emb[t * C + c] = lm.wte[ids[t] * C + c] + lm.wpe[t * C + c];
    }
    if (out.hidden) out.hidden.set(emb, 0);
    // each block's statistics as its forward ends (the only moment its activations are all
    // there when they are kept for one block at a time)
    const layers: LayerTrace[] = [];
    gpt.onBlockForward = (l) => {
      const resid: Floats = l === 0 ? emb : gpt.activation(l - 1, "h");
      const abs = part.absSum.subarray(l * C, (l + 1) * C);
      let s = 0, sq = 0, mx = 0;
      for (let i = 0; i < T * C; i++) {
        const v = resid[i], a = Math.abs(v);
        s += v;
        sq += v * v;
        abs[i % C] += a;
        if (a > mx) mx = a;
      }
      const n = T * C, mean = s / n;
      const moments = {
        mean,
        std: Math.sqrt(Math.max(0, sq / n - mean * mean)),
        rms: Math.sqrt(sq / n),
        max_abs: mx,
      };
      part.stdSum[l] = moments.std * T;
      const ln1 = this.#ln1(l, resid, T, part.checks);
      if (ln1 !== null) part.lnInSum[l] = ln1.in_std * T;
      layers[l] = {
        layer: l,
        resid: moments,
        ln1,
        top_channels: topChannels(abs, T, this.#top),
        grad_l2: 0,
      };
    };
    // each block's ‖∂L/∂θ‖², read as its backward completes (the only moment with "block")
    gpt.onBlockGrad = (l) => {
      const g = gpt.blockGrads(l);
      layers[l].grad_l2 = Math.sqrt(gpt.kernels.sumSq(g, g.length));
    };
    let loss: number;
    try {
      lm.zeroGrad();
      loss = lm.lossAndGrad(ids, y, 1, T, undefined, out.logits);
    } finally {
      gpt.onBlockForward = null;
      gpt.onBlockGrad = null;
    }
    if (out.hidden) {
      for (let l = 1; l < L; l++) out.hidden.set(gpt.activation(l - 1, "h"), l * T * C);
    }
    if (out.hidden) out.hidden.set(gpt.activation(L - 1, "h"), L * T * C);
    if (T > 1) part.loss = loss;
    const record: SequenceTrace = {
      type: "sequence",
      index,
      ids: Array.from(ids),
      tokens: T,
      loss: T > 1 ? loss : null,
      layers,
    };
    return { record, part };
  }

  /** Adds a sequence's share (from `measure`, here or in another thread) to the summary. */
  add(part: TracePart): void {
    const C = this.#lm.gpt.config.nEmbd, T = part.tokens, ck = this.#checks, p = part.checks;
    if (part.absSum.length !== this.#absSum.length * C) {
      throw new RangeError("a trace part of another model's shape");
    }
    this.#absSum.forEach((a, l) => {
      for (let c = 0; c < C; c++) a[c] += part.absSum[l * C + c];
    });
    for (let l = 0; l < this.#stdSum.length; l++) {
      this.#stdSum[l] += part.stdSum[l];
      this.#lnInSum[l] += part.lnInSum[l];
    }
    ck.tokens += p.tokens;
    ck.maxMean = Math.max(ck.maxMean, p.maxMean);
    ck.maxStd = Math.max(ck.maxStd, p.maxStd);
    ck.maxEps = Math.max(ck.maxEps, p.maxEps);
    ck.kept += p.kept;
    ck.reordered += p.reordered;
    ck.spearman += p.spearman;
    this.#sequences++;
    this.#tokens += T;
    if (part.loss !== null) {
      this.#lossSum += part.loss * (T - 1);
      this.#predicted += T - 1;
    }
  }

  /** LN1's spread in and out and its gain, and the claims, for a block that normalizes its input. */
  #ln1(l: number, resid: Floats, T: number, ck: TracePart["checks"]): LayerTrace["ln1"] {
    const gpt = this.#lm.gpt, C = gpt.config.nEmbd;
    let out: Floats;
    try {
      out = gpt.activation(l, "ln1_out");
    } catch {
      return null; // a block that normalizes the residual sum instead (post-LN)
    }
    const g = gpt.param(`blocks.${l}.ln1_g`);
    const b = gpt.config.norm === "rms" ? null : gpt.param(`blocks.${l}.ln1_b`);
    let gain = 0, gmax = 0;
    for (let c = 0; c < C; c++) {
      gain += g[c] * g[c];
      gmax = Math.max(gmax, Math.abs(g[c]));
    }
    // channels whose γ is too small to undo the affine exactly are left out of the mean/std check
    const usable: number[] = [];
    for (let c = 0; c < C; c++) if (Math.abs(g[c]) >= 1e-3 * gmax) usable.push(c);
    const layer = gpt.config.norm === "layer", eps = gpt.config.eps;
    // DyT normalizes nothing: its spread and gain are reported, the claims are LayerNorm's
    const checks = gpt.config.norm !== "dyt";
    const xhat = new Float64Array(C), order = new Uint32Array(C), keys = sortScratch(C);
    const rx = new Float64Array(C), ry = new Float64Array(C);
    let inStd = 0, outStd = 0;
    for (let t = 0; t < T; t++) {
      const x = resid.subarray(t * C, (t + 1) * C), y = out.subarray(t * C, (t + 1) * C);
      const sdx = stdOf(x);
      inStd += sdx;
      outStd += stdOf(y);
      if (!checks) continue;
      for (let c = 0; c < C; c++) xhat[c] = (y[c] - (b === null ? 0 : b[c])) / g[c];
      // mean 0 (LayerNorm) and std 1 before the affine, over the channels with a usable γ
      let s = 0, sq = 0;
      for (const c of usable) {
        s += xhat[c];
        sq += xhat[c] * xhat[c];
      }
      const m = s / usable.length, sd = Math.sqrt(Math.max(0, sq / usable.length - m * m));
      if (layer) ck.maxMean = Math.max(ck.maxMean, Math.abs(m));
      const spread = layer ? sd : Math.sqrt(sq / usable.length);
      ck.maxStd = Math.max(ck.maxStd, Math.abs(spread - 1));
      // what ε predicts: x̂ = (x − μ)/√(σ² + ε) has std √(σ²/(σ² + ε)) (RMSNorm: mean(x²))
      const v = layer ? sdx ** 2 : meanSq(x);
      ck.maxEps = Math.max(ck.maxEps, Math.abs(spread - Math.sqrt(v / (v + eps))));
      // the order of the input's values: kept by x̂ (sorted by x, x̂ never falls)
      sortOrder(x, order, keys);
      let kept = true;
      for (let k = 1; k < C && kept; k++) {
        const a = order[k - 1], z = order[k];
        if (x[a] !== x[z] && xhat[a] > xhat[z]) kept = false;
      }
      if (kept) ck.kept++;
      ranksOf(x, order, rx);
      sortOrder(y, order, keys);
      ranksOf(y, order, ry);
      const rho = pearson(rx, ry);
      ck.spearman += rho;
      if (rho < 1) ck.reordered++;
      ck.tokens++;
    }
    return { in_std: inStd / T, out_std: outStd / T, gain_l2: Math.sqrt(gain) };
  }

  /**
   * Mean |x| of each channel of the residual stream entering each block, over every token so
   * far ([layer][channel]), and each block's mean LN1 input std (NaN without an input norm).
   */
  channelMeans(): { absMean: Float64Array[]; lnInStd: number[] } {
    const n = Math.max(1, this.#tokens), pre = this.#lnInSum.some((v) => v > 0);
    return {
      absMean: this.#absSum.map((a) => a.map((v) => v / n)),
      lnInStd: Array.from(this.#lnInSum, (v) => (pre ? v / n : NaN)),
    };
  }

  /** The summary over every sequence traced so far. */
  summary(): TraceSummary {
    const { nLayer: L } = this.#lm.gpt.config, ck = this.#checks, n = this.#tokens;
    return {
      type: "summary",
      sequences: this.#sequences,
      tokens: n,
      loss: this.#predicted > 0 ? this.#lossSum / this.#predicted : null,
      layers: Array.from({ length: L }, (_, l) => ({
        layer: l,
        resid_std: n > 0 ? this.#stdSum[l] / n : 0,
        top_channels: topChannels(this.#absSum[l], n, this.#top),
      })),
      ln_checks: {
        tokens: ck.tokens,
        max_mean_dev: ck.maxMean,
        max_std_dev: ck.maxStd,
        max_std_dev_beyond_eps: ck.maxEps,
        order_kept: ck.kept,
        reordered_by_gain: ck.reordered,
        spearman_after_gain: ck.tokens > 0 ? ck.spearman / ck.tokens : 1,
      },
    };
  }
}

/** The `k` channels of largest Σ|x| / n, largest first (ties: the lower channel). */
function topChannels(abs: Float64Array, n: number, k: number): [number, number][] {
  if (n === 0) return [];
  const idx = Array.from(abs.keys()).sort((a, b) => abs[b] - abs[a] || a - b);
  return idx.slice(0, k).map((c) => [c, n > 0 ? abs[c] / n : 0]);
}

function meanSq(x: Floats): number {
  let sq = 0;
  for (let i = 0; i < x.length; i++) sq += x[i] * x[i];
  return sq / x.length;
}

function stdOf(x: Floats): number {
  let s = 0, sq = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i];
    sq += x[i] * x[i];
  }
  const m = s / x.length;
  return Math.sqrt(Math.max(0, sq / x.length - m * m));
}

/** Pearson's correlation of two rank vectors: Spearman's ρ (1 when both are constant). */
function pearson(ra: Float64Array, rb: Float64Array): number {
  const n = ra.length, mean = (n + 1) / 2;
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < n; i++) {
    num += (ra[i] - mean) * (rb[i] - mean);
    da += (ra[i] - mean) ** 2;
    db += (rb[i] - mean) ** 2;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : 1;
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);

/** Buffers of `sortOrder` for n values. */
interface SortScratch {
  k: Uint32Array;
  k2: Uint32Array;
  i2: Uint32Array;
  at: Uint32Array;
}

function sortScratch(n: number): SortScratch {
  return {
    k: new Uint32Array(n),
    k2: new Uint32Array(n),
    i2: new Uint32Array(n),
    at: new Uint32Array(256),
  };
}

/**
 * The indices of `v` in ascending order of its values (as float32), into `order`, equal values
 * in index order: each value's float32 bits made to sort as unsigned numbers, then a stable
 * least-significant-byte radix sort of (key, index) — four passes over n, none that all keys
 * skip.
 */
function sortOrder(v: Floats, order: Uint32Array, s: SortScratch) {
  const n = v.length, at = s.at;
  let k = s.k, k2 = s.k2, ix = order, ix2 = s.i2;
  for (let i = 0; i < n; i++) {
    k[i] = sortKey(v[i]);
    ix[i] = i;
  }
  for (let shift = 0; shift < 32; shift += 8) {
    at.fill(0);
    for (let i = 0; i < n; i++) at[(k[i] >>> shift) & 255]++;
    if (at[(k[0] >>> shift) & 255] === n) continue; // every key has this byte: nothing moves
    for (let b = 0, sum = 0; b < 256; b++) {
      const c = at[b];
      at[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const key = k[i], p = at[(key >>> shift) & 255]++;
      k2[p] = key;
      ix2[p] = ix[i];
    }
    [k, k2, ix, ix2] = [k2, k, ix2, ix];
  }
  if (ix !== order) order.set(ix.subarray(0, n));
}

/** float32 bits of `v` made to sort as unsigned numbers (−0 before +0, as the bits are). */
function sortKey(v: number): number {
  f32[0] = v;
  const u = u32[0];
  return u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
}

/** Ranks (1 … n, ties averaged) of `v` from its ascending `order`, into `r`. */
function ranksOf(v: Floats, order: Uint32Array, r: Float64Array) {
  const n = v.length;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && v[order[j + 1]] === v[order[i]]) j++;
    for (let k = i; k <= j; k++) r[order[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
}
