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
import {
  blockPlacement,
  type GPTConfig,
  type NormKind,
  type Placement,
  resolveConfig,
  type ResolvedConfig,
} from "./config.ts";
import {
  absentBecause,
  type BlockParam,
  type CoreBlockParam,
  paramLayout,
  type ParamSpec,
} from "./params.ts";
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
  /**
   * per parameter the block has (short names: `W_fc`, `ln1_g`, …; `ln1_b` unless RMSNorm,
   * `ln1_a` with DyT, `ln1o_g` with Peri-LN)
   */
  grad: Record<CoreBlockParam, GradStat> & Partial<Record<BlockParam, GradStat>>;
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
  /** final norm gradients, when the stack has one (`ln_f_b` unless RMSNorm, `ln_f_a` with DyT) */
  ln_f_grad?: { ln_f_g: GradStat; ln_f_b?: GradStat; ln_f_a?: GradStat };
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

/** One norm's parameters (or gradients): γ, and β and `a` where the norm has them. */
interface NormViews {
  g: Floats;
  b: Floats | null;
  a: Floats | null;
}

/** Views of one block's parameters (or gradients). */
interface BlockViews {
  /** the norms of the attention (0) and MLP (1) sublayers: ln1, ln2 */
  n: [NormViews, NormViews];
  /** Peri-LN's output norms ln1o, ln2o */
  o: [NormViews, NormViews] | null;
  W_attn: Floats;
  b_attn: Floats;
  W_proj: Floats;
  b_proj: Floats;
  W_fc: Floats;
  b_fc: Floats;
  W_proj2: Floats;
  b_proj2: Floats;
}

/** A norm's saved output and statistics (`mean` used by LayerNorm, `rstd` by it and RMSNorm). */
interface NormActs {
  out: Floats;
  mean: Floats;
  rstd: Floats;
}

/** One block's saved activations. */
interface Acts {
  /** ln1, ln2: of the sublayer's input (pre-like blocks) or of its residual sum (post-like) */
  n: [NormActs, NormActs];
  /** Peri-LN's output norms, of attnOut and mlpOut */
  o: [NormActs, NormActs] | null;
  qkv: Floats;
  /** qkv with q and k normalized per head (QK-norm), and their rstd */
  qkvn: Floats | null;
  qkr: Floats | null;
  att: Floats;
  yh: Floats;
  attnOut: Floats;
  fc: Floats;
  gelu: Floats;
  mlpOut: Floats;
  /** the residual sums: α·x + f (attention, MLP) */
  res: [Floats, Floats];
}

/** What a block's placement does around each sublayer f: the data behind `Placement`. */
interface Recipe {
  /** normalize f's input: x + f(N(x)) */
  inNorm: boolean;
  /** normalize f's output (Peri-LN): x + Nₒ(f(·)) */
  outNorm: boolean;
  /** normalize the residual sum: N(α·x + f(·)) */
  sumNorm: boolean;
}

const RECIPES: Record<Exclude<Placement, "mix">, Recipe> = {
  pre: { inNorm: true, outNorm: false, sumNorm: false },
  post: { inNorm: false, outNorm: false, sumNorm: true },
  peri: { inNorm: true, outNorm: true, sumNorm: false },
  deepnorm: { inNorm: false, outNorm: false, sumNorm: true },
};

/** One norm kind's forward and backward over the kernels: the data behind `NormKind`. */
interface NormOp {
  forward(
    k: Kernels,
    a: NormActs,
    p: NormViews,
    inp: Floats,
    N: number,
    C: number,
    eps: number,
  ): void;
  /** accumulates into `din` and the gradient views */
  backward(
    k: Kernels,
    din: Floats,
    g: NormViews,
    dout: Floats,
    inp: Floats,
    p: NormViews,
    a: NormActs,
    N: number,
    C: number,
  ): void;
}

const NORM_OPS: Record<NormKind, NormOp> = {
  layer: {
    forward: (k, a, p, inp, N, C, eps) =>
      k.layerNormForward(a.out, a.mean, a.rstd, inp, p.g, p.b, N, C, eps),
    backward: (k, din, g, dout, inp, p, a, N, C) =>
      k.layerNormBackward(din, g.g, g.b, dout, inp, p.g, a.mean, a.rstd, N, C),
  },
  rms: {
    forward: (k, a, p, inp, N, C, eps) => k.rmsNormForward(a.out, a.rstd, inp, p.g, N, C, eps),
    backward: (k, din, g, dout, inp, p, a, N, C) =>
      k.rmsNormBackward(din, g.g, dout, inp, p.g, a.rstd, N, C),
  },
  dyt: {
    forward: (k, a, p, inp, N, C) => k.dytForward(a.out, inp, p.a!, p.g, p.b, N, C),
    backward: (k, din, g, dout, inp, p, _a, N, C) =>
      k.dytBackward(din, g.a, g.g, g.b, dout, inp, p.a!, p.g, N, C),
  },
};

/** Names accepted by `GPT.activation`. */
export type ActivationName =
  | "ln1_out"
  | "attn_out"
  | "ln1o_out"
  | "x_mid"
  | "ln2_out"
  | "mlp_hidden"
  | "mlp_out"
  | "ln2o_out"
  | "att"
  | "h";

/**
 * A GPT-2 stack: `L` blocks (ln1, attn, ln2, mlp) with the norms placed as `config.placement`
 * says (pre-LN `x + f(LN(x))`, post-LN `LN(x + f(x))`, Peri-LN, DeepNorm or Mix-LN), each norm a
 * LayerNorm, an RMSNorm or a Dynamic Tanh (`config.norm`), optional QK-norm, and an optional
 * final norm. Parameters and gradients each live in one flat buffer with the layout of
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
 * const zoo = new GPT({ nLayer: 2, nHead: 2, nEmbd: 16, placement: "peri", norm: "dyt" });
 * assert(zoo.param("blocks.1.ln2o_a").length === 1);
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
  #pf: NormViews | null = null;
  #gf: NormViews | null = null;
  #recipes: Recipe[];
  #alpha: number;
  #norm: NormOp;
  #acts: Acts[] = [];
  #cap = 0; // tokens the activation buffers hold
  #capT = 0; // sequence length the attention buffers hold
  #B = 0;
  #T = 0;
  #x: Floats;
  #lnf: NormActs;
  // backward scratch
  #dA: Floats;
  #dB: Floats;
  #dC: Floats;
  #dT: Floats;
  #dyh: Floats;
  #dqkv: Floats;
  #dqkvn: Floats;
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
   * Called after block `layer`'s part of a backward, when its gradients (`blockGrads`, or
   * `grad("blocks.<layer>.…")`) are complete: with `gradients: "block"` the only moment they
   * can be read, since the next block's backward reuses the buffer.
   */
  onBlockGrad: ((layer: number) => void) | null = null;
  /** "full": a gradient per parameter; "block": one block's, reused by every block */
  readonly gradients: "full" | "block";
  /**
   * Called after block `layer`'s forward, when its activations (`activation(layer, …)`) are
   * there: with `activations: "block"` the only moment they can be read.
   */
  onBlockForward: ((layer: number) => void) | null = null;
  #activations: "all" | "block" = "all";
  #hs: Floats[] = []; // "block": each block's output
  #actsLayer = -1; // "block": the block whose activations the one set holds
  #blockSize: number;

  /**
   * Builds the stack with all parameters zero (call `init`).
   *
   * `buffers` attaches to existing storage: for the ts backend, `params`/`grads` are buffers
   * whose start holds the tensors; for wasm and blas, `arena` is an arena to allocate from
   * (e.g. one attached in a worker to a model's memory), `paramsAt` the byte offset of
   * existing parameters in it (shared, not copied) and `gradsAt` that of a gradient buffer to
   * use instead of a new one. A `params` buffer given to wasm or blas is copied into the arena.
   * `gradients: "block"` keeps the gradient of one block only (and the final norm's), reused
   * by every block in turn and read in `onBlockGrad`: a backward for per-block statistics in
   * a fraction of the memory (a 24-layer model: 1/24 of its gradients).
   * `activations: "block"` keeps each block's output and one block's other activations; the
   * backward recomputes a block's forward from its input before its backward (a third more
   * work, for a 24-layer model ~1/24 of the activation memory; the same numbers bit for bit).
   */
  constructor(
    config: GPTConfig,
    buffers: {
      params?: ArrayBufferLike;
      grads?: ArrayBufferLike;
      arena?: Arena;
      paramsAt?: number;
      gradsAt?: number;
      gradients?: "full" | "block";
      activations?: "all" | "block";
    } = {},
  ) {
    const c = this.config = resolveConfig(config);
    this.layout = paramLayout(c);
    const total = this.layout.reduce((a, s) => a + s.size, 0);
    const mode = this.gradients = buffers.gradients ?? "full";
    if (mode !== "full" && mode !== "block") {
      throw new RangeError(`gradients must be "full" or "block", got ${mode}`);
    }
    const acts = buffers.activations ?? "all";
    if (acts !== "all" && acts !== "block") {
      throw new RangeError(`activations must be "all" or "block", got ${acts}`);
    }
    this.#activations = acts;
    if (mode === "block" && (buffers.grads || buffers.gradsAt !== undefined)) {
      throw new RangeError(`gradients: "block" allocates its own gradient buffer`);
    }
    // every block has the same tensors: block l's start at l·blockSize
    this.#blockSize = this.layout.filter((s) => s.name.startsWith("blocks.0.")).reduce(
      (a, s) => a + s.size,
      0,
    );
    // block mode: one block's gradients, then the final norm's
    const gradFloats = mode === "block" ? total - (c.nLayer - 1) * this.#blockSize : total;
    const bytes = c.dtype === "float64" ? 8 : 4;
    if (c.backend === "ts") {
      this.arena = null;
      const buf = (given: ArrayBufferLike | undefined, n: number): Floats => {
        if (given && given.byteLength < n * bytes) {
          throw new RangeError(`buffer holds ${given.byteLength} bytes, need ${n * bytes}`);
        }
        const b = given ??
          (c.shared ? new SharedArrayBuffer(n * bytes) : new ArrayBuffer(n * bytes));
        return c.dtype === "float64" ? new Float64Array(b, 0, n) : new Float32Array(b, 0, n);
      };
      this.params = buf(buffers.params, total);
      this.#grads = buf(buffers.grads, gradFloats);
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
        : arena.alloc(gradFloats);
    }
    this.kernels = createKernels(c.backend, this.arena, c.blasLib);
    for (const s of this.layout) this.#byName.set(s.name, s);
    this.#recipes = Array.from({ length: c.nLayer }, (_, l) => RECIPES[blockPlacement(c, l)]);
    this.#alpha = c.placement === "deepnorm" ? (2 * c.nLayer) ** 0.25 : 1;
    this.#norm = NORM_OPS[c.norm];
    this.#p = this.#views((n) => this.param(n));
    this.#pf = c.finalNorm ? this.#normViews("ln_f", (n) => this.param(n)) : null;
    this.#bindGrads();
    const none = this.#alloc(0);
    this.#x = none;
    this.#lnf = { out: none, mean: none, rstd: none };
    this.#dA =
      this.#dB =
      this.#dC =
      this.#dT =
      this.#dyh =
      this.#dqkv =
      this.#dqkvn =
      this.#dfc =
      this.#dgelu =
        none;
    this.#dy = none;
    this.#hSq = new Float64Array(c.nLayer);
    this.#dhSq = new Float64Array(c.nLayer);
  }

  #normViews(prefix: string, get: (name: string) => Floats): NormViews {
    const has = (s: string) => this.#byName.has(`${prefix}${s}`);
    return {
      g: get(`${prefix}_g`),
      b: has("_b") ? get(`${prefix}_b`) : null,
      a: has("_a") ? get(`${prefix}_a`) : null,
    };
  }

  /** Every block's views through `get` (parameters or gradients). */
  #views(get: (name: string) => Floats): BlockViews[] {
    const peri = this.config.placement === "peri";
    return Array.from({ length: this.config.nLayer }, (_, l) => {
      const at = (p: string) => get(`blocks.${l}.${p}`);
      const norm = (p: string) => this.#normViews(`blocks.${l}.${p}`, get);
      return {
        n: [norm("ln1"), norm("ln2")],
        o: peri ? [norm("ln1o"), norm("ln2o")] : null,
        W_attn: at("W_attn"),
        b_attn: at("b_attn"),
        W_proj: at("W_proj"),
        b_proj: at("b_proj"),
        W_fc: at("W_fc"),
        b_fc: at("b_fc"),
        W_proj2: at("W_proj2"),
        b_proj2: at("b_proj2"),
      };
    });
  }

  #alloc(n: number): Floats {
    if (this.arena !== null) return this.arena.alloc(n);
    return this.config.dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
  }

  #spec(name: string): ParamSpec {
    const s = this.#byName.get(name);
    if (!s) {
      const why = absentBecause(name, this.config);
      throw new RangeError(`no parameter named '${name}'${why === null ? "" : `: ${why}`}`);
    }
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
    if (this.gradients === "block") {
      throw new RangeError(`a model with gradients: "block" keeps its own gradient buffer`);
    }
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
    this.#g = this.#views((n) => this.grad(n));
    this.#gf = this.config.finalNorm ? this.#normViews("ln_f", (n) => this.grad(n)) : null;
  }

  /**
   * A view into the flat gradient buffer, same names as `param`. With `gradients: "block"`
   * every block's names view the one block buffer (valid in `onBlockGrad` of that block).
   */
  grad(name: string): Floats {
    const s = this.#spec(name);
    if (this.gradients === "full") return this.grads.subarray(s.offset, s.offset + s.size);
    const L = this.config.nLayer, bs = this.#blockSize;
    const at = s.offset < L * bs ? s.offset % bs : s.offset - (L - 1) * bs;
    return this.grads.subarray(at, at + s.size);
  }

  /** "all" (every block's activations kept) or "block" (recomputed in the backward). */
  get activations(): "all" | "block" {
    return this.#activations;
  }

  /**
   * Chooses how activations are kept (see the constructor's `activations`) before the first
   * forward allocates them.
   *
   * @example
   * ```ts
   * import { assert } from "@std/assert";
   * const m = new GPT({ nLayer: 2, nHead: 1, nEmbd: 4, placement: "pre" });
   * m.useActivations("block");
   * assert(m.activations === "block");
   * ```
   */
  useActivations(mode: "all" | "block"): void {
    if (mode !== "all" && mode !== "block") {
      throw new RangeError(`activations must be "all" or "block", got ${mode}`);
    }
    if (this.#cap > 0 && mode !== this.#activations) {
      throw new RangeError("activations are chosen before the first forward");
    }
    this.#activations = mode;
  }

  /**
   * Block `layer`'s gradients, in the layout's order: a view of the full buffer, or with
   * `gradients: "block"` the block buffer (read it in `onBlockGrad(layer)`).
   *
   * @example
   * ```ts
   * import { assert } from "@std/assert";
   * const m = new GPT({ nLayer: 2, nHead: 1, nEmbd: 4, placement: "pre" }, { gradients: "block" });
   * m.init({ scheme: "gpt2", seed: 1 });
   * m.forward(new Float32Array(8).fill(0.5).map((v, i) => v * i), 1, 2);
   * const sq: number[] = [];
   * m.onBlockGrad = (l) => sq[l] = Array.from(m.blockGrads(l)).reduce((a, g) => a + g * g, 0);
   * m.backward(new Float32Array(8).fill(1));
   * assert(sq.length === 2 && sq[0] > 0 && m.grads.length < m.params.length);
   * ```
   */
  blockGrads(layer: number): Floats {
    const bs = this.#blockSize;
    if (!(Number.isInteger(layer) && layer >= 0 && layer < this.config.nLayer)) {
      throw new RangeError(`no block ${layer} in a ${this.config.nLayer}-block model`);
    }
    const at = this.gradients === "full" ? layer * bs : 0;
    return this.grads.subarray(at, at + bs);
  }

  /**
   * Draws every parameter, deterministically from `seed` (see `InitOptions`): the matrices in
   * layout order, so a model's weights do not depend on its norm. Norm gains are 1, biases 0,
   * DyT's scalars `dytAlpha`; DeepNorm then scales `W_fc`, `W_proj2`, `W_proj` and the value
   * third of `W_attn` by β = (8L)^−¼.
   */
  init(opts: InitOptions): void {
    const c = this.config, L = c.nLayer, C = c.nEmbd, rng = new Rng(opts.seed);
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
        v.fill(short.endsWith("_g") ? 1 : short.endsWith("_a") ? c.dytAlpha : 0);
      }
    }
    if (c.placement === "deepnorm") {
      const beta = (8 * L) ** -0.25;
      for (const p of this.#p) {
        for (const w of [p.W_fc, p.W_proj2, p.W_proj]) {
          for (let i = 0; i < w.length; i++) w[i] *= beta;
        }
        for (let r = 0; r < C; r++) {
          for (let j = 2 * C; j < 3 * C; j++) p.W_attn[r * 3 * C + j] *= beta;
        }
      }
    }
  }

  /**
   * Bytes a model of `config` holds for a forward and backward pass of B sequences of T tokens:
   * parameters, gradients, activations and backward scratch (float32; the arena's per-buffer
   * alignment and the kernels' scratch included). `run` checks a stream fits the 4 GiB arena with
   * it before any worker starts. Peri-LN stores two more norm outputs per block (2C + 4 floats a
   * token), QK-norm the normalized q, k and v (3C + 2·heads).
   *
   * @example
   * ```ts
   * import { assert } from "@std/assert";
   * const c = { nLayer: 12, nHead: 12, nEmbd: 768, placement: "pre" as const };
   * assert(GPT.bytesFor(c, 4, 256).activations > 500e6); // GPT-2 at 1024 tokens: ~0.8 GB
   * const peri = GPT.bytesFor({ ...c, placement: "peri" }, 4, 256).activations;
   * assert(peri > GPT.bytesFor(c, 4, 256).activations);
   * ```
   */
  static bytesFor(
    config: GPTConfig,
    B: number,
    T: number,
    activations: "all" | "block" = "all",
  ): { params: number; activations: number } {
    const c = resolveConfig(config), BT = B * T;
    const params = paramLayout(c).reduce((a, s) => a + s.size, 0) * 4;
    const floats = actFloats(c, BT, B * T * T, activations);
    const slack = (20 * c.nLayer + 16) * 64 + (2 << 20) + T * T * 4 + 24 * 4 * c.nEmbd;
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
    const attTokens = Math.max(B * T * T, this.#cap * this.#capT);
    const attSize = attTokens * c.nHead;
    const floats = actFloats(c, cap, attTokens, this.#activations);
    if (this.arena !== null) {
      const end = this.arena.used + floats * 4 + (20 * c.nLayer + 16) * 64;
      if (end > 2 ** 32) {
        throw new RangeError(
          `B·T = ${BT} tokens (T = ${T}) need ${(floats * 4 / 2 ** 20).toFixed(1)} MiB of ` +
            `activations; the model's WebAssembly memory holds at most 4096 MiB ` +
            `(${(this.arena.used / 2 ** 20).toFixed(1)} MiB in use): use fewer tokens per call`,
        );
      }
    }
    const a = (n: number) => this.#alloc(n);
    const norm = (): NormActs => ({ out: a(cap * C), mean: a(cap), rstd: a(cap) });
    const acts: Acts[] = [];
    const block = this.#activations === "block";
    // "block": one set of activations for every block, and each block's output
    const hs = block ? Array.from({ length: c.nLayer }, () => a(cap * C)) : [];
    for (let l = 0; l < (block ? 1 : c.nLayer); l++) {
      acts.push({
        n: [norm(), norm()],
        o: c.placement === "peri" ? [norm(), norm()] : null,
        qkv: a(cap * 3 * C),
        qkvn: c.qkNorm ? a(cap * 3 * C) : null,
        qkr: c.qkNorm ? a(cap * 2 * c.nHead) : null,
        att: a(attSize),
        yh: a(cap * C),
        attnOut: a(cap * C),
        fc: a(cap * 4 * C),
        gelu: a(cap * 4 * C),
        mlpOut: a(cap * C),
        res: [a(cap * C), a(cap * C)],
      });
    }
    const x = a(cap * C), lnf = norm();
    const dA = a(cap * C), dB = a(cap * C), dC = a(cap * C), dT = a(cap * C), dyh = a(cap * C);
    const dqkv = a(cap * 3 * C), dfc = a(cap * 4 * C), dgelu = a(cap * 4 * C);
    const dqkvn = c.qkNorm ? a(cap * 3 * C) : a(0);
    const dy = this.arena === null ? this.#alloc(0) : a(cap * C);
    // every buffer is there: only now do they replace the old ones
    this.#acts = block ? Array.from({ length: c.nLayer }, () => acts[0]) : acts;
    this.#hs = hs;
    [this.#x, this.#lnf] = [x, lnf];
    [this.#dA, this.#dB, this.#dC, this.#dT, this.#dyh] = [dA, dB, dC, dT, dyh];
    [this.#dqkv, this.#dqkvn, this.#dfc, this.#dgelu, this.#dy] = [dqkv, dqkvn, dfc, dgelu, dy];
    this.#cap = cap;
    this.#capT = capT;
  }

  /** The output of block l (a view valid until the next forward). */
  #h(l: number): Floats {
    if (this.#activations === "block") return this.#hs[l];
    const a = this.#acts[l];
    return this.#recipes[l].sumNorm ? a.n[1].out : a.res[1];
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
    const block = this.#activations === "block";
    for (let l = 0; l < c.nLayer; l++) {
      const mid = this.#subForward(l, 0, h, B, T);
      h = this.#subForward(l, 1, mid, B, T);
      if (block) {
        // the block's output kept (the next block overwrites the one set of activations)
        this.#hs[l].set(h.subarray(0, n));
        h = this.#hs[l];
        this.#actsLayer = l;
      }
      this.onBlockForward?.(l);
      this.onBlock?.(l + 1, 2 * c.nLayer);
    }
    if (this.#pf === null) return h.subarray(0, n);
    this.#norm.forward(this.kernels, this.#lnf, this.#pf, h, BT, C, c.eps);
    return this.#lnf.out.subarray(0, n);
  }

  /** Sublayer s (0 attention, 1 MLP) of block l on x; returns its output. */
  #subForward(l: number, s: 0 | 1, x: Floats, B: number, T: number): Floats {
    const { nEmbd: C, eps } = this.config, BT = B * T, n = BT * C, k = this.kernels;
    const r = this.#recipes[l], p = this.#p[l], a = this.#acts[l];
    if (r.inNorm) this.#norm.forward(k, a.n[s], p.n[s], x, BT, C, eps);
    const u = r.inNorm ? a.n[s].out : x;
    const f = s === 0 ? this.#attnForward(l, u, B, T) : this.#mlpForward(l, u, BT);
    if (r.outNorm) this.#norm.forward(k, a.o![s], p.o![s], f, BT, C, eps);
    const v = r.outNorm ? a.o![s].out : f;
    if (this.#alpha === 1) k.add(a.res[s], x, v, n);
    else k.scaleAdd(a.res[s], x, this.#alpha, v, n);
    if (!r.sumNorm) return a.res[s];
    this.#norm.forward(k, a.n[s], p.n[s], a.res[s], BT, C, eps);
    return a.n[s].out;
  }

  #attnForward(l: number, u: Floats, B: number, T: number): Floats {
    const { nEmbd: C, nHead: NH, causal, eps } = this.config, BT = B * T;
    const p = this.#p[l], a = this.#acts[l], k = this.kernels;
    k.matmulForward(a.qkv, u, p.W_attn, p.b_attn, BT, C, 3 * C);
    if (a.qkvn !== null) k.qkNormForward(a.qkvn, a.qkr!, a.qkv, BT, C, NH, eps);
    k.attentionForward(a.yh, a.att, a.qkvn ?? a.qkv, B, T, C, NH, causal);
    k.matmulForward(a.attnOut, a.yh, p.W_proj, p.b_proj, BT, C, C);
    return a.attnOut;
  }

  #mlpForward(l: number, u: Floats, BT: number): Floats {
    const C = this.config.nEmbd, p = this.#p[l], a = this.#acts[l], k = this.kernels;
    k.matmulForward(a.fc, u, p.W_fc, p.b_fc, BT, C, 4 * C);
    k.geluForward(a.gelu, a.fc, BT * 4 * C);
    k.matmulForward(a.mlpOut, a.gelu, p.W_proj2, p.b_proj2, BT, 4 * C, C);
    return a.mlpOut;
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
    if (this.#pf !== null) {
      dOut.fill(0);
      const h = this.#h(c.nLayer - 1);
      this.#norm.backward(this.kernels, dOut, this.#gf!, dy, h, this.#pf, this.#lnf, BT, C);
    } else {
      dOut.set(dy.subarray(0, n));
    }
    const dMid = this.#dB.subarray(0, n);
    for (let l = c.nLayer - 1; l >= 0; l--) {
      this.#hSq[l] += this.kernels.sumSq(this.#h(l), n);
      this.#dhSq[l] += this.kernels.sumSq(dOut, n);
      const x = l === 0 ? this.#x : this.#h(l - 1), a = this.#acts[l];
      if (this.#activations === "block" && this.#actsLayer !== l) {
        // block l's activations again, from its input (the same kernels: the same numbers)
        this.#subForward(l, 1, this.#subForward(l, 0, x, B, T), B, T);
        this.#actsLayer = l;
      }
      const mid = this.#recipes[l].sumNorm ? a.n[0].out : a.res[0];
      // block mode: the block's gradients start from zero (the one buffer holds block l + 1's)
      if (this.gradients === "block") this.grads.fill(0, 0, this.#blockSize);
      this.#subBackward(l, 1, dMid, dOut, mid, B, T);
      this.#subBackward(l, 0, dIn, dMid, x, B, T);
      this.onBlockGrad?.(l);
      [dOut, dIn] = [dIn, dOut];
      this.onBlock?.(2 * c.nLayer - l, 2 * c.nLayer);
    }
    this.#dxSq += this.kernels.sumSq(dOut, n);
    return dOut;
  }

  /**
   * dX = ∂L/∂x of sublayer s of block l (written) from dO = ∂L/∂(its output), x its input.
   * The residual path's part of dX is α·∂L/∂(sum); f's part is added after its backward.
   */
  #subBackward(l: number, s: 0 | 1, dX: Floats, dO: Floats, x: Floats, B: number, T: number) {
    const C = this.config.nEmbd, BT = B * T, n = BT * C, k = this.kernels;
    const r = this.#recipes[l], p = this.#p[l], g = this.#g[l], a = this.#acts[l];
    const dT = this.#dT.subarray(0, n), norm = this.#norm;
    // ∂L/∂(the residual sum)
    let dR = dO;
    if (r.sumNorm) {
      dX.fill(0);
      norm.backward(k, dX, g.n[s], dO, a.res[s], p.n[s], a.n[s], BT, C);
      dR = dX;
    }
    // ∂L/∂f
    let dF = dR;
    if (r.outNorm) {
      dT.fill(0);
      norm.backward(k, dT, g.o![s], dR, s === 0 ? a.attnOut : a.mlpOut, p.o![s], a.o![s], BT, C);
      dF = dT;
    }
    if (s === 0) this.#attnBackOut(l, dF, B, T);
    else this.#mlpBackOut(l, dF, BT);
    // dR is read for the last time above: the residual path
    if (dR !== dX) dX.set(dR);
    if (this.#alpha !== 1) k.scale(dX, dX, this.#alpha, n);
    // f's input projection, through the input norm when there is one
    if (r.inNorm) {
      dT.fill(0);
      this.#backIn(l, s, dT, a.n[s].out, BT);
      norm.backward(k, dX, g.n[s], dT, x, p.n[s], a.n[s], BT, C);
    } else {
      this.#backIn(l, s, dX, x, BT);
    }
  }

  /** From ∂L/∂attnOut to ∂L/∂qkv (in #dqkv), with W_proj's and b_proj's gradients. */
  #attnBackOut(l: number, dF: Floats, B: number, T: number) {
    const { nEmbd: C, nHead: NH, causal } = this.config, BT = B * T, n = BT * C;
    const p = this.#p[l], g = this.#g[l], a = this.#acts[l], k = this.kernels;
    const dyh = this.#dyh.subarray(0, n), dqkv = this.#dqkv.subarray(0, 3 * n);
    dyh.fill(0);
    k.matmulBackward(dyh, g.W_proj, g.b_proj, dF, a.yh, p.W_proj, BT, C, C);
    dqkv.fill(0);
    if (a.qkvn === null) {
      k.attentionBackward(dqkv, dyh, a.qkv, a.att, B, T, C, NH, causal);
    } else {
      const dqkvn = this.#dqkvn.subarray(0, 3 * n);
      dqkvn.fill(0);
      k.attentionBackward(dqkvn, dyh, a.qkvn, a.att, B, T, C, NH, causal);
      k.qkNormBackward(dqkv, dqkvn, a.qkv, a.qkr!, BT, C, NH);
    }
  }

  /** From ∂L/∂mlpOut to ∂L/∂fc (in #dfc), with W_proj2's and b_proj2's gradients. */
  #mlpBackOut(l: number, dF: Floats, BT: number) {
    const C = this.config.nEmbd, n = BT * C, p = this.#p[l], g = this.#g[l], a = this.#acts[l];
    const dfc = this.#dfc.subarray(0, 4 * n), dgelu = this.#dgelu.subarray(0, 4 * n);
    dgelu.fill(0);
    this.kernels.matmulBackward(dgelu, g.W_proj2, g.b_proj2, dF, a.gelu, p.W_proj2, BT, 4 * C, C);
    dfc.fill(0);
    this.kernels.geluBackward(dfc, a.fc, dgelu, 4 * n);
  }

  /** Adds ∂L/∂u of sublayer s's input projection (u its input) into dU, with W's, b's grads. */
  #backIn(l: number, s: 0 | 1, dU: Floats, u: Floats, BT: number) {
    const C = this.config.nEmbd, n = BT * C, p = this.#p[l], g = this.#g[l], k = this.kernels;
    if (s === 0) {
      const dqkv = this.#dqkv.subarray(0, 3 * n);
      k.matmulBackward(dU, g.W_attn, g.b_attn, dqkv, u, p.W_attn, BT, C, 3 * C);
    } else {
      const dfc = this.#dfc.subarray(0, 4 * n);
      k.matmulBackward(dU, g.W_fc, g.b_fc, dfc, u, p.W_fc, BT, C, 4 * C);
    }
  }

  /**
   * A saved activation of block `layer` from the last forward: `ln1_out`, `ln2_out` (the norm of
   * a sublayer's input: pre-LN, Peri-LN and Mix-LN's pre-LN blocks), `attn_out`, `ln1o_out`,
   * `ln2o_out` (Peri-LN's output norms), `x_mid` (the attention sublayer's output), `mlp_hidden`
   * (GELU output), `mlp_out`, `att [B,NH,T,T]`, `h` (the block output).
   */
  activation(layer: number, name: ActivationName): Floats {
    const a = this.#acts[layer], n = this.#B * this.#T * this.config.nEmbd;
    if (!a) throw new RangeError(`no activations for layer ${layer}; run forward first`);
    if (this.#activations === "block" && name !== "h" && layer !== this.#actsLayer) {
      throw new RangeError(
        `with activations: "block" only block ${this.#actsLayer}'s '${name}' is kept: read ` +
          `a block's in onBlockForward`,
      );
    }
    const r = this.#recipes[layer];
    const pick: Record<ActivationName, [Floats | null, number]> = {
      ln1_out: [r.inNorm ? a.n[0].out : null, n],
      ln2_out: [r.inNorm ? a.n[1].out : null, n],
      attn_out: [a.attnOut, n],
      ln1o_out: [a.o?.[0].out ?? null, n],
      x_mid: [r.sumNorm ? a.n[0].out : a.res[0], n],
      mlp_hidden: [a.gelu, 4 * n],
      mlp_out: [a.mlpOut, n],
      ln2o_out: [a.o?.[1].out ?? null, n],
      att: [a.att, this.#B * this.config.nHead * this.#T * this.#T],
      h: [this.#h(layer), n],
    };
    const [buf, len] = pick[name] ?? [null, 0];
    if (buf === null) {
      const kind = blockPlacement(this.config, layer);
      throw new RangeError(`no activation '${name}' in a ${kind}-LN block`);
    }
    return buf.subarray(0, len);
  }

  /** Per-layer gradient statistics of the gradients accumulated since `zeroGrad`. */
  layerStats(): StackStats {
    if (this.gradients === "block") {
      throw new RangeError(`a model with gradients: "block" keeps no gradients to summarize`);
    }
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
  const stat = (sp: ParamSpec) => gradStat(grads.subarray(sp.offset, sp.offset + sp.size));
  const layer_stats: LayerStat[] = sums.h_sq.map((h, l) => {
    const grad = {} as LayerStat["grad"], prefix = `blocks.${l}.`;
    for (const sp of layout) {
      if (sp.name.startsWith(prefix)) grad[sp.name.slice(prefix.length) as BlockParam] = stat(sp);
    }
    if (!grad.W_attn) throw new RangeError(`no block ${l} in the layout`);
    return { layer: l, grad, h_l2: Math.sqrt(h), dh_l2: Math.sqrt(sums.dh_sq[l]) };
  });
  const out: StackStats = { layer_stats, dx_l2: Math.sqrt(sums.dx_sq) };
  if (finalNorm) {
    const f = {} as Record<string, GradStat>;
    for (const sp of layout) if (sp.name.startsWith("ln_f_")) f[sp.name] = stat(sp);
    if (!f.ln_f_g) throw new RangeError("no parameter named 'ln_f_g' in the layout");
    out.ln_f_grad = f as StackStats["ln_f_grad"];
  }
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

/** Activation floats of a model of `c` for `BT` tokens and `attTokens` = B·T² attention cells. */
function actFloats(
  c: ResolvedConfig,
  BT: number,
  attTokens: number,
  mode: "all" | "block" = "all",
): number {
  const C = c.nEmbd, peri = c.placement === "peri";
  // per layer: two norms (C + 2 each), qkv, yh, attnOut, fc, gelu, mlpOut and the two residual
  // sums (18C + 4 a token), Peri-LN's output norms, QK-norm's normalized qkv and rstd; att
  const perToken = 18 * C + 4 + (peri ? 2 * C + 4 : 0) + (c.qkNorm ? 3 * C + 2 * c.nHead : 0);
  // then the input, ln_f and the backward scratch
  const rest = 19 * C + 2 + (c.qkNorm ? 3 * C : 0);
  if (mode === "block") return BT * perToken + attTokens * c.nHead + BT * (rest + c.nLayer * C);
  return c.nLayer * (BT * perToken + attTokens * c.nHead) + BT * rest;
}
