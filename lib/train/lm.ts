/**
 * A character-level GPT for `train`: token and position embeddings, the GPT stack (pre-LN or
 * post-LN), and an LM head tied to the token embedding, with mean cross-entropy on
 * next-token targets.
 *
 * @module
 */
import { GPT } from "../model/gpt.ts";
import { type GPTConfig, resolveConfig } from "../model/config.ts";
import { paramLayout, type ParamSpec } from "../model/params.ts";
import { Arena } from "../kernels/arena.ts";
import { Rng } from "../model/rng.ts";
import type { Floats } from "../kernels/types.ts";

/** The language model's shape: the stack's config plus the vocabulary and the block. */
export interface CharLMConfig extends GPTConfig {
  /** vocabulary size V */
  vocab: number;
  /** longest sequence T (rows of `wpe`) */
  block: number;
  /** the LM head is `wte` (default true); false: a separate `lm_head [V,C]` after `wpe` */
  tiedHead?: boolean;
}

/** How a model in another thread reaches a model's parameters (see `CharLM#share`). */
export interface CharLMShare {
  /** the arena's memory (wasm and blas backends) */
  memory?: WebAssembly.Memory;
  /** byte offset of the parameters in it */
  paramsAt?: number;
  /** the parameters' shared buffer (ts backend, `shared: true`) */
  params?: SharedArrayBuffer;
}

/**
 * Where each tensor of a `CharLM` lives in its flat buffers: the stack's layout, then
 * `wte [V,C]`, then `wpe [T,C]`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const l = lmLayout({ vocab: 5, block: 4, nLayer: 1, nHead: 1, nEmbd: 8, placement: "pre" });
 * assert(l.at(-1)!.name === "wpe" && l.at(-1)!.size === 32);
 * ```
 */
export function lmLayout(config: CharLMConfig): ParamSpec[] {
  const c = resolveConfig(config), stack = paramLayout(c), C = c.nEmbd;
  const { vocab: V, block: T } = config;
  const S = stack.reduce((a, s) => a + s.size, 0);
  const out = [
    ...stack,
    { name: "wte", offset: S, shape: [V, C], size: V * C },
    { name: "wpe", offset: S + V * C, shape: [T, C], size: T * C },
  ];
  if (config.tiedHead === false) {
    out.push({ name: "lm_head", offset: S + (V + T) * C, shape: [V, C], size: V * C });
  }
  return out;
}

/**
 * wte [V,C], wpe [T,C] → GPT stack → logits = y·wteᵀ [B,T,V] → mean cross-entropy.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const lm = new CharLM({
 *   vocab: 5, block: 4, nLayer: 1, nHead: 1, nEmbd: 8, placement: "pre", dtype: "float64",
 * });
 * lm.init({ scheme: "gpt2", seed: 1 });
 * const x = Int32Array.of(0, 1, 2, 3), y = Int32Array.of(1, 2, 3, 4); // [B=1, T=4]
 * const loss = lm.lossAndGrad(x, y, 1, 4);
 * assert(Math.abs(loss - Math.log(5)) < 0.1); // near uniform at init
 * ```
 */
export class CharLM {
  /** the stack */
  readonly gpt: GPT;
  /** every parameter in one flat buffer: the stack's (in `gpt.layout`), then wte, then wpe */
  readonly params: Floats;
  /** every gradient, in the layout of `params` (`gradients: "block"`: the stack's block buffer) */
  readonly grads: Floats;
  /** where each tensor of `params` lives: the stack's, then `wte`, then `wpe` */
  readonly layout: ParamSpec[];
  /** token embedding [V,C], also the LM head */
  readonly wte: Floats;
  /** position embedding [T,C] */
  readonly wpe: Floats;
  /** ∂L/∂wte, accumulated by `lossAndGrad` */
  readonly dwte: Floats;
  /** the LM head [V,C]: `wte` itself when tied (the default), else `lm_head` */
  readonly head: Floats;
  /** ∂L/∂head (`dwte` when tied) */
  readonly dhead: Floats;
  /** ∂L/∂wpe */
  readonly dwpe: Floats;
  /** vocabulary size */
  readonly vocab: number;
  /** longest sequence */
  readonly block: number;
  #emb: Floats;
  #logits: Floats;
  #dy: Floats;
  #out: Floats; // the stack's output of the last forward
  #cap = 0;

  /** "full", or "block": the stack keeps one block's gradients, no embedding gradients */
  readonly gradients: "full" | "block";

  /**
   * A new model with all parameters zero (call `init`), or, with `share` (from another
   * model's `share()`, possibly in another worker), one that uses that model's parameters in
   * place and has gradients and activations of its own. With `gradients: "block"` a backward
   * yields each block's gradients in turn (`gpt.onBlockGrad`, `gpt.blockGrads`) and none of
   * the embeddings' or the head's: per-block statistics of real models without a full gradient
   * (see `GPT`); `activations: "block"` recomputes each block's activations in the backward.
   */
  constructor(
    config: CharLMConfig,
    share?: CharLMShare,
    options: { gradients?: "full" | "block"; activations?: "all" | "block" } = {},
  ) {
    const mode = this.gradients = options.gradients ?? "full";
    const acts = options.activations ? { activations: options.activations } : {};
    const { vocab: V, block: T } = config;
    if (!(Number.isInteger(V) && V > 0 && Number.isInteger(T) && T > 0)) {
      throw new RangeError(`vocab and block must be positive integers, got ${V} and ${T}`);
    }
    const c = resolveConfig(config);
    this.layout = lmLayout(config);
    const last = this.layout[this.layout.length - 1], P = last.offset + last.size;
    if (c.backend === "ts") {
      const bytes = c.dtype === "float64" ? 8 : 4;
      const make = () => (c.shared ? new SharedArrayBuffer(P * bytes) : new ArrayBuffer(P * bytes));
      const pBuf = share?.params ?? make();
      const view = (b: ArrayBufferLike) =>
        c.dtype === "float64" ? new Float64Array(b, 0, P) : new Float32Array(b, 0, P);
      this.params = view(pBuf);
      if (mode === "block") {
        this.gpt = new GPT(config, { params: pBuf, gradients: "block", ...acts });
        this.grads = this.gpt.grads;
      } else {
        const gBuf = make();
        this.gpt = new GPT(config, { params: pBuf, grads: gBuf, ...acts });
        this.grads = view(gBuf);
      }
    } else {
      const arena = share?.memory ? new Arena({ memory: share.memory }) : new Arena({
        bytes: (mode === "block" ? P * 4 : 2 * P * 4) + (1 << 20),
      });
      const params = share?.paramsAt !== undefined ? arena.f32(share.paramsAt, P) : arena.alloc(P);
      this.params = params;
      if (mode === "block") {
        this.gpt = new GPT(config, {
          arena,
          paramsAt: params.byteOffset,
          gradients: "block",
          ...acts,
        });
        this.grads = this.gpt.grads;
      } else {
        const grads = arena.alloc(P);
        this.gpt = new GPT(config, {
          arena,
          paramsAt: params.byteOffset,
          gradsAt: grads.byteOffset,
          ...acts,
        });
        this.grads = grads;
      }
    }
    this.vocab = V;
    this.block = T;
    // the layout ends with wte, wpe (and lm_head when untied)
    const spec = (name: string) => this.layout.find((s) => s.name === name)!;
    const at = (a: Floats, s: ParamSpec) => a.subarray(s.offset, s.offset + s.size);
    const te = spec("wte"), pe = spec("wpe"), he = config.tiedHead === false ? spec("lm_head") : te;
    this.wte = at(this.params, te);
    this.wpe = at(this.params, pe);
    this.head = at(this.params, he);
    const g = mode === "block" ? this.grads.subarray(0, 0) : this.grads;
    this.dwte = mode === "block" ? g : at(g, te);
    this.dwpe = mode === "block" ? g : at(g, pe);
    this.dhead = mode === "block" ? g : at(g, he);
    this.#emb =
      this.#logits =
      this.#dy =
      this.#out =
        this.#alloc(0);
  }

  /**
   * What another thread needs to build a model on these parameters (post it to a worker and
   * pass it to `new CharLM(config, share)` there): the wasm/blas arena's memory and offset,
   * or the shared buffer of a ts model built with `shared: true`.
   *
   * @example
   * ```ts
   * import { assert } from "@std/assert";
   * const config = { vocab: 3, block: 2, nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" as const };
   * const a = new CharLM(config);
   * a.init({ scheme: "gpt2", seed: 1 });
   * const b = new CharLM(config, a.share());
   * assert(b.wte[0] === a.wte[0] && b.grads !== a.grads);
   * ```
   */
  share(): CharLMShare {
    const arena = this.gpt.arena;
    if (arena !== null) return { memory: arena.memory, paramsAt: this.params.byteOffset };
    if (!(this.params.buffer instanceof SharedArrayBuffer)) {
      throw new TypeError("a ts model shares its parameters only when built with shared: true");
    }
    return { params: this.params.buffer };
  }

  #alloc(n: number): Floats {
    const arena = this.gpt.arena;
    if (arena !== null) return arena.alloc(n);
    return this.gpt.config.dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
  }

  /**
   * GPT-2 or Xavier init of the stack (as `GPT.init`), and the embeddings N(0, 0.02²).
   *
   * @example
   * ```ts
   * import { assert } from "@std/assert";
   * const lm = new CharLM({ vocab: 3, block: 2, nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" });
   * lm.init({ scheme: "xavier", seed: 2 });
   * assert(lm.wte.some((v) => v !== 0));
   * ```
   */
  init(opts: { scheme: "gpt2" | "xavier"; seed: number }): void {
    this.gpt.init(opts);
    const rng = new Rng((opts.seed ^ 0x3e3b) >>> 0);
    rng.fillNormal(this.wte, 0.02);
    rng.fillNormal(this.wpe, 0.02);
  }

  /** Sets every gradient (stack and embeddings) to zero. */
  zeroGrad(): void {
    this.gpt.zeroGrad();
    this.dwte.fill(0);
    this.dwpe.fill(0);
  }

  #ensure(BT: number) {
    if (BT <= this.#cap) return;
    const C = this.gpt.config.nEmbd;
    this.#emb = this.#alloc(BT * C);
    this.#dy = this.#alloc(BT * C);
    this.#logits = this.#alloc(BT * this.vocab);
    this.#cap = BT;
  }

  #check(x: Int32Array, y: Int32Array, B: number, T: number) {
    if (!(Number.isInteger(B) && B > 0 && Number.isInteger(T) && T > 0 && T <= this.block)) {
      throw new RangeError(`need B > 0 and 0 < T ≤ ${this.block}, got B=${B}, T=${T}`);
    }
    if (x.length < B * T || y.length < B * T) throw new RangeError(`x and y need B·T ids`);
    for (let i = 0; i < B * T; i++) {
      // a target of −1 is no target (the last token of a sequence, as PyTorch's ignore_index)
      if (!(x[i] >= 0 && x[i] < this.vocab && y[i] >= -1 && y[i] < this.vocab)) {
        throw new RangeError(`id ${i} is outside the vocabulary of ${this.vocab}`);
      }
    }
  }

  /**
   * Forward pass to the probabilities (in the logits buffer; the logits themselves copied into
   * `logits` first when given); returns the mean loss over the targets other than −1.
   */
  #forward(x: Int32Array, y: Int32Array, B: number, T: number, logits?: Floats): number {
    this.#check(x, y, B, T);
    const C = this.gpt.config.nEmbd, V = this.vocab, BT = B * T, k = this.gpt.kernels;
    this.#ensure(BT);
    const emb = this.#emb, wte = this.wte, wpe = this.wpe;
    // emb [BT,C] = wte[x] + wpe[t]
    for (let i = 0; i < BT; i++) {
      const o = i * C, ot = x[i] * C, op = (i % T) * C;
      for (let c = 0; c < C; c++) emb[o + c] = wte[ot + c] + wpe[op + c];
    }
    const h = this.#out = this.gpt.forward(emb.subarray(0, BT * C), B, T);
    // logits [BT,V] = h·headᵀ: the input gradient of out = inp·head (head as [V,C]), dout = h
    const z = this.#logits.subarray(0, BT * V);
    z.fill(0);
    k.matmulBackward(z, null, null, h, z, this.head, BT, V, C);
    if (logits) logits.set(z);
    k.softmaxForward(z, z, BT, V);
    let L = 0, n = 0;
    for (let i = 0; i < BT; i++) {
      if (y[i] < 0) continue;
      L -= Math.log(z[i * V + y[i]]);
      n++;
    }
    return n === 0 ? 0 : L / n;
  }

  /**
   * Mean cross-entropy of next-token targets `y [B,T]` given `x [B,T]`, without gradients.
   *
   * @example
   * ```ts
   * import { assert } from "@std/assert";
   * const lm = new CharLM({
   *   vocab: 4, block: 2, nLayer: 1, nHead: 1, nEmbd: 4, placement: "post", dtype: "float64",
   * });
   * lm.init({ scheme: "gpt2", seed: 3 });
   * assert(lm.loss(Int32Array.of(0, 1), Int32Array.of(1, 2), 1, 2) > 0);
   * ```
   */
  loss(x: Int32Array, y: Int32Array, B: number, T: number, logits?: Floats): number {
    return this.#forward(x, y, B, T, logits);
  }

  /**
   * The next-token distribution after `x [1,T]` (T ≤ block), into `out [V]`.
   *
   * @example
   * ```ts
   * import { assert } from "@std/assert";
   * const lm = new CharLM({ vocab: 4, block: 3, nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" });
   * lm.init({ scheme: "gpt2", seed: 3 });
   * const p = new Float64Array(4);
   * lm.nextProbs(Int32Array.of(1, 2), p);
   * assert(Math.abs(p.reduce((a, b) => a + b) - 1) < 1e-6);
   * ```
   */
  nextProbs(x: Int32Array, out: Float32Array | Float64Array): void {
    const T = x.length, V = this.vocab;
    this.#forward(x, x, 1, T);
    const z = this.#logits;
    for (let v = 0; v < V; v++) out[v] = z[(T - 1) * V + v];
  }

  /**
   * Mean cross-entropy as `loss`, and its gradients added into the stack's gradients,
   * `dwte` (head and embedding) and `dwpe`. The gradient is that of the summed loss divided
   * by `over` tokens (default: the targets other than −1, the mean): a shard of a larger batch
   * passes the batch's token count, so the shards' gradients add up to the batch mean's. With
   * `logits [B·T, V]`, the logits are copied there.
   */
  lossAndGrad(
    x: Int32Array,
    y: Int32Array,
    B: number,
    T: number,
    over?: number,
    logits?: Floats,
  ): number {
    const L = this.#forward(x, y, B, T, logits);
    if (over === undefined) {
      over = 0;
      for (let i = 0; i < B * T; i++) if (y[i] >= 0) over++;
    }
    const C = this.gpt.config.nEmbd, V = this.vocab, BT = B * T, k = this.gpt.kernels;
    const z = this.#logits.subarray(0, BT * V), h = this.#out;
    // dlogits = (p − onehot)/over, in place; 0 where there is no target
    const inv = over > 0 ? 1 / over : 0;
    for (let i = 0; i < BT; i++) {
      if (y[i] < 0) {
        z.fill(0, i * V, (i + 1) * V);
        continue;
      }
      z[i * V + y[i]] -= 1;
      for (let v = 0; v < V; v++) z[i * V + v] *= inv;
    }
    // dh [BT,C] = dlogits·head; dhead += dlogitsᵀ·h
    const dy = this.#dy.subarray(0, BT * C);
    k.matmulForward(dy, z, this.head, null, BT, V, C);
    if (this.gradients === "block") {
      // the stack's blocks only (read in gpt.onBlockGrad)
      this.gpt.backward(dy);
      return L;
    }
    k.matmulBackward(null, this.dhead, null, h, z, this.head, BT, V, C);
    const dx = this.gpt.backward(dy);
    // the embeddings' gradient
    for (let i = 0; i < BT; i++) {
      const o = i * C, ot = x[i] * C, op = (i % T) * C;
      for (let c = 0; c < C; c++) {
        const g = dx[o + c];
        this.dwte[ot + c] += g;
        this.dwpe[op + c] += g;
      }
    }
    return L;
  }
}
