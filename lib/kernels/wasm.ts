/**
 * The WebAssembly SIMD kernels behind the same signatures as the TypeScript references, for
 * `Float32Array`s that live in one `Arena` (the `wasm` backend of `createKernels`). Each thread
 * has its own instance and scratch.
 *
 * @module
 */
import type { Arena } from "./arena.ts";
import type { AdamWStep } from "./adamw.ts";
import { batchNormBackward, batchNormForward } from "./batchnorm.ts";
import { normStats as normStatsTs } from "./normalize.ts";
import { layerNormForward as layerNormRowTs } from "./layernorm.ts";
import { rmsNormForward as rmsNormRowTs } from "./rmsnorm.ts";
import { probeKey } from "./probe.ts";
import { formatRows as formatRowsTs } from "./format.ts";
import { type BatchSums, TOKEN } from "./stats.ts";

/** The arrays these kernels take: float32 views in the arena. */
export type F32 = Float32Array;

/**
 * Float32 kernels on arena memory: what the `wasm` backend runs. Arguments are views in
 * `arena` (`alloc` gives them).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { Arena } from "./arena.ts";
 * const arena = new Arena(), k = new WasmKernels(arena);
 * const x = arena.alloc(4), w = arena.alloc(4), y = arena.alloc(1);
 * x.set([1, 2, 3, 4]);
 * w.set([1, 1, 1, 1]);
 * k.matmulForward(y, x, w, null, 1, 4, 1); // [1,4] @ [4,1]
 * assert(y[0] === 10);
 * ```
 */
export class WasmKernels {
  /** the arena every argument lives in */
  readonly arena: Arena;
  /** which backend this is */
  readonly name: "wasm" | "blas" = "wasm";
  /** the arena's kernel exports (raw, on byte offsets) */
  protected readonly x: Arena["exports"];
  #gemmScratch: number;
  #scratch = 0;
  #scratchBytes = 0;

  /** Kernels on `arena`, with their own scratch (one instance per thread). */
  constructor(arena: Arena) {
    this.arena = arena;
    this.x = arena.exports;
    this.#gemmScratch = arena.allocBytes(this.x.gemmScratchBytes());
  }

  /** A zeroed float32 array in the arena. */
  alloc(n: number): F32 {
    return this.arena.alloc(n);
  }

  /** A zeroed float64 array in the arena. */
  allocF64(n: number): Float64Array {
    return this.arena.allocF64(n);
  }

  /** As `batchNormForward` (the TypeScript kernel on arena memory: it is per feature). */
  batchNormForward: typeof batchNormForward = batchNormForward;
  /** As `batchNormBackward`. */
  batchNormBackward: typeof batchNormBackward = batchNormBackward;

  /**
   * As `formatRows`, on arena memory (`text`, `x` and `ends` in the arena): the WebAssembly
   * printer writes the same bytes as the reference, and hands it the rows holding a value
   * outside [1e-13, 1e15) (or subnormal), one at a time.
   */
  formatRows(
    text: Uint8Array,
    x: F32,
    N: number,
    C: number,
    ends: Uint32Array,
    from = 0,
  ): void {
    for (let r = from; r < N;) {
      r = this.x.formatRows(text.byteOffset, x.byteOffset, N, C, ends.byteOffset, r);
      if (r < N) formatRowsTs(text, x, r + 1, C, ends, r++);
    }
  }

  /** A scratch region of at least `bytes`, reused between calls (kept by this instance). */
  protected scratch(bytes: number): number {
    if (bytes > this.#scratchBytes) {
      const size = Math.max(bytes, 2 * this.#scratchBytes, 4096);
      this.#scratch = this.arena.allocBytes(size);
      this.#scratchBytes = size;
    }
    return this.#scratch;
  }

  /**
   * `C(i,j) (+)= alpha·Σ_k A(i,k)·B(k,j) (+ bias[j])` on byte pointers with element strides:
   * A(i,k) at `A + 4(i·ars + k·acs)`, B(k,j) at `B + 4(k·brs + j·bcs)`, C(i,j) at `C + 4(i·ldc + j)`.
   * `bias` (0 = none) is used only when not accumulating.
   */
  gemm(
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: number,
    ars: number,
    acs: number,
    B: number,
    brs: number,
    bcs: number,
    C: number,
    ldc: number,
    bias: number,
    acc: boolean,
  ): void {
    this.x.gemm(
      M,
      N,
      K,
      alpha,
      A,
      ars,
      acs,
      B,
      brs,
      bcs,
      C,
      ldc,
      bias,
      acc ? 1 : 0,
      this.#gemmScratch,
    );
  }

  /** As `adamwUpdate`, in float32 as PyTorch's float32 AdamW: p, g, m, v [n]. */
  adamw(p: F32, g: F32, m: F32, v: F32, n: number, o: AdamWStep): void {
    const b1 = o.beta1 ?? 0.9, b2 = o.beta2 ?? 0.99;
    const c1 = 1 - b1 ** o.t, c2 = 1 - b2 ** o.t;
    this.x.adamw(
      p.byteOffset,
      g.byteOffset,
      m.byteOffset,
      v.byteOffset,
      n,
      o.gradScale ?? 1,
      b1,
      b2,
      o.eps ?? 1e-8,
      1 - o.lr * (o.weightDecay ?? 0),
      o.lr / c1,
      1 / Math.sqrt(c2),
    );
  }

  /** out = a + b. out, a, b [n] */
  add(out: F32, a: F32, b: F32, n: number): void {
    this.x.add(out.byteOffset, a.byteOffset, b.byteOffset, n);
  }

  /** Σ a² over the first n elements, in float64. */
  sumSq(a: F32, n: number): number {
    return this.x.sumSq(a.byteOffset, n);
  }

  /** max |a| over the first n elements. */
  maxAbs(a: F32, n: number): number {
    return this.x.maxAbs(a.byteOffset, n);
  }

  /** As `layerNormForward`. inp, out [N,C]; mean, rstd [N]; weight, bias [C] */
  layerNormForward(
    out: F32,
    mean: F32,
    rstd: F32,
    inp: F32,
    weight: F32 | null,
    bias: F32 | null,
    N: number,
    C: number,
    eps = 1e-5,
  ): void {
    this.normRows(out, mean, rstd, inp, weight, bias, N, C, eps, false, false);
  }

  /** As `layerNormBackward` (accumulates). */
  layerNormBackward(
    dinp: F32,
    dweight: F32 | null,
    dbias: F32 | null,
    dout: F32,
    inp: F32,
    weight: F32 | null,
    mean: F32,
    rstd: F32,
    N: number,
    C: number,
  ): void {
    this.x.layerNormBackward(
      dinp.byteOffset,
      ptr(dweight),
      ptr(dbias),
      dout.byteOffset,
      inp.byteOffset,
      ptr(weight),
      mean.byteOffset,
      rstd.byteOffset,
      N,
      C,
      this.scratch(24 * C),
    );
  }

  /** As `rmsNormForward`. */
  rmsNormForward(
    out: F32,
    rstd: F32,
    inp: F32,
    weight: F32 | null,
    N: number,
    C: number,
    eps = 1e-5,
  ): void {
    this.normRows(out, rstd, rstd, inp, weight, null, N, C, eps, true, false);
  }

  /**
   * LayerNorm (or RMSNorm when `rms`: `mean` unused) of inp [N,C] into out [N,C], which may be
   * `inp` (in place). With `stop`, the first row holding a NaN or ±Infinity ends the batch, left
   * as it was. Returns the rows done.
   */
  normRows(
    out: F32,
    mean: F32,
    rstd: F32,
    inp: F32,
    weight: F32 | null,
    bias: F32 | null,
    N: number,
    C: number,
    eps: number,
    rms: boolean,
    stop: boolean,
  ): number {
    let n = 0;
    for (;;) {
      const [o, i] = [out.byteOffset + n * C * 4, inp.byteOffset + n * C * 4];
      const [w, r, m] = [ptr(weight), rstd.byteOffset + n * 4, mean.byteOffset + n * 4];
      n += rms
        ? this.x.rmsNormRows(o, r, i, w, N - n, C, eps, stop ? 1 : 0)
        : this.x.layerNormRows(o, m, r, i, w, ptr(bias), N - n, C, eps, stop ? 1 : 0);
      if (n === N) return N;
      // the kernel stopped at a row holding a non-finite value (with `stop`), or at one whose
      // spread and eps are too small for float32 (v + eps < 1e-30): that one in float64
      const row = inp.subarray(n * C, n * C + C);
      if (stop && !row.every(Number.isFinite)) return n;
      const y = out.subarray(n * C, n * C + C);
      if (rms) rmsNormRowTs(y, rstd.subarray(n, n + 1), row, weight, 1, C, eps);
      else {
        layerNormRowTs(
          y,
          mean.subarray(n, n + 1),
          rstd.subarray(n, n + 1),
          row,
          weight,
          bias,
          1,
          C,
          eps,
        );
      }
      n++;
    }
  }

  /** As `rmsNormBackward` (accumulates). */
  rmsNormBackward(
    dinp: F32,
    dweight: F32 | null,
    dout: F32,
    inp: F32,
    weight: F32 | null,
    rstd: F32,
    N: number,
    C: number,
  ): void {
    this.x.rmsNormBackward(
      dinp.byteOffset,
      ptr(dweight),
      dout.byteOffset,
      inp.byteOffset,
      ptr(weight),
      rstd.byteOffset,
      N,
      C,
      this.scratch(8 * C),
    );
  }

  /** As `dytForward`. inp, out [N,C]; alpha [1]; weight, bias [C] */
  dytForward(
    out: F32,
    inp: F32,
    alpha: F32,
    weight: F32 | null,
    bias: F32 | null,
    N: number,
    C: number,
  ): void {
    this.x.dytForward(
      out.byteOffset,
      inp.byteOffset,
      alpha.byteOffset,
      ptr(weight),
      ptr(bias),
      N,
      C,
    );
  }

  /** As `dytBackward` (accumulates). */
  dytBackward(
    dinp: F32,
    dalpha: F32 | null,
    dweight: F32 | null,
    dbias: F32 | null,
    dout: F32,
    inp: F32,
    alpha: F32,
    weight: F32 | null,
    N: number,
    C: number,
  ): void {
    this.x.dytBackward(
      dinp.byteOffset,
      ptr(dalpha),
      ptr(dweight),
      ptr(dbias),
      dout.byteOffset,
      inp.byteOffset,
      alpha.byteOffset,
      ptr(weight),
      N,
      C,
      this.scratch(16 * C),
    );
  }

  /** As `qkNormForward`. qkv, out [BT,3C]; rstd [BT,2NH] */
  qkNormForward(
    out: F32,
    rstd: F32,
    qkv: F32,
    BT: number,
    C: number,
    NH: number,
    eps = 1e-5,
  ): void {
    this.x.qkNormForward(out.byteOffset, rstd.byteOffset, qkv.byteOffset, BT, C, NH, eps);
  }

  /** As `qkNormBackward` (accumulates). */
  qkNormBackward(
    dqkv: F32,
    dout: F32,
    qkv: F32,
    rstd: F32,
    BT: number,
    C: number,
    NH: number,
  ): void {
    this.x.qkNormBackward(
      dqkv.byteOffset,
      dout.byteOffset,
      qkv.byteOffset,
      rstd.byteOffset,
      BT,
      C,
      NH,
    );
  }

  /** out = alpha·a + b (n elements): a residual branch scaled by DeepNorm's α. */
  scaleAdd(out: F32, a: F32, alpha: number, b: F32, n: number): void {
    this.x.scaleAdd(out.byteOffset, a.byteOffset, alpha, b.byteOffset, n);
  }

  /** out = alpha·a (n elements). */
  scale(out: F32, a: F32, alpha: number, n: number): void {
    this.x.scale(out.byteOffset, a.byteOffset, alpha, n);
  }

  /** As `geluForward`. */
  geluForward(out: F32, inp: F32, n: number): void {
    this.x.geluForward(out.byteOffset, inp.byteOffset, n);
  }

  /** As `geluBackward` (accumulates). */
  geluBackward(dinp: F32, inp: F32, dout: F32, n: number): void {
    this.x.geluBackward(dinp.byteOffset, inp.byteOffset, dout.byteOffset, n);
  }

  /** As `softmaxForward`. */
  softmaxForward(out: F32, inp: F32, N: number, C: number, len = C): void {
    this.x.softmaxForward(out.byteOffset, inp.byteOffset, N, C, len, 0);
  }

  /** As `softmaxBackward` (accumulates). */
  softmaxBackward(dinp: F32, dout: F32, out: F32, N: number, C: number, len = C): void {
    this.x.softmaxBackward(dinp.byteOffset, dout.byteOffset, out.byteOffset, N, C, len, 0, 1, 1);
  }

  /** As `matmulForward`. inp [N,Cin]; weight [Cin,Cout]; bias [Cout]; out [N,Cout] */
  matmulForward(
    out: F32,
    inp: F32,
    weight: F32,
    bias: F32 | null,
    N: number,
    Cin: number,
    Cout: number,
  ): void {
    const o = out.byteOffset, i = inp.byteOffset, w = weight.byteOffset;
    this.gemm(N, Cout, Cin, 1, i, Cin, 1, w, Cout, 1, o, Cout, ptr(bias), false);
  }

  /** As `matmulBackward` (accumulates). */
  matmulBackward(
    dinp: F32 | null,
    dweight: F32 | null,
    dbias: F32 | null,
    dout: F32,
    inp: F32,
    weight: F32,
    N: number,
    Cin: number,
    Cout: number,
  ): void {
    const d = dout.byteOffset;
    if (dinp !== null) {
      this.gemm(
        N,
        Cin,
        Cout,
        1,
        d,
        Cout,
        1,
        weight.byteOffset,
        1,
        Cout,
        dinp.byteOffset,
        Cin,
        0,
        true,
      );
    }
    if (dweight !== null) {
      this.gemm(
        Cin,
        Cout,
        N,
        1,
        inp.byteOffset,
        1,
        Cin,
        d,
        Cout,
        1,
        dweight.byteOffset,
        Cout,
        0,
        true,
      );
    }
    if (dbias !== null) this.x.colSumAcc(dbias.byteOffset, d, N, Cout, this.scratch(8 * Cout));
  }

  /**
   * The probe directions of tokens `first … first+N−1` of stream `seed` into out [N,C]: the
   * numbers `probeRow` gives, bit for bit.
   */
  probeFill(out: F32, seed: number, first: number, N: number, C: number): void {
    this.x.probeFill(out.byteOffset, this.#keys(seed, first, N, 0)[0], N, C);
  }

  /**
   * The probe keys of tokens `first … first+N−1` as u32 at the start of this instance's scratch,
   * then `extra` bytes of it (16-byte aligned); returns both pointers.
   */
  #keys(seed: number, first: number, N: number, extra: number): [number, number] {
    const kb = (4 * N + 15) & ~15, p = this.scratch(kb + extra);
    const k = new Uint32Array(this.arena.buffer, p, N);
    for (let n = 0; n < N; n++) k[n] = probeKey(seed, first + n);
    return [p, p + kb];
  }

  /** Per row of x [N,C]: Σx, Σ(x − mean)², min, max into stats[n·stride + field …]. */
  rowStats(stats: Float64Array, x: F32, N: number, C: number, stride: number, field: number): void {
    this.x.rowStats(stats.byteOffset, x.byteOffset, N, C, stride, field);
  }

  /** Per row: Σdy², max|dy|, Σdx², max|dx|, scale·Σ y·dy into stats[n·stride + field …]. */
  gradStats(
    stats: Float64Array,
    y: F32,
    dy: F32,
    dx: F32,
    N: number,
    C: number,
    stride: number,
    field: number,
    scale = 1,
  ): void {
    this.x.gradStats(
      stats.byteOffset,
      y.byteOffset,
      dy.byteOffset,
      dx.byteOffset,
      N,
      C,
      stride,
      field,
      scale,
    );
  }

  /**
   * As `normStats`, in one pass per row (nothing but `out` leaves the cache), the record's
   * fields where `TOKEN` puts them. A row float32 cannot normalize (spread and eps below 1e-30,
   * subnormal deviations) is the TypeScript reference's.
   */
  normStats(
    out: F32,
    inp: F32,
    weight: F32 | null,
    bias: F32 | null,
    seed: number,
    first: number,
    N: number,
    C: number,
    eps: number,
    rms: boolean,
    stats: Float64Array,
    stride: number,
    stop: boolean,
  ): number {
    for (let n = 0;;) {
      // after the keys: the kernel's rows of scratch (3C + 2 float32, C float64, alignment)
      const [p, rows] = this.#keys(seed, first + n, N - n, 12 * C + 8 * C + 32);
      n += this.x.normStats(
        out.byteOffset + 4 * n * C,
        inp.byteOffset + 4 * n * C,
        ptr(weight),
        ptr(bias),
        p,
        N - n,
        C,
        eps,
        rms ? 1 : 0,
        stats.byteOffset + 8 * n * stride,
        stride,
        TOKEN.IN,
        TOKEN.OUT,
        TOKEN.DY_SQ,
        rows,
        stop ? 1 : 0,
      );
      if (n === N) return N;
      // the kernel stopped at a row holding a non-finite value (with `stop`), or at one float32
      // cannot normalize: that one by the float64 reference
      const row = inp.subarray(n * C, n * C + C);
      if (stop && !row.every(Number.isFinite)) return n;
      normStatsTs(
        out.subarray(n * C),
        inp.subarray(n * C),
        weight,
        bias,
        seed,
        first + n,
        1,
        C,
        eps,
        rms,
        stats.subarray(n * stride),
        stride,
        false,
      );
      n++;
    }
  }

  /**
   * As `batchSums`: the exact sums of a batch's per-token records (`stats`, N records of
   * `stride` float64 in the arena, fields where `TOKEN` puts them), as superaccumulator terms.
   */
  batchSums(stats: Float64Array, N: number, C: number, stride = 13): BatchSums {
    const B = BATCH_SUM_BINS, terms = 9 * B, p = this.scratch(8 * (terms + 10) + 8 * terms);
    const { IN, OUT, DY_SQ } = TOKEN;
    this.x.batchSums(stats.byteOffset, N, stride, IN, OUT, DY_SQ, C, p + 8 * (terms + 10), p);
    const r = new Float64Array(this.arena.buffer, p, terms + 10), x = terms;
    const list = (i: number, special = 0) => {
      const t: number[] = [];
      for (let j = i * B; j < i * B + B; j++) if (r[j] !== 0) t.push(r[j]);
      if (special !== 0) t.push(special); // a Σ²/C that overflowed
      return t;
    };
    return {
      inp: {
        tokens: r[x + 6],
        s: list(0),
        q: list(1, r[x + 8]),
        m2: list(2),
        lo: r[x],
        hi: r[x + 1],
      },
      out: {
        tokens: r[x + 7],
        s: list(3),
        q: list(4, r[x + 9]),
        m2: list(5),
        lo: r[x + 2],
        hi: r[x + 3],
      },
      dy: { sq: list(6), max: r[x + 4] },
      dx: { sq: list(7), max: r[x + 5] },
      loss: list(8),
    };
  }

  /** As `attentionForward`. qkv [B,T,3C]; att [B,NH,T,T]; out [B,T,C] */
  attentionForward(
    out: F32,
    att: F32,
    qkv: F32,
    B: number,
    T: number,
    C: number,
    NH: number,
    causal = true,
  ): void {
    const hd = C / NH, C3 = 3 * C, scale = 1 / Math.sqrt(hd);
    // a NaN or ±Infinity in v must not reach earlier tokens through their 0 weights (0·NaN is
    // NaN): with one, each head's rows before its first such token take only the v rows before it
    const finite = !causal || Number.isFinite(this.x.sumSq(qkv.byteOffset, B * T * C3));
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        const q = qkv.byteOffset + 4 * (b * T * C3 + h * hd), k = q + 4 * C, v = q + 8 * C;
        const a = att.byteOffset + 4 * (b * NH + h) * T * T;
        const o = out.byteOffset + 4 * (b * T * C + h * hd);
        this.gemm(T, T, hd, scale, q, C3, 1, k, 1, C3, a, T, 0, false); // scores q·kᵀ/√hd
        this.x.softmaxForward(a, a, T, T, T, causal ? T : 0);
        const bad = finite ? T : firstNonFinite(qkv, b * T * C3 + 2 * C + h * hd, T, hd, C3);
        if (bad > 0) this.gemm(bad, hd, bad, 1, a, T, 1, v, C3, 1, o, C, 0, false); // att @ v
        if (bad < T) {
          const rows = 4 * bad * T, at = 4 * bad * C;
          this.gemm(T - bad, hd, T, 1, a + rows, T, 1, v, C3, 1, o + at, C, 0, false);
        }
      }
    }
  }

  /** As `attentionBackward` (accumulates into dqkv). */
  attentionBackward(
    dqkv: F32,
    dout: F32,
    qkv: F32,
    att: F32,
    B: number,
    T: number,
    C: number,
    NH: number,
    causal = true,
  ): void {
    const hd = C / NH, C3 = 3 * C, scale = 1 / Math.sqrt(hd);
    const datt = this.scratch(4 * T * T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < NH; h++) {
        const off = 4 * (b * T * C3 + h * hd);
        const q = qkv.byteOffset + off, k = q + 4 * C, v = q + 8 * C;
        const dq = dqkv.byteOffset + off, dk = dq + 4 * C, dv = dq + 8 * C;
        const a = att.byteOffset + 4 * (b * NH + h) * T * T;
        const dO = dout.byteOffset + 4 * (b * T * C + h * hd);
        this.gemm(T, T, hd, 1, dO, C, 1, v, 1, C3, datt, T, 0, false); // dO @ vᵀ
        this.gemm(T, hd, T, 1, a, 1, T, dO, C, 1, dv, C3, 0, true); // dv += attᵀ @ dO
        this.x.softmaxBackward(datt, datt, a, T, T, T, causal ? T : 0, scale, 0);
        this.gemm(T, hd, T, 1, datt, T, 1, k, C3, 1, dq, C3, 0, true); // dq += dS @ k
        this.gemm(T, hd, T, 1, datt, 1, T, q, C3, 1, dk, C3, 0, true); // dk += dSᵀ @ q
      }
    }
  }
}

/** The first of `T` rows (`hd` floats from `at`, `stride` apart) holding a non-finite value. */
function firstNonFinite(a: F32, at: number, T: number, hd: number, stride: number): number {
  for (let t = 0; t < T; t++) {
    for (let j = at + t * stride, e = j + hd; j < e; j++) if (!Number.isFinite(a[j])) return t;
  }
  return T;
}

/**
 * Terms per statistic in `batchSums`' result: the superaccumulator's bins (`SUM_BINS` in the
 * kernels), 32-bit digits from 2⁻¹⁰⁷⁴ up past the largest double.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(BATCH_SUM_BINS * 32 > 1074 + 1024);
 * ```
 */
export const BATCH_SUM_BINS = 68;

function ptr(a: F32 | null): number {
  return a === null ? 0 : a.byteOffset;
}
