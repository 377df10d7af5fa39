/**
 * The computation a stage worker runs on one slot: normalization or a GPT stack, a probe loss,
 * the backward pass, and per-token statistics. Pure given the slot's rows, the task and the
 * batch's global offset, so a batch gives the same bytes whichever worker runs it.
 *
 * On the wasm and blas backends everything per token runs in WebAssembly in a worker-local
 * arena (the rows are copied in and out): the normalization, the probe direction, the row
 * moments and the gradient norms.
 *
 * @module
 */
import {
  batchNormBackward,
  batchNormForward,
  layerNormBackward,
  layerNormForward,
  rmsNormBackward,
  rmsNormForward,
} from "../kernels/mod.ts";
import { layerNormBackwardTs, layerNormForwardTs } from "../kernels/layernorm.ts";
import { rmsNormBackwardTs, rmsNormForwardTs } from "../kernels/rmsnorm.ts";
import { Arena } from "../kernels/arena.ts";
import { BATCH_SUM_BINS, WasmKernels } from "../kernels/wasm.ts";
import { GPT } from "../model/mod.ts";
import { probeKey, probeRow } from "../model/rng.ts";
import { ExactSum, Moments, NormAcc } from "../stats/mod.ts";
import {
  type BatchAcc,
  type Job,
  type Reply,
  slotLayout,
  type StageInit,
  TOKEN,
  TOKEN_FIELDS,
} from "./protocol.ts";

/**
 * Arena buffers of the wasm path, sized for a full slot. `copy` holds rows and statistics
 * only when the slots are not in the arena (they are copied in and out; outputs over inputs
 * when the slots have one region); otherwise the kernels read and write the slots in place.
 */
interface Fast {
  k: WasmKernels;
  /** run: the probe gradient ∂L/∂y of a batch (normalize's kernels keep it per row) */
  dy: Float32Array | null;
  mean: Float32Array;
  rstd: Float32Array;
  weight: Float32Array | null;
  bias: Float32Array | null;
  copy: { inp: Float32Array; out: Float32Array; stats: Float64Array } | null;
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
  #mean: Float32Array;
  #rstd: Float32Array;
  #dy: Float32Array;
  #dx: Float32Array;
  #model: GPT | null = null;
  #fast: Fast | null = null;
  #ringBuffer: ((g: number) => Float32Array) | null = null;
  #slotArena: Arena | null = null;
  #progress: ((slot: number, fraction: number) => void) | null;
  #rowScratch: {
    x: Float32Array;
    dy: Float32Array;
    dx: Float32Array;
    mean: Float32Array;
    rstd: Float32Array;
  } | null = null;

  /**
   * Prepares scratch buffers (and, for `run`, the model over shared parameters). `progress`
   * hears how far a long batch has come (run: block by block), at most every 200 ms.
   */
  constructor(init: StageInit, progress?: (slot: number, fraction: number) => void) {
    this.#init = init;
    this.#progress = progress ?? null;
    const { capTokens: cap, C } = init;
    const task = init.task;
    this.#layout = slotLayout(cap, C, init.overwrite);
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
        const inPlace = Arena.of(this.#slotView(0).inp) === arena;
        this.#fast = fastBuffers(arena, cap, C, null, null, !inPlace, false, true);
      } else {
        this.#model = new GPT({ ...config, backend: "ts" }, { params: task.params });
        this.#ringBuffer = (g) => new Float32Array(init.gradSab!, ring(g), init.gradFloats);
      }
    } else if (task.backend !== "ts" && task.norm !== "batch") {
      // without an arena to share: room for the copied rows and statistics (it grows if need be)
      const arena = shared ??
        new Arena({
          bytes: (2 * cap * C + 2 * cap + 2 * C) * 4 + cap * TOKEN_FIELDS * 8 + (1 << 20),
        });
      const one = init.overwrite === true;
      this.#fast = fastBuffers(arena, cap, C, task.weight, task.bias, shared === null, one, false);
    }
    // the TypeScript path's scratch (BatchNorm's statistics are per channel)
    const ts = this.#fast === null;
    this.#mean = new Float32Array(ts ? Math.max(cap, C) : 0);
    this.#rstd = new Float32Array(ts ? Math.max(cap, C) : 0);
    this.#dy = new Float32Array(ts ? cap * C : 0);
    this.#dx = new Float32Array(ts ? cap * C : 0);
  }

  /** Slot `slot`'s rows and statistics (views the arena's kernels accept when it has one). */
  #slotView(slot: number) {
    const { C, capTokens: cap } = this.#init, l = this.#layout;
    const buf = this.#slotArena?.buffer ?? this.#init.sab;
    const base = this.#init.slotsAt + slot * l.slotBytes;
    return {
      inp: new Float32Array(buf, base + l.input, cap * C),
      out: new Float32Array(buf, base + l.output, cap * C),
      stats: new Float64Array(buf, base + l.stats, cap * TOKEN_FIELDS),
    };
  }

  /** Computes one batch in place and returns the reply. */
  run(job: Job): Reply {
    const C = this.#init.C;
    const slot = this.#slotView(job.slot);
    const reply: Reply = { slot: job.slot, tokens: job.tokens };
    const fast = this.#fast;
    let n = job.tokens;
    // where the kernels work: the slot itself, or copies in the worker's arena
    const w = fast?.copy ?? slot;
    if (fast?.copy) fast.copy.inp.set(slot.inp.subarray(0, n * C));
    const task = this.#init.task;
    const stats = task.kind === "run" || task.statistics;
    const error = task.nonfinite === "error";
    if (fast && task.kind === "normalize" && !task.statistics) {
      // outputs only (maybe over the inputs): a row holding a non-finite value ends the batch
      const done = fast.k.normRows(
        w.out,
        fast.mean,
        fast.rstd,
        w.inp,
        fast.weight,
        fast.bias,
        n,
        C,
        task.eps,
        task.norm === "rms",
        error,
      );
      if (done < n) n = this.#badRow(w.inp, done, reply);
    } else if (fast && task.kind === "normalize" && task.statistics && task.gradients) {
      // everything per row in one kernel; a refused row's successors are simply not sent
      const k = fast.k, rms = task.norm === "rms";
      const { seed, eps } = task;
      for (let done = 0;;) {
        done += k.normStats(
          w.out.subarray(done * C),
          w.inp.subarray(done * C),
          fast.weight,
          fast.bias,
          seed,
          job.offset + done,
          n - done,
          C,
          eps,
          rms,
          w.stats.subarray(done * TOKEN_FIELDS),
          TOKEN_FIELDS,
          probeKey,
          error,
        );
        if (done === n) break;
        // a row with a non-finite value ended the batch, left as it was: name the value
        if (error && !w.inp.subarray(done * C, done * C + C).every(Number.isFinite)) {
          n = this.#badRow(w.inp, done, reply);
          break;
        }
        // a row too small for float32 (spread and eps below 1e-30): the float64 reference's
        this.#normalizeRowTs(w.out, w.inp, w.stats, done, job.offset + done);
        done++;
      }
    } else {
      // the input rows' moments first: a non-finite element makes its row's sum non-finite
      if (stats || task.nonfinite === "error") {
        if (fast) fast.k.rowStats(w.stats, w.inp, n, C, TOKEN_FIELDS, TOKEN.IN);
        else rowMoments(w.stats, TOKEN.IN, w.inp, n, C);
      }
      if (error) n = this.#refuse(w.inp, w.stats, n, reply);
      if (task.kind === "normalize") this.#normalize(w.out, w.inp, w.stats, n, job.offset);
      else this.#runStack(w.out, w.inp, w.stats, n, job.offset, job.grad, reply);
    }
    if (fast?.copy) slot.out.set(fast.copy.out.subarray(0, n * C));
    if (stats) reply.acc = accumulate(w.stats, n, C, fast?.k);
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

  #normalize(
    out: Float32Array,
    inp: Float32Array,
    ts: Float64Array,
    n: number,
    offset: number,
  ) {
    const task = this.#init.task;
    if (task.kind !== "normalize" || n === 0) return;
    const C = this.#init.C, eps = task.eps, grads = task.gradients;
    const f = this.#fast;
    if (f !== null) {
      // the wasm path comes here only for statistics without gradients (run() sends outputs
      // alone to normRows and statistics with gradients to normStats)
      f.k.normRows(
        out,
        f.mean,
        f.rstd,
        inp,
        f.weight,
        f.bias,
        n,
        C,
        eps,
        task.norm === "rms",
        false,
      );
      f.k.rowStats(ts, out, n, C, TOKEN_FIELDS, TOKEN.OUT);
      return noGradients(ts, n);
    }
    const dy = this.#dy, dx = this.#dx, w = task.weight, b = task.bias;
    const mean = this.#mean, rstd = this.#rstd;
    if (task.norm === "layer") layerNormForward(out, mean, rstd, inp, w, b, n, C, eps);
    else if (task.norm === "rms") rmsNormForward(out, rstd, inp, w, n, C, eps);
    else batchNormForward(out, mean, rstd, inp, w, b, n, C, eps);
    if (!task.statistics) return;
    rowMoments(ts, TOKEN.OUT, out, n, C);
    if (!grads) return noGradients(ts, n);
    for (let t = 0; t < n; t++) probeRow(dy, t * C, task.seed, offset + t, C);
    dx.fill(0, 0, n * C);
    if (task.norm === "layer") layerNormBackward(dx, null, null, dy, inp, w, mean, rstd, n, C);
    else if (task.norm === "rms") rmsNormBackward(dx, null, dy, inp, w, rstd, n, C);
    else batchNormBackward(dx, null, null, dy, inp, w, mean, rstd, n, C);
    gradientStats(ts, out, dy, dx, n, C, 1);
  }

  /**
   * Row `t` of a normalize batch by the TypeScript reference (float64 sums): the output and
   * every statistic, as the ts backend computes them.
   */
  #normalizeRowTs(
    out: Float32Array,
    inp: Float32Array,
    ts: Float64Array,
    t: number,
    token: number,
  ) {
    const task = this.#init.task, C = this.#init.C;
    if (task.kind !== "normalize") return;
    const s = this.#rowScratch ??= {
      x: new Float32Array(C),
      dy: new Float32Array(C),
      dx: new Float32Array(C),
      mean: new Float32Array(1),
      rstd: new Float32Array(1),
    };
    s.x.set(inp.subarray(t * C, t * C + C)); // the output may take the input's place
    const y = out.subarray(t * C, t * C + C), st = ts.subarray(t * TOKEN_FIELDS);
    const w = task.weight, b = task.bias, rms = task.norm === "rms";
    rowMoments(st, TOKEN.IN, s.x, 1, C);
    if (rms) rmsNormForwardTs(y, s.rstd, s.x, w, 1, C, task.eps);
    else layerNormForwardTs(y, s.mean, s.rstd, s.x, w, b, 1, C, task.eps);
    rowMoments(st, TOKEN.OUT, y, 1, C);
    probeRow(s.dy, 0, task.seed, token, C);
    s.dx.fill(0);
    if (rms) rmsNormBackwardTs(s.dx, null, s.dy, s.x, w, s.rstd, 1, C);
    else layerNormBackwardTs(s.dx, null, null, s.dy, s.x, w, s.mean, s.rstd, 1, C);
    gradientStats(st, y, s.dy, s.dx, 1, C, 1);
  }

  #runStack(
    out: Float32Array,
    inp: Float32Array,
    stats: Float64Array,
    n: number,
    offset: number,
    grad: number,
    reply: Reply,
  ) {
    const task = this.#init.task, model = this.#model!;
    if (task.kind !== "run") return;
    const C = this.#init.C, T = task.seq, f = this.#fast;
    const dy = f ? f.dy! : this.#dy, ts = stats;
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
      const y = model.forward(inp.subarray(lo, hi), B, len);
      out.set(y, lo);
      const d = dy.subarray(lo, hi);
      if (task.loss === "l2") d.set(y);
      else if (f) f.k.probeFill(d, task.seed, offset + t0, m, C, probeKey);
      else for (let t = 0; t < m; t++) probeRow(d, t * C, task.seed, offset + t0 + t, C);
      const dx = model.backward(d);
      // statistics of this part while y and dx are valid (they are the model's buffers)
      const at = ts.subarray(t0 * TOKEN_FIELDS);
      if (f) {
        f.k.rowStats(at, y as Float32Array, m, C, TOKEN_FIELDS, TOKEN.OUT);
        f.k.gradStats(
          at,
          y as Float32Array,
          d,
          dx as Float32Array,
          m,
          C,
          TOKEN_FIELDS,
          TOKEN.DY_SQ,
          scale,
        );
      } else {
        rowMoments(at, TOKEN.OUT, y as Float32Array, m, C);
        gradientStats(at, y as Float32Array, d, dx as Float32Array, m, C, scale);
      }
    }
    reply.stack = model.layerStats();
    reply.sums = model.normSums();
  }
}

/**
 * The wasm path's buffers in `arena`: copies of a slot's rows (one region when outputs go over
 * inputs) and statistics when `copy`, and the probe gradient when `probe` (run).
 */
function fastBuffers(
  arena: Arena,
  cap: number,
  C: number,
  weight: Float32Array | null,
  bias: Float32Array | null,
  copy: boolean,
  overwrite: boolean,
  probe: boolean,
): Fast {
  const own = (v: Float32Array | null) => {
    if (v === null) return null;
    const a = arena.alloc(v.length);
    a.set(v);
    return a;
  };
  const rows = () => {
    const inp = arena.alloc(cap * C);
    return { inp, out: overwrite ? inp : arena.alloc(cap * C) };
  };
  return {
    k: new WasmKernels(arena),
    dy: probe ? arena.alloc(cap * C) : null,
    mean: arena.alloc(cap),
    rstd: arena.alloc(cap),
    weight: own(weight),
    bias: own(bias),
    copy: copy ? { ...rows(), stats: arena.allocF64(cap * TOKEN_FIELDS) } : null,
  };
}

/**
 * A batch's statistics from its tokens' records: each statistic leaves out only the tokens
 * whose own fields are not finite (counted for the moments).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { Moments } from "../stats/mod.ts";
 * import { TOKEN, TOKEN_FIELDS } from "./protocol.ts";
 * const ts = new Float64Array(2 * TOKEN_FIELDS);
 * ts.set([4, 2, 1, 3], TOKEN.IN); // token 0: Σx 4, M2 2, min 1, max 3 (C = 2)
 * ts[TOKEN_FIELDS + TOKEN.IN] = NaN; // token 1: not finite
 * const acc = accumulate(ts, 2, 2);
 * assert(acc.nonfinite === 1 && Moments.from(acc.inp).summary().mean === 2);
 * ```
 */
export function accumulate(
  ts: Float64Array,
  n: number,
  C: number,
  kernels?: WasmKernels,
): BatchAcc {
  const bi = new Moments(), bo = new Moments(), by = new NormAcc(), bx = new NormAcc();
  const bl = new ExactSum();
  if (kernels) {
    // the same sums in WebAssembly: exact terms per column, then merged as lists
    const r = kernels.batchSums(ts, n, TOKEN_FIELDS, C), B = BATCH_SUM_BINS;
    const terms = (i: number) => {
      const t: number[] = [];
      for (let j = i * B; j < i * B + B; j++) if (r[j] !== 0) t.push(r[j]);
      return t;
    };
    const x = 9 * B, nIn = r[x + 6], nOut = r[x + 7];
    const withSpecial = (t: number[], v: number) => (v !== 0 && t.push(v), t);
    bi.addSums(C, nIn, terms(0), withSpecial(terms(1), r[x + 8]), terms(2), r[x], r[x + 1]);
    bo.addSums(C, nOut, terms(3), withSpecial(terms(4), r[x + 9]), terms(5), r[x + 2], r[x + 3]);
    by.addTokens(terms(6), r[x + 4]);
    bx.addTokens(terms(7), r[x + 5]);
    bl.addAll(terms(8));
    return batchAcc(bi, bo, by, bx, bl, n - nIn, n - nOut);
  }
  const fin = (f: number, k: number) => {
    for (let i = f; i < f + k; i++) if (!Number.isFinite(ts[i])) return false;
    return true;
  };
  const { IN, OUT, DY_SQ, DY_MAX, DX_SQ, DX_MAX, LOSS } = TOKEN;
  // each statistic's column over the tokens it keeps, summed exactly as a whole
  const groups = [IN, OUT].map((at) => ({
    at,
    s: [] as number[],
    m2: [] as number[],
    lo: Infinity,
    hi: -Infinity,
    left: 0,
  }));
  const yS: number[] = [], xS: number[] = [], lS: number[] = [];
  let yMax = 0, xMax = 0;
  for (let t = 0; t < n; t++) {
    const f = t * TOKEN_FIELDS;
    for (const g of groups) {
      const at = f + g.at;
      if (!fin(at, 4)) {
        g.left++;
        continue;
      }
      g.s.push(ts[at]);
      g.m2.push(ts[at + 1]);
      if (ts[at + 2] < g.lo) g.lo = ts[at + 2];
      if (ts[at + 3] > g.hi) g.hi = ts[at + 3];
    }
    if (fin(f + DY_SQ, 1) && fin(f + DY_MAX, 1)) {
      yS.push(ts[f + DY_SQ]);
      if (ts[f + DY_MAX] > yMax) yMax = ts[f + DY_MAX];
    }
    if (fin(f + DX_SQ, 1) && fin(f + DX_MAX, 1)) {
      xS.push(ts[f + DX_SQ]);
      if (ts[f + DX_MAX] > xMax) xMax = ts[f + DX_MAX];
    }
    if (fin(f + LOSS, 1)) lS.push(ts[f + LOSS]);
  }
  const [gi, go] = groups;
  bi.addTokens(C, gi.s, gi.m2, gi.lo, gi.hi);
  bo.addTokens(C, go.s, go.m2, go.lo, go.hi);
  by.addTokens(yS, yMax);
  bx.addTokens(xS, xMax);
  bl.addAll(lS);
  return batchAcc(bi, bo, by, bx, bl, gi.left, go.left);
}

/** A batch's accumulators as the mergeable record a reply carries. */
function batchAcc(
  bi: Moments,
  bo: Moments,
  by: NormAcc,
  bx: NormAcc,
  bl: ExactSum,
  nonfinite: number,
  nonfiniteOut: number,
): BatchAcc {
  const [inp, out, dy, dx, loss] = [
    bi.toJSON(),
    bo.toJSON(),
    by.toJSON(),
    bx.toJSON(),
    bl.toJSON(),
  ];
  return { inp, out, dy, dx, loss, nonfinite, nonfiniteOut };
}

/** Gradient fields of n records when no gradients are asked for: zero. */
function noGradients(ts: Float64Array, n: number) {
  for (let t = 0; t < n; t++) ts.fill(0, t * TOKEN_FIELDS + TOKEN.DY_SQ, (t + 1) * TOKEN_FIELDS);
}

/** Per-row Σ, M2 (two-pass), min, max into fields f0 … f0+3 of each row's record. */
function rowMoments(ts: Float64Array, f0: number, x: Float32Array, n: number, C: number) {
  for (let t = 0; t < n; t++) {
    const o = t * C;
    let s = 0, mn = Infinity, mx = -Infinity;
    for (let c = 0; c < C; c++) {
      const v = x[o + c];
      s += v;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    const m = s / C;
    let m2 = 0;
    for (let c = 0; c < C; c++) {
      const d = x[o + c] - m;
      m2 += d * d;
    }
    const f = t * TOKEN_FIELDS + f0;
    ts[f] = s;
    ts[f + 1] = m2;
    ts[f + 2] = mn;
    ts[f + 3] = mx;
  }
}

/** Per-row ‖dy‖², max|dy|, ‖dx‖², max|dx| and scale·Σ y·dy (the TypeScript path). */
function gradientStats(
  ts: Float64Array,
  y: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  n: number,
  C: number,
  scale: number,
) {
  for (let t = 0; t < n; t++) {
    let sy = 0, my = 0, sx = 0, mx = 0, loss = 0;
    for (let c = t * C; c < t * C + C; c++) {
      const a = dy[c], b = dx[c];
      sy += a * a;
      sx += b * b;
      loss += y[c] * a;
      const aa = a < 0 ? -a : a, bb = b < 0 ? -b : b;
      if (aa > my) my = aa;
      if (bb > mx) mx = bb;
    }
    const f = t * TOKEN_FIELDS;
    ts[f + TOKEN.DY_SQ] = sy;
    ts[f + TOKEN.DY_MAX] = my;
    ts[f + TOKEN.DX_SQ] = sx;
    ts[f + TOKEN.DX_MAX] = mx;
    ts[f + TOKEN.LOSS] = scale * loss;
  }
}
