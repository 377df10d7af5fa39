/**
 * The computation a stage worker runs on one slot: normalization or a GPT
 * stack, a probe loss, the backward pass, and per-token statistics. Pure given
 * the slot's rows, the task and the batch's global offset, so a batch gives the
 * same bytes whichever worker runs it.
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
} from "../lib/kernels/mod.ts";
import { GPT, probeRow } from "../lib/model/mod.ts";
import { Arena } from "../lib/kernels/arena.ts";
import { type Job, type Reply, slotLayout, type StageInit, TOKEN_FIELDS } from "./protocol.ts";

/**
 * Runs jobs for one `StageInit`; buffers are allocated once, for a full slot.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { slotLayout } from "./protocol.ts";
 * const C = 4, cap = 2, l = slotLayout(cap, C, 0);
 * const sab = new SharedArrayBuffer(l.slotBytes);
 * new Float32Array(sab, 0, 8).set([1, 2, 3, 4, 5, 5, 5, 9]);
 * const r = new StageRunner({ type: "init", sab, capTokens: cap, C, gradFloats: 0,
 *   task: { kind: "normalize", backend: "ts", norm: "layer", eps: 1e-5, weight: null, bias: null, seed: 1, nonfinite: "error" } });
 * r.run({ type: "job", slot: 0, tokens: 2, offset: 0 });
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
  /** normalize on wasm/blas: the rows in and out, in a worker-local arena */
  #inA: Float32Array | null = null;
  #outA: Float32Array | null = null;
  #weight: Float32Array | null = null;
  #bias: Float32Array | null = null;

  /** Prepares scratch buffers (and, for `run`, the model over shared parameters). */
  constructor(init: StageInit) {
    this.#init = init;
    const { capTokens: cap, C } = init;
    const task = init.task;
    this.#layout = slotLayout(cap, C, init.gradFloats);
    // normalize on wasm/blas computes in an arena (the exported kernels then run in wasm)
    const arena = task.kind === "normalize" && task.backend !== "ts" && task.norm !== "batch"
      ? new Arena({ bytes: (4 * cap * C + 4 * Math.max(cap, C)) * 4 + (1 << 16) })
      : null;
    const f32 = (n: number) => arena ? arena.alloc(n) : new Float32Array(n);
    this.#mean = f32(Math.max(cap, C));
    this.#rstd = f32(Math.max(cap, C));
    this.#dy = f32(cap * C);
    this.#dx = f32(cap * C);
    if (task.kind === "normalize") {
      const copy = (v: Float32Array | null) => {
        if (v === null || arena === null) return v;
        const a = arena.alloc(v.length);
        a.set(v);
        return a;
      };
      this.#weight = copy(task.weight);
      this.#bias = copy(task.bias);
    }
    if (arena) {
      this.#inA = arena.alloc(cap * C);
      this.#outA = arena.alloc(cap * C);
    }
    if (task.kind === "run") {
      const config = { ...task.config, dtype: "float32" as const, shared: false };
      this.#model = task.memory
        ? new GPT(config, { arena: new Arena({ memory: task.memory }), paramsAt: task.paramsAt })
        : new GPT({ ...config, backend: "ts" }, { params: task.params });
    }
  }

  /** Computes one batch in place and returns the reply. */
  run(job: Job): Reply {
    const { C, sab } = this.#init, l = this.#layout;
    const base = job.slot * l.slotBytes;
    const cap = this.#init.capTokens;
    const inp = new Float32Array(sab, base + l.input, cap * C);
    const out = new Float32Array(sab, base + l.output, cap * C);
    const ts = new Float64Array(sab, base + l.stats, cap * TOKEN_FIELDS);
    const reply: Reply = { slot: job.slot, tokens: job.tokens };
    let n = job.tokens;
    rowMoments(ts, 0, inp, n, C);
    if (this.#init.task.nonfinite === "error") {
      // a non-finite element makes its row's sum non-finite: scan only such rows
      for (let t = 0; t < n; t++) {
        if (Number.isFinite(ts[t * TOKEN_FIELDS])) continue;
        const c = inp.subarray(t * C, t * C + C).findIndex((v) => !Number.isFinite(v));
        if (c < 0) continue; // finite values whose sum overflowed
        reply.bad = { row: t, col: c, value: inp[t * C + c] };
        n = reply.tokens = t;
        break;
      }
    }
    const dy = this.#dy, dx = this.#dx;
    const task = this.#init.task;
    if (task.kind === "normalize") {
      this.#normalize(out, inp, n, job.offset);
    } else {
      this.#runStack(out, inp, n, job.offset, base + l.grads, reply);
    }
    rowMoments(ts, 4, out, n, C);
    const l2 = task.kind === "run" && task.loss === "l2";
    for (let t = 0; t < n; t++) {
      let sy = 0, my = 0, sx = 0, mx = 0, loss = 0;
      for (let c = t * C; c < t * C + C; c++) {
        const a = dy[c], b = dx[c];
        sy += a * a;
        sx += b * b;
        loss += out[c] * a; // Σ y·R; for l2, R = y and the loss is half of it
        const aa = a < 0 ? -a : a, bb = b < 0 ? -b : b;
        if (aa > my) my = aa;
        if (bb > mx) mx = bb;
      }
      const f = t * TOKEN_FIELDS;
      ts[f + 8] = sy;
      ts[f + 9] = my;
      ts[f + 10] = sx;
      ts[f + 11] = mx;
      ts[f + 12] = l2 ? 0.5 * loss : loss;
    }
    return reply;
  }

  #normalize(out: Float32Array, inp: Float32Array, n: number, offset: number) {
    if (n === 0) return;
    const C = this.#init.C, inA = this.#inA, outA = this.#outA;
    if (inA && outA) {
      // compute in the arena, then hand the rows back to the slot
      inA.set(inp.subarray(0, n * C));
      this.#normalizeRows(outA, inA, n, offset);
      out.set(outA.subarray(0, n * C));
      return;
    }
    this.#normalizeRows(out, inp, n, offset);
  }

  #normalizeRows(out: Float32Array, inp: Float32Array, n: number, offset: number) {
    const task = this.#init.task;
    if (task.kind !== "normalize") return;
    const C = this.#init.C, dy = this.#dy, dx = this.#dx;
    const w = this.#weight, b = this.#bias, eps = task.eps;
    const mean = this.#mean, rstd = this.#rstd;
    for (let t = 0; t < n; t++) probeRow(dy, t * C, task.seed, offset + t, C);
    dx.fill(0, 0, n * C);
    if (task.norm === "layer") {
      layerNormForward(out, mean, rstd, inp, w, b, n, C, eps);
      layerNormBackward(dx, null, null, dy, inp, w, mean, rstd, n, C);
    } else if (task.norm === "rms") {
      rmsNormForward(out, rstd, inp, w, n, C, eps);
      rmsNormBackward(dx, null, dy, inp, w, rstd, n, C);
    } else {
      batchNormForward(out, mean, rstd, inp, w, b, n, C, eps);
      batchNormBackward(dx, null, null, dy, inp, w, mean, rstd, n, C);
    }
  }

  #runStack(
    out: Float32Array,
    inp: Float32Array,
    n: number,
    offset: number,
    gradsAt: number,
    reply: Reply,
  ) {
    const task = this.#init.task, model = this.#model!;
    if (task.kind !== "run") return;
    const C = this.#init.C, T = task.seq, dy = this.#dy, dx = this.#dx;
    model.zeroGrad();
    // full sequences as one [B, T] pass, then a shorter last sequence on its own
    const full = Math.floor(n / T), rest = n - full * T;
    const parts: [number, number, number][] = [];
    if (full > 0) parts.push([0, full, T]);
    if (rest > 0) parts.push([full * T, 1, rest]);
    for (const [t0, B, len] of parts) {
      const lo = t0 * C, hi = (t0 + B * len) * C;
      const y = model.forward(inp.subarray(lo, hi), B, len);
      out.set(y, lo);
      if (task.loss === "l2") dy.set(y, lo);
      else for (let t = t0; t < t0 + B * len; t++) probeRow(dy, t * C, task.seed, offset + t, C);
      dx.set(model.backward(dy.subarray(lo, hi)), lo);
    }
    new Float32Array(this.#init.sab, gradsAt, model.grads.length).set(model.grads);
    reply.stack = model.layerStats();
  }
}

/** Per-row sum, M2 (two-pass), min, max into fields f0..f0+3 of each row's record. */
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
