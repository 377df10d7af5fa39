/**
 * Training a character-level GPT data-parallel over Web Workers: the batch of each step is cut
 * into a fixed number of gradient shards (`shards`, independent of the worker count), the
 * workers compute the shards' gradients on shared parameters, the main thread adds them in
 * shard order, clips by the global norm and applies AdamW. So the same seed gives the same
 * loss curve, bit for bit, for any number of workers.
 *
 * @module
 */
import { OptionError, UsageError } from "../io/errors.ts";
import {
  checkChoice,
  NORM_KINDS,
  type NormKind,
  type Placement,
  PLACEMENTS,
} from "../model/config.ts";
import { hashAt, Rng } from "../model/rng.ts";
import { GPT } from "../model/gpt.ts";
import { kernelModule } from "../kernels/arena.ts";
import type { BlockParam, CoreBlockParam } from "../model/params.ts";
import type { Backend } from "../kernels/backend.ts";
import type { Floats } from "../kernels/types.ts";
import { canLoadWorkers, WorkerPool } from "../pipeline/workers.ts";
import { clipScale } from "./adamw.ts";
import { CharData, type Split } from "./chardata.ts";
import { CharLM, type CharLMConfig } from "./lm.ts";
import { lrAt } from "./schedule.ts";
import type { LossJob, ShardJob, ShardReply, TrainWorkerInit } from "./protocol.ts";

/** Everything that decides a training run's numbers (saved in checkpoints). */
export interface TrainConfig {
  /** blocks L */
  layers: number;
  /** attention heads */
  heads: number;
  /** channels C */
  dim: number;
  /** tokens per sequence T */
  block: number;
  /** sequences per step B */
  batch: number;
  /** where the norms sit: pre (GPT-2), post, peri, deepnorm or mix (see `Placement`) */
  placement: Placement;
  /** every norm of the model: layer, rms or dyt */
  norm: NormKind;
  /** RMS-normalize each head's q and k before q·kᵀ */
  qkNorm: boolean;
  /** with `mix`: blocks before this one are post-LN (0 otherwise; `fillConfig` gives ⌊L/4⌋) */
  mixPost: number;
  /** with `dyt`: the initial scalar `a` of every norm */
  dytAlpha: number;
  /** initialization: GPT-2 (N(0, 0.02), residual projections / √(2L)) or Xavier */
  init: "gpt2" | "xavier";
  /** peak learning rate */
  lr: number;
  /** learning rate at the end of the cosine decay */
  minLr: number;
  /** warm-up steps (0 = none) */
  warmup: number;
  /** update steps; the cosine reaches `minLr` here */
  iters: number;
  /** gradient clipping by global norm (0 = off) */
  clip: number;
  /** AdamW's decoupled weight decay, on matrices and embeddings only */
  weightDecay: number;
  /** AdamW β1 */
  beta1: number;
  /** AdamW β2 */
  beta2: number;
  /** steps between evaluations (and one at the last step) */
  evalInterval: number;
  /** batches per split in an evaluation */
  evalIters: number;
  /** seed of the init and of every batch */
  seed: number;
  /** gradient shards per batch: the unit of work of a worker (≤ batch) */
  shards: number;
}

/**
 * The defaults: nanoGPT's `shakespeare_char` "baby GPT" on CPU (the anchor config).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(TRAIN_DEFAULTS.layers === 4 && TRAIN_DEFAULTS.iters === 2000);
 * ```
 */
export const TRAIN_DEFAULTS: Readonly<TrainConfig> = Object.freeze({
  layers: 4,
  heads: 4,
  dim: 128,
  block: 64,
  batch: 12,
  placement: "pre",
  norm: "layer",
  qkNorm: false,
  mixPost: 0,
  dytAlpha: 0.5,
  init: "gpt2",
  lr: 1e-3,
  minLr: 1e-4,
  warmup: 100,
  iters: 2000,
  clip: 1.0,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.99,
  evalInterval: 250,
  evalIters: 20,
  seed: 1337,
  shards: 2,
});

/** One update: `{"type":"step","step","lr","loss","grad_norm","ms"}`. */
export interface StepRecord {
  /** "step" */
  type: "step";
  /** 0-based step */
  step: number;
  /** learning rate used */
  lr: number;
  /** mean cross-entropy of the step's batch (null in JSON when not finite) */
  loss: number;
  /** global gradient norm before clipping */
  grad_norm: number;
  /** wall time of the step in milliseconds */
  ms: number;
}

/** Gradient norms of one block at an evaluation. */
export interface LayerGrad {
  /** block index, input side first */
  layer: number;
  /** ‖∂L/∂θ‖ over all the block's parameters */
  l2: number;
  /** ‖∂L/∂W‖ of each parameter the block has (`ln1_b` unless RMSNorm, `ln1_a` with DyT, …) */
  grad: Record<CoreBlockParam, number> & Partial<Record<BlockParam, number>>;
}

/** An evaluation: `{"type":"eval","step","train_loss","val_loss","layers":[…]}`. */
export interface EvalRecord {
  /** "eval" */
  type: "eval";
  /** the step about to be taken (`iters` for the last) */
  step: number;
  /** mean loss over `evalIters` train batches */
  train_loss: number;
  /** mean loss over `evalIters` val batches */
  val_loss: number;
  /** per-block gradient norms of this step's batch, before clipping */
  layers: LayerGrad[];
}

/** A record of the log. */
export type TrainRecord = StepRecord | EvalRecord;

/** How a run is carried out (none of it changes the numbers, except `backend`). */
export interface TrainRuntime {
  /** worker threads; 1 computes in this thread (default 1) */
  workers?: number;
  /** kernels (default wasm) */
  backend?: Backend;
  /** the OpenBLAS library for `backend: "blas"` */
  blasLib?: string;
  /** the worker module (tests) */
  workerUrl?: URL;
}

/** A checkpoint's content, as `Trainer#checkpoint` gives and `Trainer.create` takes. */
export interface TrainState {
  /** the run's settings */
  config: TrainConfig;
  /** the characters of the vocabulary, in id order */
  vocab: string[];
  /** the next step to take */
  step: number;
  /** parameters, in `CharLM#layout` */
  params: Float32Array;
  /** AdamW first moments */
  m: Float32Array;
  /** AdamW second moments */
  v: Float32Array;
  /** the log so far (for the curves after a resume) */
  history: TrainRecord[];
}

interface Executor {
  grads: Floats;
  run(job: LossJob): Promise<number>;
  close(): void;
}

/**
 * A training run: `advance()` takes one step (with an evaluation first when one is due) and
 * returns its log records, until `done`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { CharData } from "./chardata.ts";
 * const data = CharData.fromText("to be or not to be, that is the question. ".repeat(20));
 * const t = await Trainer.create(data, {
 *   layers: 1, heads: 1, dim: 16, block: 8, batch: 4, iters: 3, warmup: 0, evalInterval: 2,
 *   evalIters: 1,
 * });
 * while (!t.done) await t.advance();
 * assert(t.history.filter((r) => r.type === "step").length === 3);
 * t.close();
 * ```
 */
export class Trainer {
  /** the run's settings */
  readonly config: TrainConfig;
  /** the data */
  readonly data: CharData;
  /** the model (its parameters are the ones trained) */
  readonly lm: CharLM;
  /** every record so far, resumed runs included */
  readonly history: TrainRecord[];
  /** the length of `history` when this session began (0 unless resumed) */
  readonly resumedAt: number;
  #step: number;
  #done = false;
  #diverged: number | null = null;
  #execs: Executor[];
  #workers: number;
  #sum: Floats;
  #m: Floats;
  #v: Floats;
  #x: Int32Array;
  #y: Int32Array;

  private constructor(
    data: CharData,
    config: TrainConfig,
    lm: CharLM,
    execs: Executor[],
    state?: TrainState,
  ) {
    this.data = data;
    this.config = config;
    this.lm = lm;
    this.#execs = execs;
    this.#workers = execs.length;
    const P = lm.params.length, arena = lm.gpt.arena;
    // in the model's arena when it has one: the sum, the norm and AdamW run in WebAssembly
    const make = () =>
      arena
        ? arena.alloc(P)
        : lm.gpt.config.dtype === "float64"
        ? new Float64Array(P)
        : new Float32Array(P);
    this.#sum = make();
    this.#m = make();
    this.#v = make();
    this.#x = new Int32Array(config.batch * config.block);
    this.#y = new Int32Array(config.batch * config.block);
    this.#step = state?.step ?? 0;
    this.history = state ? [...state.history] : [];
    this.resumedAt = this.history.length;
    if (state) {
      this.#m.set(state.m);
      this.#v.set(state.v);
      const last = state.history.findLast((r) => r.type === "step") as StepRecord | undefined;
      if (last && !Number.isFinite(last.loss)) this.#diverged = last.step;
      if (this.#diverged !== null || this.#step > config.iters) this.#done = true;
    }
  }

  /**
   * Checks the settings against the data, builds the model (initialized, or from `state`),
   * starts the workers.
   */
  static async create(
    data: CharData,
    settings: Partial<TrainConfig> = {},
    runtime: TrainRuntime = {},
    state?: TrainState,
  ): Promise<Trainer> {
    const config = checkConfig(fillConfig(settings));
    data.checkBlock(config.block);
    if (state) {
      if (state.vocab.length !== data.size || state.vocab.some((ch, i) => data.vocab[i] !== ch)) {
        throw new UsageError(
          `the checkpoint's vocabulary (${state.vocab.length} characters) is not the data's ` +
            `(${data.size}): resume with the data it was trained on`,
        );
      }
    }
    const workers = runtime.workers ?? 1;
    if (!(Number.isInteger(workers) && workers >= 1 && workers <= 256)) {
      throw new OptionError("workers", `must be a whole number from 1 to 256, got ${workers}`);
    }
    const backend = runtime.backend ?? "wasm";
    const lmConfig: CharLMConfig = {
      ...modelShape(config, data.size),
      backend,
      shared: workers > 1,
      ...(runtime.blasLib === undefined ? {} : { blasLib: runtime.blasLib }),
    };
    // no more workers than shards: the rest would idle
    const n = Math.min(workers, config.shards, config.batch);
    fitsMemory(lmConfig, config, n);
    const lm = new CharLM(lmConfig);
    if (state) {
      if (state.params.length !== lm.params.length) {
        throw new UsageError(
          `the checkpoint holds ${state.params.length} parameters, the model ${lm.params.length}`,
        );
      }
      lm.params.set(state.params);
    } else lm.init({ scheme: config.init, seed: config.seed });
    const execs = n === 1 ? [localExecutor(lm)] : await startWorkers(n, lmConfig, lm, runtime);
    return new Trainer(data, config, lm, execs, state);
  }

  /** worker threads in use (1 = this thread) */
  get workers(): number {
    return this.#workers;
  }

  /** the next step to take */
  get step(): number {
    return this.#step;
  }

  /** true once the last evaluation is done (or the loss stopped being finite) */
  get done(): boolean {
    return this.#done;
  }

  /** the step whose loss or gradient was not finite, or null */
  get diverged(): number | null {
    return this.#diverged;
  }

  /**
   * One step: the batch's gradient (shards in order), an evaluation when due (every
   * `evalInterval` steps and at `iters`), clipping and AdamW. Returns the new records.
   */
  async advance(): Promise<TrainRecord[]> {
    if (this.#done) return [];
    const c = this.config, s = this.#step, t0 = performance.now();
    const B = c.batch, T = c.block, x = this.#x, y = this.#y;
    this.data.batch("train", new Rng(hashAt(c.seed, s, 0)), x, y, B, T);
    const loss = await this.#shards("grad", x, y);
    const g = this.#sum, k = this.lm.gpt.kernels;
    const norm = Math.sqrt(k.sumSq(g, g.length));
    let ms = performance.now() - t0;
    const out: TrainRecord[] = [];
    if (s % c.evalInterval === 0 || s === c.iters) {
      const layers = this.#layerGrads();
      const train_loss = await this.#estimate("train", s);
      const val_loss = await this.#estimate("val", s);
      out.push({ type: "eval", step: s, train_loss, val_loss, layers });
    }
    if (s >= c.iters) {
      this.#done = true;
      this.history.push(...out);
      return out;
    }
    const t1 = performance.now();
    const lr = lrAt(s, c);
    if (!(Number.isFinite(loss) && Number.isFinite(norm))) {
      this.#diverged = s;
      this.#done = true;
    } else {
      const f = clipScale(norm, c.clip); // applied inside the update: g stays as computed
      const p = this.lm.params, m = this.#m, v = this.#v;
      for (const spec of this.lm.layout) {
        const a = spec.offset, b = a + spec.size;
        k.adamw(
          p.subarray(a, b),
          g.subarray(a, b),
          m.subarray(a, b),
          v.subarray(a, b),
          spec.size,
          {
            lr,
            beta1: c.beta1,
            beta2: c.beta2,
            weightDecay: spec.shape.length >= 2 ? c.weightDecay : 0,
            t: s + 1,
            gradScale: f,
          },
        );
      }
    }
    ms += performance.now() - t1;
    out.push({ type: "step", step: s, lr, loss, grad_norm: norm, ms });
    this.#step = s + 1;
    this.history.push(...out);
    return out;
  }

  /** Runs the shards of a batch; the loss is the batch mean; "grad" leaves Σ gradients in #sum. */
  async #shards(kind: "grad" | "loss", x: Int32Array, y: Int32Array): Promise<number> {
    const { batch: B, block: T } = this.config, S = Math.min(this.config.shards, B);
    const W = this.#execs.length, N = B * T, pending: Promise<number>[] = [];
    // shard k holds sequences b0 … b1−1
    const bounds = (k: number) => [Math.floor((k * B) / S), Math.floor(((k + 1) * B) / S)];
    const launch = (k: number) => {
      const [b0, b1] = bounds(k);
      pending[k] = this.#execs[k % W].run({
        type: kind,
        x: x.slice(b0 * T, b1 * T),
        y: y.slice(b0 * T, b1 * T),
        B: b1 - b0,
        T,
        over: N,
      });
    };
    for (let k = 0; k < Math.min(W, S); k++) launch(k);
    let total = 0;
    for (let k = 0; k < S; k++) {
      const lk = await pending[k];
      const [b0, b1] = bounds(k);
      total += lk * (b1 - b0) * T;
      if (kind === "grad") {
        const g = this.#execs[k % W].grads, sum = this.#sum;
        if (k === 0) sum.set(g);
        else this.lm.gpt.kernels.add(sum, sum, g, sum.length);
      }
      if (k + W < S) launch(k + W);
    }
    return total / N;
  }

  /** Mean loss over `evalIters` batches of a split, drawn from a seed of (seed, step, split). */
  async #estimate(split: Split, step: number): Promise<number> {
    const c = this.config, rng = new Rng(hashAt(c.seed, step, split === "train" ? 1 : 2));
    const x = this.#x, y = this.#y; // the step's batch is done with: its shards are sent
    let sum = 0;
    for (let i = 0; i < c.evalIters; i++) {
      this.data.batch(split, rng, x, y, c.batch, c.block);
      sum += await this.#shards("loss", x, y);
    }
    return sum / c.evalIters;
  }

  #layerGrads(): LayerGrad[] {
    const g = this.#sum, out: LayerGrad[] = [];
    for (let l = 0; l < this.config.layers; l++) {
      const grad = {} as LayerGrad["grad"], prefix = `blocks.${l}.`;
      let all = 0;
      for (const s of this.lm.layout) {
        if (!s.name.startsWith(prefix)) continue;
        let sq = 0;
        for (let i = s.offset; i < s.offset + s.size; i++) sq += g[i] * g[i];
        grad[s.name.slice(prefix.length) as BlockParam] = Math.sqrt(sq);
        all += sq;
      }
      out.push({ layer: l, l2: Math.sqrt(all), grad });
    }
    return out;
  }

  /**
   * The run's state, for a checkpoint (see `encodeCheckpoint`).
   */
  state(): TrainState {
    const f32 = (a: Floats) => a instanceof Float32Array ? a.slice() : Float32Array.from(a);
    return {
      config: { ...this.config },
      vocab: [...this.data.vocab],
      step: this.#step,
      params: f32(this.lm.params),
      m: f32(this.#m),
      v: f32(this.#v),
      history: [...this.history],
    };
  }

  /**
   * `n` characters drawn from the model after `prompt` (default a newline when the
   * vocabulary has one), at `temperature`, seeded.
   */
  sample(n: number, o: { temperature?: number; seed?: number; prompt?: string } = {}): string {
    const temperature = o.temperature ?? 1, rng = new Rng(o.seed ?? this.config.seed);
    if (!(temperature > 0 && Number.isFinite(temperature))) {
      throw new OptionError("temperature", `must be a positive number, got ${temperature}`);
    }
    const V = this.data.size, T = this.config.block;
    const start = o.prompt ?? (this.data.vocab.includes("\n") ? "\n" : this.data.vocab[0]);
    const ids = [...this.data.encode(start)];
    const p = new Float64Array(V), out: number[] = [];
    for (let i = 0; i < n; i++) {
      const ctx = Int32Array.from(ids.slice(-T));
      this.lm.nextProbs(ctx, p);
      // p^(1/temperature), renormalized
      let z = 0;
      for (let v = 0; v < V; v++) z += p[v] = Math.pow(p[v], 1 / temperature);
      let u = rng.uniform() * z, next = V - 1;
      for (let v = 0; v < V; v++) {
        u -= p[v];
        if (u <= 0) {
          next = v;
          break;
        }
      }
      ids.push(next);
      out.push(next);
    }
    return this.data.decode(out);
  }

  /** Stops the workers. */
  close(): void {
    for (const e of this.#execs) e.close();
    this.#execs = [];
  }
}

/**
 * The model a run's settings describe, for a vocabulary of `vocab` characters.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(modelShape(TRAIN_DEFAULTS, 65).nEmbd === 128);
 * ```
 */
export function modelShape(c: TrainConfig, vocab: number): CharLMConfig {
  return {
    vocab,
    block: c.block,
    nLayer: c.layers,
    nHead: c.heads,
    nEmbd: c.dim,
    placement: c.placement,
    norm: c.norm,
    qkNorm: c.qkNorm,
    mixPost: c.mixPost,
    dytAlpha: c.dytAlpha,
  };
}

/**
 * Settings with the defaults filled in: `TRAIN_DEFAULTS`, and for `mix` without `mixPost`
 * Mix-LN's ⌊layers/4⌋ post-LN blocks.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(fillConfig({ placement: "mix", layers: 8 }).mixPost === 2);
 * assert(fillConfig({}).norm === "layer");
 * ```
 */
export function fillConfig(settings: Partial<TrainConfig>): TrainConfig {
  const c = { ...TRAIN_DEFAULTS, ...settings };
  if (settings.mixPost === undefined && c.placement === "mix") c.mixPost = Math.floor(c.layers / 4);
  return c;
}

/**
 * Refuses settings no run can use (an `OptionError`, exit 64, naming the field); returns them.
 * The one check of a `TrainConfig`: the command line only parses its flags.
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * assertThrows(() => checkConfig({ ...TRAIN_DEFAULTS, lr: -1 }), Error, "lr must be");
 * ```
 */
export function checkConfig(c: TrainConfig): TrainConfig {
  const whole = (name: keyof TrainConfig, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const v = c[name] as number;
    if (!(Number.isInteger(v) && v >= min && v <= max)) {
      const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
      throw new OptionError(name, `must be a whole number ${range}, got ${v}`);
    }
  };
  whole("layers", 1);
  whole("heads", 1);
  whole("dim", 1);
  whole("block", 1);
  whole("batch", 1);
  whole("warmup", 0);
  whole("iters", 0);
  whole("evalInterval", 1);
  whole("evalIters", 1);
  // seeds are 32-bit: a larger one would repeat a smaller one's numbers
  whole("seed", 0, 2 ** 32 - 1);
  whole("shards", 1);
  if (c.batch * c.block > 2 ** 24) {
    throw new UsageError(
      `\`batch\` × \`block\` = ${c.batch * c.block} characters per step; at most ${2 ** 24}`,
    );
  }
  if (c.dim % c.heads !== 0) {
    throw new OptionError("dim", `${c.dim} must be a multiple of \`heads\` ${c.heads}`);
  }
  const pos = (name: keyof TrainConfig) => {
    const v = c[name] as number;
    if (!(Number.isFinite(v) && v > 0)) {
      throw new OptionError(name, `must be a positive number, got ${v}`);
    }
  };
  pos("lr");
  pos("minLr");
  if (c.minLr > c.lr) {
    throw new OptionError("minLr", `${c.minLr} is above \`lr\` ${c.lr}: the decay would rise`);
  }
  for (const name of ["clip", "weightDecay"] as const) {
    if (!(Number.isFinite(c[name]) && c[name] >= 0)) {
      throw new OptionError(name, `must be a number ≥ 0, got ${c[name]}`);
    }
  }
  for (const name of ["beta1", "beta2"] as const) {
    if (!(c[name] >= 0 && c[name] < 1)) {
      throw new OptionError(name, `must be a number in [0, 1), got ${c[name]}`);
    }
  }
  const choice = <T extends string>(name: keyof TrainConfig, allowed: readonly T[]) => {
    try {
      checkChoice(name, c[name], allowed);
    } catch (e) {
      throw new OptionError(name, (e as Error).message.replace(/^\S+ /, ""));
    }
  };
  choice("placement", PLACEMENTS);
  choice("norm", NORM_KINDS);
  if (typeof c.qkNorm !== "boolean") {
    throw new OptionError("qkNorm", `must be true or false, got ${JSON.stringify(c.qkNorm)}`);
  }
  whole("mixPost", 0, c.layers);
  if (c.placement !== "mix" && c.mixPost !== 0) {
    throw new OptionError("mixPost", `is for placement mix, not ${c.placement}`);
  }
  if (!Number.isFinite(c.dytAlpha)) {
    throw new OptionError("dytAlpha", `must be a finite number, got ${c.dytAlpha}`);
  }
  if (c.init !== "gpt2" && c.init !== "xavier") {
    throw new OptionError("init", `must be gpt2 or xavier, got ${JSON.stringify(c.init)}`);
  }
  return c;
}

/**
 * Refuses a run whose model, optimizer and per-worker activations cannot fit the 4 GiB of a
 * WebAssembly memory (exit 64, with the sizes), before anything is allocated: the parameters,
 * the gradient sum and AdamW's two moments, then per worker a gradient and the activations.
 */
function fitsMemory(lm: CharLMConfig, c: TrainConfig, workers: number) {
  const shardB = Math.ceil(c.batch / Math.min(c.shards, c.batch)), T = c.block, C = c.dim;
  const stack = GPT.bytesFor(lm, shardB, T);
  const P = stack.params + (lm.vocab + T) * C * 4;
  const act = stack.activations + shardB * T * (lm.vocab + 2 * C) * 4;
  const need = 4 * P + workers * (P + act);
  const gib = (b: number) => (b / 2 ** 30).toFixed(2);
  if (need > 2 ** 32) {
    throw new UsageError(
      `the run needs ${gib(need)} GiB of WebAssembly memory (limit 4 GiB): parameters, their ` +
        `gradient sum and AdamW's moments ${gib(4 * P)} GiB, each of ${workers} worker(s) ` +
        `${gib(P + act)} GiB (a shard ` +
        `of ${shardB} sequences of ${T} characters); use a smaller \`batch\`, \`block\`, \`dim\` or ` +
        `\`layers\`, or more \`shards\``,
    );
  }
}

function localExecutor(lm: CharLM): Executor {
  return {
    grads: lm.grads,
    run(j: LossJob) {
      if (j.type === "loss") return Promise.resolve(lm.loss(j.x, j.y, j.B, j.T));
      lm.zeroGrad();
      return Promise.resolve(lm.lossAndGrad(j.x, j.y, j.B, j.T, j.over));
    },
    close() {},
  };
}

/** `n` train workers on the model's shared parameters, each with its gradient buffer. */
async function startWorkers(
  n: number,
  config: CharLMConfig,
  lm: CharLM,
  runtime: TrainRuntime,
): Promise<Executor[]> {
  const url = runtime.workerUrl ?? new URL("../../workers/train.ts", import.meta.url);
  canLoadWorkers(url);
  const init: TrainWorkerInit = {
    type: "init",
    config,
    share: lm.share(),
    // the main thread's compiled kernels: shared machine code, no compile in the worker
    ...(lm.gpt.arena ? { kernels: kernelModule() } : {}),
  };
  const pool = new WorkerPool<TrainWorkerInit, ShardJob, ShardReply>(n, init, url, {
    name: "train worker",
  });
  try {
    const replies = await Promise.all(
      Array.from({ length: n }, (_, i) => pool.runOn(i, { type: "grads" })),
    );
    return replies.map(({ grads }, i) => ({
      // each worker's gradient buffer: a view of the arena here (or the shared buffer)
      grads: lm.gpt.arena ? lm.gpt.arena.f32(grads!.byteOffset, grads!.length) : grads!,
      run: async (job: LossJob) => (await pool.runOn(i, job)).loss!,
      close: () => pool.close(),
    }));
  } catch (e) {
    pool.close();
    throw e;
  }
}

/** The last record of a run: `{"type":"summary",…}`. */
export interface TrainSummary {
  /** "summary" */
  type: "summary";
  /** the next step (= `iters` + 0 when the run is complete) */
  step: number;
  /** the run's length */
  iters: number;
  /** the last evaluation, or null */
  final: { step: number; train_loss: number; val_loss: number } | null;
  /** the lowest val loss of any evaluation, or null */
  best_val_loss: number | null;
  /** the step whose loss was not finite, or the first after which the mean loss of the last 10
   * steps rose above the loss at initialization; null when neither happened */
  diverged_step: number | null;
  /** mean milliseconds per step over this session's steps */
  ms_per_step: number | null;
  /** trained parameters */
  params: number;
  /** worker threads used */
  workers: number;
  /** kernels used */
  backend: Backend;
  /** the run's settings */
  config: TrainConfig;
}

/**
 * Where a run went wrong: the first step whose loss is not finite, or the first step after
 * which the mean loss of the last `window` steps is above the loss at initialization (the
 * step-0 evaluation's train loss when there is one, else the step-0 loss) by more than that
 * mean's noise — 4 standard errors (s/√window, s the window's standard deviation) and 1 % of
 * the start; null otherwise. A run that does not move (a learning rate near 0) hovers around its
 * start, half of its windows above it: that is not divergence, a climb is.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const step = (s: number, loss: number) =>
 *   ({ type: "step" as const, step: s, lr: 1, loss, grad_norm: 1, ms: 1 });
 * assert(divergedAt([step(0, 4), step(1, NaN)]) === 1);
 * assert(divergedAt([step(0, 4), step(1, 3), step(2, 3.5)], 2) === null);
 * assert(divergedAt([step(0, 4), step(1, 4.02), step(2, 3.99)], 2) === null); // noise
 * assert(divergedAt([step(0, 4), step(1, 5), step(2, 5)], 2) === 2); // (5 + 5) / 2 > 4
 * ```
 */
export function divergedAt(history: readonly TrainRecord[], window = 10): number | null {
  const steps = history.filter((r): r is StepRecord => r.type === "step");
  const ev0 = history.find((r): r is EvalRecord => r.type === "eval" && r.step === 0);
  if (steps.length === 0) return null;
  const start = ev0?.train_loss ?? steps[0].loss;
  // the window's sums of (loss − start) and its square: small numbers, no cancellation
  let sum = 0, sq = 0;
  for (let i = 0; i < steps.length; i++) {
    const l = steps[i].loss;
    if (l === null || !Number.isFinite(l)) return steps[i].step;
    sum += l - start;
    sq += (l - start) ** 2;
    if (i >= window) {
      const o = steps[i - window].loss - start;
      sum -= o;
      sq -= o * o;
    }
    if (i < window - 1) continue;
    const above = sum / window, sd = Math.sqrt(Math.max(0, (sq - sum * above) / (window - 1)));
    if (above > 4 * sd / Math.sqrt(window) && above > 0.01 * Math.abs(start)) {
      return steps[i].step;
    }
  }
  return null;
}

/**
 * The run's summary so far.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { CharData } from "./chardata.ts";
 * const data = CharData.fromText("abcdefgh".repeat(30));
 * const t = await Trainer.create(data, {
 *   layers: 1, heads: 1, dim: 8, block: 4, batch: 2, iters: 2, warmup: 0, evalIters: 1,
 * });
 * while (!t.done) await t.advance();
 * const s = summarize(t);
 * assert(s.final!.step === 2 && s.params === t.lm.params.length);
 * t.close();
 * ```
 */
export function summarize(t: Trainer): TrainSummary {
  const evals = t.history.filter((r): r is EvalRecord => r.type === "eval");
  const last = evals.at(-1);
  const mine = t.history.slice(t.resumedAt).filter((r): r is StepRecord => r.type === "step");
  const vals = evals.map((e) => e.val_loss).filter((v) => Number.isFinite(v));
  return {
    type: "summary",
    step: t.step,
    iters: t.config.iters,
    final: last ? { step: last.step, train_loss: last.train_loss, val_loss: last.val_loss } : null,
    best_val_loss: vals.length ? Math.min(...vals) : null,
    diverged_step: divergedAt(t.history),
    ms_per_step: mine.length ? mine.reduce((a, r) => a + r.ms, 0) / mine.length : null,
    params: t.lm.params.length,
    workers: t.workers,
    backend: t.lm.gpt.config.backend,
    config: { ...t.config },
  };
}

/** What `train` takes: the settings, how to run them, the data and where records go. */
export interface TrainOptions extends Partial<TrainConfig>, TrainRuntime {
  /** the text (default: the built-in tiny Shakespeare) */
  data?: CharData | string | Uint8Array;
  /** continue from a checkpoint's state (its settings win over the ones given) */
  resume?: TrainState;
  /** stop once this many steps are done (the schedule still runs to `iters`) */
  until?: number;
  /** hears every record as it is made, with the trainer that made it */
  onRecord?: (r: TrainRecord, trainer: Trainer) => void;
  /** ends the run after the current step */
  signal?: AbortSignal;
}

/**
 * The built-in dataset: tiny Shakespeare (1,115,394 bytes), shipped with lnstream.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert((await defaultText()).length === 1115394);
 * ```
 */
export async function defaultText(): Promise<Uint8Array> {
  const url = new URL("../../data/tinyshakespeare.txt", import.meta.url);
  if (url.protocol === "file:") return await Deno.readFile(url);
  const r = await fetch(url);
  if (!r.ok) throw new Error(`cannot fetch ${url}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/**
 * Trains a character-level GPT; returns the trainer (its model, history and `sample`, workers
 * stopped) and the summary.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const { summary } = await train({
 *   data: "the quick brown fox jumps over the lazy dog. ".repeat(40),
 *   layers: 1, heads: 2, dim: 16, block: 16, batch: 4, iters: 20, warmup: 0, lr: 3e-3,
 *   evalInterval: 10, evalIters: 2,
 * });
 * assert(summary.final!.val_loss < Math.log(28));
 * ```
 */
export async function train(
  o: TrainOptions = {},
): Promise<{ trainer: Trainer; summary: TrainSummary }> {
  const { data, resume, until, onRecord, signal, workers, backend, blasLib, workerUrl, ...rest } =
    o;
  const d = data instanceof CharData
    ? data
    : typeof data === "string"
    ? CharData.fromText(data)
    : CharData.fromBytes(data ?? await defaultText());
  const runtime: TrainRuntime = { workers, backend, blasLib, workerUrl };
  const settings = resume ? resume.config : rest;
  const t = await Trainer.create(d, settings, runtime, resume);
  try {
    while (!t.done && !(until !== undefined && t.step >= until) && !signal?.aborted) {
      for (const r of await t.advance()) onRecord?.(r, t);
    }
  } finally {
    t.close();
  }
  return { trainer: t, summary: summarize(t) };
}
