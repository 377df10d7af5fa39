/**
 * The computation a stage worker runs on one slot: normalization or a GPT stack, a probe loss,
 * the backward pass, and per-token statistics. Pure given the slot's rows, the task and the
 * batch's global offset, so a batch gives the same bytes whichever worker runs it.
 *
 * One path for every backend: the task's `Kernels` (TypeScript, or WebAssembly on an arena)
 * compute in the slot itself when it lives where they compute, or on copies of its rows.
 *
 * @module
 */
import { Arena } from "../kernels/arena.ts";
import { createKernels, type Kernels, tsKernels } from "../kernels/backend.ts";
import { TOKEN, TOKEN_FIELDS } from "../kernels/stats.ts";
import { rowTextBytes } from "../kernels/format.ts";
import { GPT } from "../model/mod.ts";
import { ExactSum, Moments, NormAcc } from "../stats/mod.ts";
import { type BatchAcc, type Job, type Reply, slotLayout, type StageInit } from "./protocol.ts";

/** A slot's rows and records as the kernels see them (and its text, for NDJSON output). */
interface Rows {
  inp: Float32Array;
  out: Float32Array;
  stats: Float64Array;
  text: Uint8Array | null;
  ends: Uint32Array | null;
}

/**
 * Runs jobs for one `StageInit`; buffers are allocated once, for a full slot.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { slotLayout } from "./protocol.ts";
 * const C = 4, cap = 2, l = slotLayout(cap, C);
 * const sab = new SharedArrayBuffer(l.slotBytes);
 * new Float32Array(sab, 0, 8).set([1, 2, 3, 4, 5, 5, 5, 9]);
 * const r = new StageRunner({ type: "init", sab, slotsAt: 0, capTokens: cap, C, gradSab: null, gradAt: 0, gradFloats: 0,
 *   task: { kind: "normalize", backend: "wasm", norm: "layer", eps: 1e-5, weight: null, bias: null,
 *     seed: 1, nonfinite: "error", gradients: true, statistics: true } });
 * r.run({ type: "job", slot: 0, tokens: 2, offset: 0, grad: -1 });
 * assert(Math.abs(new Float32Array(sab, l.output, 8)[7] - Math.sqrt(3)) < 1e-4);
 * ```
 */
export class StageRunner {
  #init: StageInit;
  #layout: ReturnType<typeof slotLayout>;
  /** the kernels every step of a batch calls */
  #k: Kernels;
  #model: GPT | null = null;
  #ringBuffer: ((g: number) => Float32Array) | null = null;
  #slotArena: Arena | null = null;
  #progress: ((slot: number, fraction: number) => void) | null;
  /** where the kernels compute when the slots are not in their memory (rows copied in and out) */
  #copy: Rows | null = null;
  #weight: Float32Array | null = null;
  #bias: Float32Array | null = null;
  #mean: Float32Array;
  #rstd: Float32Array;
  /** ∂L/∂y of a batch (run, BatchNorm) and ∂L/∂x (BatchNorm) */
  #dy: Float32Array;
  #dx: Float32Array;

  /**
   * Prepares the kernels and buffers (and, for `run`, the model over shared parameters).
   * `progress` hears how far a long batch has come (run: block by block), at most every 200 ms.
   */
  constructor(init: StageInit, progress?: (slot: number, fraction: number) => void) {
    this.#init = init;
    this.#progress = progress ?? null;
    const { capTokens: cap, C } = init;
    const task = init.task;
    this.#layout = slotLayout(cap, C, init.overwrite, init.text);
    // slots in an arena: this thread's handle on it (the model's too, for run)
    const shared = init.memory ? new Arena({ memory: init.memory }) : null;
    this.#slotArena = shared;
    if (task.kind === "run") {
      const config = { ...task.config, dtype: "float32" as const, shared: false };
      // the model accumulates straight into the ring buffer of each batch: no gradients of its own
      const ring = (g: number) => init.gradAt + g * init.gradFloats * 4;
      if (task.memory) {
        const arena = shared && init.memory === task.memory
          ? shared
          : new Arena({ memory: task.memory });
        this.#model = new GPT(config, { arena, paramsAt: task.paramsAt, gradsAt: ring(0) });
        this.#ringBuffer = (g) => arena.f32(ring(g), init.gradFloats);
      } else {
        this.#model = new GPT({ ...config, backend: "ts" }, { params: task.params });
        this.#ringBuffer = (g) => new Float32Array(init.gradSab!, ring(g), init.gradFloats);
      }
      this.#k = this.#model.kernels;
    } else if (task.backend === "ts" || task.norm === "batch") {
      // BatchNorm is per feature over the batch: the TypeScript kernels, as ever
      this.#k = tsKernels;
    } else {
      // the slots' arena, or one of this worker's own for copies of the rows (it grows if need be)
      const arena = shared ??
        new Arena({
          bytes: (2 * cap * C + 2 * cap + 2 * C) * 4 + cap * TOKEN_FIELDS * 8 + (1 << 20),
        });
      this.#k = createKernels("wasm", arena); // normalize multiplies no matrices: never blas
    }
    const k = this.#k;
    // the kernels compute in the slots when they live in their memory, else on copies
    if (k.arena !== null && Arena.of(this.#slotView(0).inp) !== k.arena) {
      const inp = k.alloc(cap * C);
      this.#copy = {
        inp,
        out: init.overwrite ? inp : k.alloc(cap * C),
        stats: k.allocF64(cap * TOKEN_FIELDS),
        text: init.text ? k.arena.allocU8(cap * rowTextBytes(C)) : null,
        ends: init.text ? k.arena.allocU32(cap) : null,
      };
    }
    const own = (v: Float32Array | null) => {
      if (v === null) return null;
      const a = k.alloc(v.length);
      a.set(v);
      return a;
    };
    if (task.kind === "normalize") [this.#weight, this.#bias] = [own(task.weight), own(task.bias)];
    const batch = task.kind === "normalize" && task.norm === "batch";
    this.#mean = k.alloc(batch ? C : task.kind === "normalize" ? cap : 0);
    this.#rstd = k.alloc(batch ? C : task.kind === "normalize" ? cap : 0);
    this.#dy = k.alloc(batch || task.kind === "run" ? cap * C : 0);
    this.#dx = k.alloc(batch ? cap * C : 0);
  }

  /** Slot `slot`'s rows and statistics (views the arena's kernels accept when it has one). */
  #slotView(slot: number): Rows {
    const { C, capTokens: cap } = this.#init, l = this.#layout;
    const buf = this.#slotArena?.buffer ?? this.#init.sab;
    const base = this.#init.slotsAt + slot * l.slotBytes;
    return {
      inp: new Float32Array(buf, base + l.input, cap * C),
      out: new Float32Array(buf, base + l.output, cap * C),
      stats: new Float64Array(buf, base + l.stats, cap * TOKEN_FIELDS),
      text: l.text < 0 ? null : new Uint8Array(buf, base + l.text, l.ends - l.text),
      ends: l.ends < 0 ? null : new Uint32Array(buf, base + l.ends, cap),
    };
  }

  /** Computes one batch in place and returns the reply. */
  run(job: Job): Reply {
    const C = this.#init.C, k = this.#k, task = this.#init.task;
    const slot = this.#slotView(job.slot);
    const reply: Reply = { slot: job.slot, tokens: job.tokens };
    // where the kernels work: the slot itself, or copies of its rows in their memory
    const w = this.#copy ?? slot;
    if (this.#copy) this.#copy.inp.set(slot.inp.subarray(0, job.tokens * C));
    const n = task.kind === "normalize"
      ? this.#normalize(w, job.tokens, job.offset, reply)
      : this.#runStack(w, job.tokens, job.offset, job.grad, reply);
    if (this.#copy) slot.out.set(this.#copy.out.subarray(0, n * C));
    if (w.text && w.ends && n > 0) {
      // NDJSON output: the rows as text, here in the worker
      k.formatRows(w.text, w.out, n, C, w.ends);
      if (this.#copy) {
        slot.text!.set(w.text.subarray(0, w.ends[n - 1]));
        slot.ends!.set(w.ends.subarray(0, n));
      }
    }
    const stats = task.kind === "run" || task.statistics;
    if (stats) reply.acc = accumulate(w.stats, n, C, k);
    return reply;
  }

  /** Row `row` of `inp` holds a non-finite value: `reply.bad` names it; returns the rows kept. */
  #badRow(inp: Float32Array, row: number, reply: Reply): number {
    const C = this.#init.C, r = inp.subarray(row * C, row * C + C);
    const c = r.findIndex((v) => !Number.isFinite(v));
    reply.bad = { row, col: c, value: r[c] };
    return reply.tokens = row;
  }

  /**
   * The first row whose input sum (`stats`, per-token records) is not finite and that holds a
   * non-finite value (finite values whose sum overflowed pass) is refused: `reply.bad` names it,
   * and the rows before it are the batch. Returns the rows kept.
   */
  #refuse(inp: Float32Array, stats: Float64Array, n: number, reply: Reply): number {
    const C = this.#init.C;
    for (let t = 0; t < n; t++) {
      if (Number.isFinite(stats[t * TOKEN_FIELDS + TOKEN.IN])) continue;
      if (inp.subarray(t * C, t * C + C).every(Number.isFinite)) continue; // overflowed sum
      return this.#badRow(inp, t, reply);
    }
    return n;
  }

  /** normalize: n rows of `w`; returns the rows done (fewer when a row is refused). */
  #normalize(w: Rows, n: number, offset: number, reply: Reply): number {
    const task = this.#init.task;
    if (task.kind !== "normalize" || n === 0) return n;
    const k = this.#k, C = this.#init.C, eps = task.eps, error = task.nonfinite === "error";
    const [weight, bias, mean, rstd] = [this.#weight, this.#bias, this.#mean, this.#rstd];
    const rms = task.norm === "rms";
    if (!task.statistics && task.norm !== "batch") {
      // outputs only (maybe over the inputs): a row holding a non-finite value ends the batch
      const done = k.normRows(w.out, mean, rstd, w.inp, weight, bias, n, C, eps, rms, error);
      return done < n ? this.#badRow(w.inp, done, reply) : n;
    }
    if (task.gradients && task.norm !== "batch") {
      // everything per row in one kernel; a row with a non-finite value ends the batch as it was
      const done = k.normStats(
        w.out,
        w.inp,
        weight,
        bias,
        task.seed,
        offset,
        n,
        C,
        eps,
        rms,
        w.stats,
        TOKEN_FIELDS,
        error,
      );
      return done < n ? this.#badRow(w.inp, done, reply) : n;
    }
    // BatchNorm (per feature over the batch), or statistics without gradients: step by step
    k.rowStats(w.stats, w.inp, n, C, TOKEN_FIELDS, TOKEN.IN);
    if (error) n = this.#refuse(w.inp, w.stats, n, reply);
    if (task.norm === "batch") {
      k.batchNormForward(w.out, mean, rstd, w.inp, weight, bias, n, C, eps);
    } else k.normRows(w.out, mean, rstd, w.inp, weight, bias, n, C, eps, rms, false);
    if (!task.statistics) return n;
    k.rowStats(w.stats, w.out, n, C, TOKEN_FIELDS, TOKEN.OUT);
    if (!task.gradients) {
      for (let t = 0; t < n; t++) {
        w.stats.fill(0, t * TOKEN_FIELDS + TOKEN.DY_SQ, (t + 1) * TOKEN_FIELDS);
      }
      return n;
    }
    const dy = this.#dy, dx = this.#dx;
    k.probeFill(dy, task.seed, offset, n, C);
    dx.fill(0, 0, n * C);
    k.batchNormBackward(dx, null, null, dy, w.inp, weight, mean, rstd, n, C);
    k.gradStats(w.stats, w.out, dy, dx, n, C, TOKEN_FIELDS, TOKEN.DY_SQ);
    return n;
  }

  /** run: the stack over n rows of `w` in sequences; returns the rows done. */
  #runStack(w: Rows, n: number, offset: number, grad: number, reply: Reply): number {
    const task = this.#init.task, model = this.#model!, k = this.#k;
    if (task.kind !== "run") return n;
    const C = this.#init.C, T = task.seq;
    // the input rows' moments first: a non-finite element makes its row's sum non-finite
    k.rowStats(w.stats, w.inp, n, C, TOKEN_FIELDS, TOKEN.IN);
    if (task.nonfinite === "error") n = this.#refuse(w.inp, w.stats, n, reply);
    const scale = task.loss === "l2" ? 0.5 : 1; // l2: R = y, and the loss is half of Σ y·R
    if (grad >= 0) model.useGrads(this.#ringBuffer!(grad));
    model.zeroGrad();
    // full sequences as one [B, T] pass, then a shorter last sequence on its own
    const full = Math.floor(n / T), rest = n - full * T;
    const parts: [number, number, number][] = [];
    if (full > 0) parts.push([0, full, T]);
    if (rest > 0) parts.push([full * T, 1, rest]);
    let last = performance.now();
    const report = this.#progress;
    for (const [t0, B, len] of parts) {
      const m = B * len, lo = t0 * C, hi = lo + m * C;
      model.onBlock = report && ((done, total) => {
        const now = performance.now();
        if (now - last < 200) return;
        last = now;
        report(reply.slot, (t0 + (m * done) / total) / n);
      });
      const y = model.forward(w.inp.subarray(lo, hi), B, len) as Float32Array;
      w.out.set(y, lo);
      const d = this.#dy.subarray(lo, hi);
      if (task.loss === "l2") d.set(y);
      else k.probeFill(d, task.seed, offset + t0, m, C);
      const dx = model.backward(d);
      // statistics of this part while y and dx are valid (they are the model's buffers)
      const at = w.stats.subarray(t0 * TOKEN_FIELDS);
      k.rowStats(at, y, m, C, TOKEN_FIELDS, TOKEN.OUT);
      k.gradStats(at, y, d, dx, m, C, TOKEN_FIELDS, TOKEN.DY_SQ, scale);
    }
    reply.stack = model.layerStats();
    reply.sums = model.normSums();
    return n;
  }
}

/**
 * A batch's statistics from its tokens' records (`kernels.batchSums`: each statistic leaves
 * out only the tokens whose own fields are not finite), as the mergeable record a reply
 * carries.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { Moments } from "../stats/mod.ts";
 * import { tsKernels } from "../kernels/backend.ts";
 * import { TOKEN, TOKEN_FIELDS } from "../kernels/stats.ts";
import { rowTextBytes } from "../kernels/format.ts";
 * const ts = new Float64Array(2 * TOKEN_FIELDS);
 * ts.set([4, 2, 1, 3], TOKEN.IN); // token 0: Σx 4, M2 2, min 1, max 3 (C = 2)
 * ts[TOKEN_FIELDS + TOKEN.IN] = NaN; // token 1: not finite
 * const acc = accumulate(ts, 2, 2, tsKernels);
 * assert(acc.nonfinite === 1 && Moments.from(acc.inp).summary().mean === 2);
 * ```
 */
export function accumulate(ts: Float64Array, n: number, C: number, kernels: Kernels): BatchAcc {
  const b = kernels.batchSums(ts, n, C, TOKEN_FIELDS);
  const bi = new Moments(), bo = new Moments(), by = new NormAcc(), bx = new NormAcc();
  const bl = new ExactSum();
  bi.addSums(C, b.inp.tokens, b.inp.s, b.inp.q, b.inp.m2, b.inp.lo, b.inp.hi);
  bo.addSums(C, b.out.tokens, b.out.s, b.out.q, b.out.m2, b.out.lo, b.out.hi);
  by.addTokens(b.dy.sq, b.dy.max);
  bx.addTokens(b.dx.sq, b.dx.max);
  bl.addAll(b.loss);
  return {
    inp: bi.toJSON(),
    out: bo.toJSON(),
    dy: by.toJSON(),
    dx: bx.toJSON(),
    loss: bl.toJSON(),
    nonfinite: n - b.inp.tokens,
    nonfiniteOut: n - b.out.tokens,
  };
}
