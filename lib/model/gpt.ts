/**
 * A stack of GPT-2 blocks in either LayerNorm placement, with exact forward and
 * backward passes over one flat parameter buffer, and per-layer gradient
 * statistics.
 *
 * @module
 */
import type { Floats } from "../kernels/types.ts";
import { Arena } from "../kernels/arena.ts";
import { createKernels, type Kernels } from "../kernels/backend.ts";
import { type GPTConfig, resolveConfig, type ResolvedConfig } from "./config.ts";
import { BLOCK_PARAMS, type BlockParam, paramLayout, type ParamSpec } from "./params.ts";
import { Rng } from "./rng.ts";

/** Statistics of one gradient tensor. */
export interface GradStat {
  /** Frobenius norm */
  l2: number;
  /** l2 / sqrt(numel) */
  rms: number;
  /** largest |g| */
  max_abs: number;
  /** number of elements */
  numel: number;
}

/** One block's statistics, as in the golden `stack` files. */
export interface LayerStat {
  /** block index, 0 = input side */
  layer: number;
  /** per parameter (short names: `W_fc`, `ln1_g`, …) */
  grad: Record<BlockParam, GradStat>;
  /** ‖h_l‖₂ of the block's output (summed over every backward since zeroGrad) */
  h_l2: number;
  /** ‖∂L/∂h_l‖₂ (summed likewise) */
  dh_l2: number;
}

/** What `layerStats()` returns: the golden files' `layer_stats`, `dx_l2`, `ln_f_grad`. */
export interface StackStats {
  /** one entry per block, input side first */
  layer_stats: LayerStat[];
  /** ‖∂L/∂x‖₂ of the stack input */
  dx_l2: number;
  /** final LayerNorm gradients, when the stack has one */
  ln_f_grad?: { ln_f_g: GradStat; ln_f_b: GradStat };
}

/** Initialisation options for `GPT.init`. */
export interface InitOptions {
  /**
   * `gpt2`: weights N(0, 0.02²), `W_proj`/`W_proj2` N(0, (0.02/√(2L))²);
   * `xavier`: weights N(0, 2/(fan_in + fan_out)). Both: biases and betas 0, gammas 1.
   */
  scheme: "gpt2" | "xavier";
  /** seed of the `Rng` (mulberry32 + Marsaglia polar) that draws every weight in layout order */
  seed: number;
}

/** Views of one block's parameters (or gradients). */
type BlockViews = Record<BlockParam, Floats>;

/** One block's saved activations. */
interface Acts {
  ln1: Floats;
  mean1: Floats;
  rstd1: Floats;
  qkv: Floats;
  att: Floats;
  yh: Floats;
  attnOut: Floats;
  res1: Floats;
  ln2: Floats;
  mean2: Floats;
  rstd2: Floats;
  fc: Floats;
  gelu: Floats;
  mlpOut: Floats;
  res2: Floats;
}

/** Names accepted by `GPT.activation`. */
export type ActivationName =
  | "ln1_out"
  | "attn_out"
  | "x_mid"
  | "ln2_out"
  | "mlp_hidden"
  | "mlp_out"
  | "att"
  | "h";

/**
 * A GPT-2 stack: `L` blocks (ln1, attn, ln2, mlp) in pre-LN (`x + f(LN(x))`)
 * or post-LN (`LN(x + f(x))`) placement, with an optional final LayerNorm.
 * Parameters and gradients each live in one flat buffer with the layout of
 * `paramLayout`; matrices are `[in, out]`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const model = new GPT({ nLayer: 2, nHead: 2, nEmbd: 16, placement: "pre" });
 * model.init({ scheme: "gpt2", seed: 1 });
 * const B = 1, T = 4;
 * const x = new Float32Array(B * T * 16).map((_, i) => Math.sin(i));
 * const y = model.forward(x, B, T);
 * model.zeroGrad();
 * const dx = model.backward(y); // the gradient of ½‖y‖²
 * assert(dx.length === x.length && model.layerStats().layer_stats.length === 2);
 * ```
 */
export class GPT {
  /** the config with defaults filled in */
  readonly config: ResolvedConfig;
  /** name → offset and shape in the flat buffers */
  readonly layout: ParamSpec[];
  /** every parameter, in layout order */
  readonly params: Floats;
  #grads: Floats;
  #byName = new Map<string, ParamSpec>();
  #p: BlockViews[] = [];
  #g: BlockViews[] = [];
  #acts: Acts[] = [];
  #cap = 0; // tokens the activation buffers hold
  #capT = 0; // sequence length the attention buffers hold
  #B = 0;
  #T = 0;
  #x: Floats;
  #lnf: Floats;
  #meanf: Floats;
  #rstdf: Floats;
  // backward scratch
  #dA: Floats;
  #dB: Floats;
  #dC: Floats;
  #dyh: Floats;
  #dqkv: Floats;
  #dfc: Floats;
  #dgelu: Floats;
  #hSq: Float64Array;
  #dhSq: Float64Array;
  #dxSq = 0;
  #dy: Floats;
  /** the kernels of `config.backend` */
  readonly kernels: Kernels;
  /** the arena holding parameters, gradients and activations (`null` for the ts backend) */
  readonly arena: Arena | null;
  /**
   * Called after each block of a forward (`done` = 1 … L) and of a backward (L + 1 … 2L)
   * with `total` = 2L: progress within a long pass.
   */
  onBlock: ((done: number, total: number) => void) | null = null;

  /**
   * Builds the stack with all parameters zero (call `init`).
   *
   * `buffers` attaches to existing storage: for the ts backend, `params`/`grads` are buffers
   * whose start holds the tensors; for wasm and blas, `arena` is an arena to allocate from
   * (e.g. one attached in a worker to a model's memory), `paramsAt` the byte offset of
   * existing parameters in it (shared, not copied) and `gradsAt` that of a gradient buffer to
   * use instead of a new one. A `params` buffer given to wasm or blas is copied into the arena.
   */
  constructor(
    config: GPTConfig,
    buffers: {
      params?: ArrayBufferLike;
      grads?: ArrayBufferLike;
      arena?: Arena;
      paramsAt?: number;
      gradsAt?: number;
    } = {},
  ) {
    const c = this.config = resolveConfig(config);
    this.layout = paramLayout(c);
    const total = this.layout.reduce((a, s) => a + s.size, 0);
    const bytes = c.dtype === "float64" ? 8 : 4;
    if (c.backend === "ts") {
      this.arena = null;
      const buf = (given?: ArrayBufferLike): Floats => {
        if (given && given.byteLength < total * bytes) {
          throw new RangeError(`buffer holds ${given.byteLength} bytes, need ${total * bytes}`);
        }
        const b = given ??
          (c.shared ? new SharedArrayBuffer(total * bytes) : new ArrayBuffer(total * bytes));
        return c.dtype === "float64"
          ? new Float64Array(b, 0, total)
          : new Float32Array(b, 0, total);
      };
      this.params = buf(buffers.params);
      this.#grads = buf(buffers.grads);
    } else {
      // parameters and gradients first; activations are added when a batch size is known
      const arena = this.arena = buffers.arena ?? new Arena({ bytes: 2 * total * 4 + (1 << 20) });
      if (buffers.paramsAt !== undefined) {
        if (buffers.paramsAt % 4 !== 0 || buffers.paramsAt + total * 4 > arena.used) {
          throw new RangeError(
            `paramsAt ${buffers.paramsAt} is not a parameter block in the arena`,
          );
        }
        this.params = arena.f32(buffers.paramsAt, total);
      } else {
        this.params = arena.alloc(total);
        if (buffers.params) {
          if (buffers.params.byteLength < total * 4) {
            throw new RangeError(
              `buffer holds ${buffers.params.byteLength} bytes, need ${total * 4}`,
            );
          }
          this.params.set(new Float32Array(buffers.params, 0, total));
        }
      }
      this.#grads = buffers.gradsAt !== undefined
        ? arena.f32(buffers.gradsAt, total)
        : arena.alloc(total);
    }
    this.kernels = createKernels(c.backend, this.arena, c.blasLib);
    for (const s of this.layout) this.#byName.set(s.name, s);
    for (let l = 0; l < c.nLayer; l++) {
      const p = {} as BlockViews;
      for (const name of BLOCK_PARAMS) p[name] = this.param(`blocks.${l}.${name}`);
      this.#p.push(p);
    }
    this.#bindGrads();
    const none = this.#alloc(0);
    this.#x =
      this.#lnf =
      this.#meanf =
      this.#rstdf =
        none;
    this.#dA =
      this.#dB =
      this.#dC =
      this.#dyh =
      this.#dqkv =
      this.#dfc =
      this.#dgelu =
        none;
    this.#dy = none;
    this.#hSq = new Float64Array(c.nLayer);
    this.#dhSq = new Float64Array(c.nLayer);
  }

  #alloc(n: number): Floats {
    if (this.arena !== null) return this.arena.alloc(n);
    return this.config.dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
  }

  #spec(name: string): ParamSpec {
    const s = this.#byName.get(name);
    if (!s) throw new RangeError(`no parameter named '${name}'`);
    return s;
  }

  /** A view into the flat parameter buffer, e.g. `param("blocks.0.W_attn")`. */
  param(name: string): Floats {
    const s = this.#spec(name);
    return this.params.subarray(s.offset, s.offset + s.size);
  }

  /** every gradient, in the parameters' layout */
  get grads(): Floats {
    return this.#grads;
  }

  /**
   * Makes `buffer` the gradient buffer (the layout's length, this model's precision; in its
   * arena for wasm and blas): the next backward accumulates there. Workers point their model
   * at a shared ring buffer per batch this way, with no copy.
   */
  useGrads(buffer: Floats): void {
    const n = this.#grads.length;
    if (buffer.length !== n || buffer.constructor !== this.#grads.constructor) {
      throw new RangeError(`a gradient buffer holds ${n} ${this.config.dtype} numbers`);
    }
    if (this.arena !== null && Arena.of(buffer) !== this.arena) {
      throw new RangeError("the gradient buffer must live in the model's arena");
    }
    this.#grads = buffer;
    this.#bindGrads();
  }

  #bindGrads() {
    this.#g = [];
    for (let l = 0; l < this.config.nLayer; l++) {
      const g = {} as BlockViews;
      for (const name of BLOCK_PARAMS) g[name] = this.grad(`blocks.${l}.${name}`);
      this.#g.push(g);
    }
  }

  /** A view into the flat gradient buffer, same names as `param`. */
  grad(name: string): Floats {
    const s = this.#spec(name);
    return this.grads.subarray(s.offset, s.offset + s.size);
  }

  /** Draws every parameter, deterministically from `seed` (see `InitOptions`). */
  init(opts: InitOptions): void {
    const L = this.config.nLayer, rng = new Rng(opts.seed);
    if (opts.scheme !== "gpt2" && opts.scheme !== "xavier") {
      throw new RangeError(`init scheme must be "gpt2" or "xavier", got ${opts.scheme}`);
    }
    for (const s of this.layout) {
      const v = this.params.subarray(s.offset, s.offset + s.size);
      const short = s.name.slice(s.name.lastIndexOf(".") + 1);
      if (s.shape.length === 2) {
        const std = opts.scheme === "xavier"
          ? Math.sqrt(2 / (s.shape[0] + s.shape[1]))
          : short === "W_proj" || short === "W_proj2"
          ? 0.02 / Math.sqrt(2 * L)
          : 0.02;
        rng.fillNormal(v, std);
      } else {
        v.fill(short.endsWith("_g") ? 1 : 0);
      }
    }
  }

  /**
   * Bytes a model of `config` holds for a forward and backward pass of B sequences of T tokens:
   * parameters, gradients, activations and backward scratch (float32; the arena's per-buffer
   * alignment and the kernels' scratch included). `run` checks a stream fits the 4 GiB arena with
   * it before any worker starts.
   *
   * @example
   * ```ts
   * import { assert } from "@std/assert";
   * const c = { nLayer: 12, nHead: 12, nEmbd: 768, placement: "pre" as const };
   * assert(GPT.bytesFor(c, 4, 256).activations > 500e6); // GPT-2 at 1024 tokens: ~0.8 GB
   * ```
   */
  static bytesFor(
    config: GPTConfig,
    B: number,
    T: number,
  ): { params: number; activations: number } {
    const c = resolveConfig(config), C = c.nEmbd, BT = B * T;
    const params = paramLayout(c).reduce((a, s) => a + s.size, 0) * 4;
    // per layer: ln1, qkv, yh, attnOut, res1, ln2, fc, gelu, mlpOut, res2 (18C per token), two
    // means and rstds, att [B,NH,T,T]; then input, ln_f, and the backward scratch (16C + 2)
    const floats = c.nLayer * (BT * (18 * C + 4) + B * T * T * c.nHead) + BT * (16 * C + 2);
    const slack = (16 * c.nLayer + 16) * 64 + (2 << 20) + T * T * 4 + 24 * 4 * C;
    return { params, activations: floats * 4 + slack };
  }

  /**
   * Sizes activation buffers for B·T tokens (grown, never shrunk). All or nothing: a size the
   * memory cannot hold is a `RangeError` thrown before any buffer changes, so the model stays
   * usable at the sizes it had.
   */
  #ensure(B: number, T: number) {
    const c = this.config, C = c.nEmbd, BT = B * T;
    if (BT <= this.#cap && T <= this.#capT && B * T * T <= this.#cap * this.#capT) {
      return;
    }
    const cap = Math.max(BT, this.#cap), capT = Math.max(T, this.#capT);
    const attSize = Math.max(B * T * T, this.#cap * this.#capT) * c.nHead;
    const floats = c.nLayer * (cap * 18 * C + 4 * cap + attSize) + cap * 17 * C + 2 * cap;
    if (this.arena !== null) {
      const end = this.arena.used + floats * 4 + (16 * c.nLayer + 16) * 64;
      if (end > 2 ** 32) {
        throw new RangeError(
          `B·T = ${BT} tokens (T = ${T}) need ${(floats * 4 / 2 ** 20).toFixed(1)} MiB of ` +
            `activations; the model's WebAssembly memory holds at most 4096 MiB ` +
            `(${(this.arena.used / 2 ** 20).toFixed(1)} MiB in use): use fewer tokens per call`,
        );
      }
    }
    const a = (n: number) => this.#alloc(n);
    const acts: Acts[] = [];
    for (let l = 0; l < c.nLayer; l++) {
      acts.push({
        ln1: a(cap * C),
        mean1: a(cap),
        rstd1: a(cap),
        qkv: a(cap * 3 * C),
        att: a(attSize),
        yh: a(cap * C),
        attnOut: a(cap * C),
        res1: a(cap * C),
        ln2: a(cap * C),
        mean2: a(cap),
        rstd2: a(cap),
        fc: a(cap * 4 * C),
        gelu: a(cap * 4 * C),
        mlpOut: a(cap * C),
        res2: a(cap * C),
      });
    }
    const x = a(cap * C), lnf = a(cap * C), meanf = a(cap), rstdf = a(cap);
    const dA = a(cap * C), dB = a(cap * C), dC = a(cap * C), dyh = a(cap * C);
    const dqkv = a(cap * 3 * C), dfc = a(cap * 4 * C), dgelu = a(cap * 4 * C);
    const dy = this.arena === null ? this.#alloc(0) : a(cap * C);
    // every buffer is there: only now do they replace the old ones
    this.#acts = acts;
    [this.#x, this.#lnf, this.#meanf, this.#rstdf] = [x, lnf, meanf, rstdf];
    [this.#dA, this.#dB, this.#dC, this.#dyh] = [dA, dB, dC, dyh];
    [this.#dqkv, this.#dfc, this.#dgelu, this.#dy] = [dqkv, dfc, dgelu, dy];
    this.#cap = cap;
    this.#capT = capT;
  }

  /** The output of block l (a view valid until the next forward). */
  #h(l: number): Floats {
    const a = this.#acts[l];
    return this.config.placement === "pre" ? a.res2 : a.ln2;
  }

  /**
   * Forward pass: `x [B,T,C]` → `y [B,T,C]`. Returns a view into the model's
   * buffers, valid until the next forward; copy it to keep it.
   */
  forward(x: Floats, B: number, T: number): Floats {
    const c = this.config, C = c.nEmbd, BT = B * T, n = BT * C;
    if (!(Number.isInteger(B) && Number.isInteger(T) && B > 0 && T > 0)) {
      throw new RangeError(`B and T must be positive integers, got B=${B}, T=${T}`);
    }
    if (x.length < n) throw new RangeError(`x holds ${x.length} numbers, need B·T·C = ${n}`);
    this.#ensure(B, T);
    this.#B = B;
    this.#T = T;
    const input = this.#x.subarray(0, n);
    input.set(x.subarray(0, n));
    let h: Floats = input;
    for (let l = 0; l < c.nLayer; l++) {
      this.#blockForward(l, h, B, T);
      h = this.#h(l);
      this.onBlock?.(l + 1, 2 * c.nLayer);
    }
    if (!c.finalNorm) return h.subarray(0, n);
    const f = this.#lnf.subarray(0, n);
    this.kernels.layerNormForward(
      f,
      this.#meanf,
      this.#rstdf,
      h,
      this.param("ln_f_g"),
      this.param("ln_f_b"),
      BT,
      C,
      c.eps,
    );
    return f;
  }

  #blockForward(l: number, x: Floats, B: number, T: number) {
    const { nEmbd: C, nHead: NH, eps, causal } = this.config;
    const BT = B * T, n = BT * C, p = this.#p[l], a = this.#acts[l], k = this.kernels;
    if (this.config.placement === "pre") {
      k.layerNormForward(a.ln1, a.mean1, a.rstd1, x, p.ln1_g, p.ln1_b, BT, C, eps);
      k.matmulForward(a.qkv, a.ln1, p.W_attn, p.b_attn, BT, C, 3 * C);
    } else {
      k.matmulForward(a.qkv, x, p.W_attn, p.b_attn, BT, C, 3 * C);
    }
    k.attentionForward(a.yh, a.att, a.qkv, B, T, C, NH, causal);
    k.matmulForward(a.attnOut, a.yh, p.W_proj, p.b_proj, BT, C, C);
    k.add(a.res1, x, a.attnOut, n);
    let mid: Floats;
    if (this.config.placement === "pre") {
      mid = a.res1;
      k.layerNormForward(a.ln2, a.mean2, a.rstd2, mid, p.ln2_g, p.ln2_b, BT, C, eps);
      k.matmulForward(a.fc, a.ln2, p.W_fc, p.b_fc, BT, C, 4 * C);
    } else {
      k.layerNormForward(a.ln1, a.mean1, a.rstd1, a.res1, p.ln1_g, p.ln1_b, BT, C, eps);
      mid = a.ln1;
      k.matmulForward(a.fc, mid, p.W_fc, p.b_fc, BT, C, 4 * C);
    }
    k.geluForward(a.gelu, a.fc, BT * 4 * C);
    k.matmulForward(a.mlpOut, a.gelu, p.W_proj2, p.b_proj2, BT, 4 * C, C);
    k.add(a.res2, mid, a.mlpOut, n);
    if (this.config.placement === "post") {
      k.layerNormForward(a.ln2, a.mean2, a.rstd2, a.res2, p.ln2_g, p.ln2_b, BT, C, eps);
    }
  }

  /** Sets every gradient and the accumulated h/dh/dx norms to zero. */
  zeroGrad(): void {
    this.grads.fill(0);
    this.#hSq.fill(0);
    this.#dhSq.fill(0);
    this.#dxSq = 0;
  }

  /**
   * Backward pass for the last forward: `dy [B,T,C]` = ∂L/∂y. Accumulates into
   * the gradients (`grad(name)`) and returns ∂L/∂x (a view, valid until the
   * next backward).
   */
  backward(dy: Floats): Floats {
    const c = this.config, C = c.nEmbd, B = this.#B, T = this.#T, BT = B * T, n = BT * C;
    if (BT === 0) throw new Error("backward needs a forward first");
    if (dy.length < n) throw new RangeError(`dy holds ${dy.length} numbers, need ${n}`);
    if (this.arena !== null && Arena.of(dy) !== this.arena) {
      // the kernels read the arena: bring dy in
      this.#dy.set(dy.subarray(0, n));
      dy = this.#dy;
    }
    let dOut = this.#dA.subarray(0, n), dIn = this.#dC.subarray(0, n);
    if (c.finalNorm) {
      dOut.fill(0);
      this.kernels.layerNormBackward(
        dOut,
        this.grad("ln_f_g"),
        this.grad("ln_f_b"),
        dy,
        this.#h(c.nLayer - 1),
        this.param("ln_f_g"),
        this.#meanf,
        this.#rstdf,
        BT,
        C,
      );
    } else {
      dOut.set(dy.subarray(0, n));
    }
    for (let l = c.nLayer - 1; l >= 0; l--) {
      this.#hSq[l] += this.kernels.sumSq(this.#h(l), n);
      this.#dhSq[l] += this.kernels.sumSq(dOut, n);
      const x = l === 0 ? this.#x : this.#h(l - 1);
      this.#blockBackward(l, dIn, dOut, x, B, T);
      [dOut, dIn] = [dIn, dOut];
      this.onBlock?.(2 * c.nLayer - l, 2 * c.nLayer);
    }
    this.#dxSq += this.kernels.sumSq(dOut, n);
    return dOut;
  }

  /** dIn = ∂L/∂(block input) from dOut = ∂L/∂(block output); dOut is consumed. */
  #blockBackward(l: number, dIn: Floats, dOut: Floats, x: Floats, B: number, T: number) {
    const { nEmbd: C, nHead: NH, causal } = this.config;
    const BT = B * T, n = BT * C, p = this.#p[l], g = this.#g[l], a = this.#acts[l];
    const dB = this.#dB.subarray(0, n), dyh = this.#dyh.subarray(0, n);
    const dqkv = this.#dqkv.subarray(0, 3 * n), dfc = this.#dfc.subarray(0, 4 * n);
    const dgelu = this.#dgelu.subarray(0, 4 * n);
    const pre = this.config.placement === "pre", k = this.kernels;
    let dRes2 = dOut;
    if (!pre) {
      dB.fill(0);
      k.layerNormBackward(dB, g.ln2_g, g.ln2_b, dOut, a.res2, p.ln2_g, a.mean2, a.rstd2, BT, C);
      dRes2 = dB;
    }
    // res2 = mid + mlp(mid') with mid' = ln2(mid) (pre) or mid (post)
    dgelu.fill(0);
    k.matmulBackward(dgelu, g.W_proj2, g.b_proj2, dRes2, a.gelu, p.W_proj2, BT, 4 * C, C);
    dfc.fill(0);
    k.geluBackward(dfc, a.fc, dgelu, 4 * n);
    if (pre) {
      dB.fill(0);
      k.matmulBackward(dB, g.W_fc, g.b_fc, dfc, a.ln2, p.W_fc, BT, C, 4 * C);
      dIn.set(dRes2); // ∂L/∂res1 so far: the residual path
      k.layerNormBackward(dIn, g.ln2_g, g.ln2_b, dB, a.res1, p.ln2_g, a.mean2, a.rstd2, BT, C);
    } else {
      // dB holds ∂L/∂res2 = the residual part of ∂L/∂mid; add the MLP path
      k.matmulBackward(dB, g.W_fc, g.b_fc, dfc, a.ln1, p.W_fc, BT, C, 4 * C);
      dIn.fill(0);
      k.layerNormBackward(dIn, g.ln1_g, g.ln1_b, dB, a.res1, p.ln1_g, a.mean1, a.rstd1, BT, C);
    }
    // dIn = ∂L/∂res1; res1 = x + attn(x') with x' = ln1(x) (pre) or x (post)
    dyh.fill(0);
    k.matmulBackward(dyh, g.W_proj, g.b_proj, dIn, a.yh, p.W_proj, BT, C, C);
    dqkv.fill(0);
    k.attentionBackward(dqkv, dyh, a.qkv, a.att, B, T, C, NH, causal);
    if (pre) {
      dB.fill(0);
      k.matmulBackward(dB, g.W_attn, g.b_attn, dqkv, a.ln1, p.W_attn, BT, C, 3 * C);
      k.layerNormBackward(dIn, g.ln1_g, g.ln1_b, dB, x, p.ln1_g, a.mean1, a.rstd1, BT, C);
    } else {
      k.matmulBackward(dIn, g.W_attn, g.b_attn, dqkv, x, p.W_attn, BT, C, 3 * C);
    }
  }

  /**
   * A saved activation of block `layer` from the last forward: `ln1_out`,
   * `ln2_out` (pre-LN), `attn_out`, `x_mid`, `mlp_hidden` (GELU output),
   * `mlp_out`, `att [B,NH,T,T]`, `h` (the block output).
   */
  activation(layer: number, name: ActivationName): Floats {
    const a = this.#acts[layer], n = this.#B * this.#T * this.config.nEmbd;
    if (!a) throw new RangeError(`no activations for layer ${layer}; run forward first`);
    const pre = this.config.placement === "pre";
    const pick: Record<ActivationName, [Floats | null, number]> = {
      ln1_out: [pre ? a.ln1 : null, n],
      ln2_out: [pre ? a.ln2 : null, n],
      attn_out: [a.attnOut, n],
      x_mid: [pre ? a.res1 : a.ln1, n],
      mlp_hidden: [a.gelu, 4 * n],
      mlp_out: [a.mlpOut, n],
      att: [a.att, this.#B * this.config.nHead * this.#T * this.#T],
      h: [this.#h(layer), n],
    };
    const [buf, len] = pick[name] ?? [null, 0];
    if (buf === null) {
      throw new RangeError(`no activation '${name}' in a ${this.config.placement}-LN block`);
    }
    return buf.subarray(0, len);
  }

  /** Per-layer gradient statistics of the gradients accumulated since `zeroGrad`. */
  layerStats(): StackStats {
    return stackStats(this.grads, this.layout, this.normSums(), this.config.finalNorm);
  }

  /**
   * The squared norms behind `layerStats`, summed over every backward since `zeroGrad`:
   * Σ‖h_l‖², Σ‖∂L/∂h_l‖² per layer and Σ‖∂L/∂x‖² (exact to add across batches).
   */
  normSums(): NormSums {
    return { h_sq: [...this.#hSq], dh_sq: [...this.#dhSq], dx_sq: this.#dxSq };
  }
}

/** Squared activation and gradient norms of a stack, per layer (input side first). */
export interface NormSums {
  /** Σ‖h_l‖² of each block's output */
  h_sq: number[];
  /** Σ‖∂L/∂h_l‖² */
  dh_sq: number[];
  /** Σ‖∂L/∂x‖² of the stack input */
  dx_sq: number;
}

/**
 * The stack statistics of a flat gradient in `layout` order and its norm sums: what
 * `GPT.layerStats` returns, and what `run`'s summary gives for the gradient summed over a
 * stream (one function for both).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const m = new GPT({ nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" });
 * const s = stackStats(new Float64Array(m.grads.length).fill(1), m.layout,
 *   { h_sq: [1], dh_sq: [4], dx_sq: 9 }, true);
 * assert(s.layer_stats[0].grad.W_attn.l2 === Math.sqrt(48) && s.dx_l2 === 3);
 * assert(s.ln_f_grad!.ln_f_g.numel === 4);
 * ```
 */
export function stackStats(
  grads: Floats,
  layout: ParamSpec[],
  sums: NormSums,
  finalNorm: boolean,
): StackStats {
  const at = (name: string): GradStat => {
    const s = layout.find((p) => p.name === name);
    if (!s) throw new RangeError(`no parameter named '${name}' in the layout`);
    return gradStat(grads.subarray(s.offset, s.offset + s.size));
  };
  const layer_stats: LayerStat[] = sums.h_sq.map((h, l) => {
    const grad = {} as Record<BlockParam, GradStat>;
    for (const p of BLOCK_PARAMS) grad[p] = at(`blocks.${l}.${p}`);
    return { layer: l, grad, h_l2: Math.sqrt(h), dh_l2: Math.sqrt(sums.dh_sq[l]) };
  });
  const out: StackStats = { layer_stats, dx_l2: Math.sqrt(sums.dx_sq) };
  if (finalNorm) out.ln_f_grad = { ln_f_g: at("ln_f_g"), ln_f_b: at("ln_f_b") };
  return out;
}

/**
 * l2, rms, max |g| and size of a gradient tensor (float64 sums).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const s = gradStat(Float32Array.of(3, -4));
 * assert(s.l2 === 5 && s.max_abs === 4 && s.numel === 2);
 * ```
 */
export function gradStat(g: Floats): GradStat {
  let s = 0, m = 0;
  for (let i = 0; i < g.length; i++) {
    const v = g[i];
    s += v * v;
    const a = Math.abs(v);
    if (a > m) m = a;
  }
  const l2 = Math.sqrt(s);
  return { l2, rms: g.length ? l2 / Math.sqrt(g.length) : 0, max_abs: m, numel: g.length };
}
