// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): per-token statistics and
// their exact batch sums.

import { V } from "./common.ts";
import { Row } from "./layernorm.ts";

// Per row of x [N,C]: Σx, Σ(x − mean)², min, max into stats[n·stride + field …] (float64).
export function rowStats(stats: usize, x: usize, N: i32, C: i32, stride: i32, field: i32): void {
  for (let n = 0; n < N; n++) {
    const v = Row.rowMoments(x + ((<usize> n * <usize> C) << 2), C, true), m = Row.mean;
    const o = stats + ((<usize> n * <usize> stride + <usize> field) << 3);
    store<f64>(o, m * <f64> C);
    store<f64>(o, v * <f64> C, 8);
    store<f64>(o, <f64> Row.lo, 16);
    store<f64>(o, <f64> Row.hi, 24);
  }
}

// Per row: Σdy², max|dy|, Σdx², max|dx|, and scale·Σ y·dy into stats[n·stride + field …], in
// one pass: squares in float32 lanes flushed into float64 every 32 elements, the loss in float64.
export function gradStats(
  stats: usize,
  y: usize,
  dy: usize,
  dx: usize,
  N: i32,
  C: i32,
  stride: i32,
  field: i32,
  scale: f64,
): void {
  const C4 = C & ~3;
  for (let n = 0; n < N; n++) {
    const off = (<usize> n * <usize> C) << 2;
    const py = y + off, pg = dy + off, px = dx + off;
    let sg = f64x2.splat(0), sx = f64x2.splat(0), sl = f64x2.splat(0), sl1 = f64x2.splat(0);
    let mg = f32x4.splat(0), mx = f32x4.splat(0);
    let c = 0;
    while (c < C4) {
      const end = min(C4, c + 32);
      // two sets of accumulators: the adds of one lane chain no longer wait on each other
      let qg = f32x4.splat(0), qx = f32x4.splat(0), qg1 = qg, qx1 = qx;
      for (; c + 8 <= end; c += 8) {
        const o = <usize> c << 2;
        const g = v128.load(pg + o), d = v128.load(px + o), yv = v128.load(py + o);
        const g1 = v128.load(pg + o, 16), d1 = v128.load(px + o, 16), y1 = v128.load(py + o, 16);
        qg = f32x4.add(qg, f32x4.mul(g, g));
        qx = f32x4.add(qx, f32x4.mul(d, d));
        qg1 = f32x4.add(qg1, f32x4.mul(g1, g1));
        qx1 = f32x4.add(qx1, f32x4.mul(d1, d1));
        // the loss's products in float64: y·dy may cancel across a row
        sl = f64x2.add(sl, f64x2.mul(f64x2.promote_low_f32x4(yv), f64x2.promote_low_f32x4(g)));
        sl1 = f64x2.add(
          sl1,
          f64x2.mul(f64x2.promote_low_f32x4(V.hiHalf(yv)), f64x2.promote_low_f32x4(V.hiHalf(g))),
        );
        sl = f64x2.add(sl, f64x2.mul(f64x2.promote_low_f32x4(y1), f64x2.promote_low_f32x4(g1)));
        sl1 = f64x2.add(
          sl1,
          f64x2.mul(f64x2.promote_low_f32x4(V.hiHalf(y1)), f64x2.promote_low_f32x4(V.hiHalf(g1))),
        );
        // pmax (one instruction, where max fixes up NaN and −0): a NaN makes the row's sum NaN
        mg = f32x4.pmax(f32x4.pmax(mg, f32x4.abs(g)), f32x4.abs(g1));
        mx = f32x4.pmax(f32x4.pmax(mx, f32x4.abs(d)), f32x4.abs(d1));
      }
      for (; c < end; c += 4) {
        const o = <usize> c << 2;
        const g = v128.load(pg + o), d = v128.load(px + o), yv = v128.load(py + o);
        qg = f32x4.add(qg, f32x4.mul(g, g));
        qx = f32x4.add(qx, f32x4.mul(d, d));
        sl = f64x2.add(sl, f64x2.mul(f64x2.promote_low_f32x4(yv), f64x2.promote_low_f32x4(g)));
        sl1 = f64x2.add(
          sl1,
          f64x2.mul(f64x2.promote_low_f32x4(V.hiHalf(yv)), f64x2.promote_low_f32x4(V.hiHalf(g))),
        );
        mg = f32x4.pmax(mg, f32x4.abs(g));
        mx = f32x4.pmax(mx, f32x4.abs(d));
      }
      qg = f32x4.add(qg, qg1);
      qx = f32x4.add(qx, qx1);
      sg = f64x2.add(
        sg,
        f64x2.add(f64x2.promote_low_f32x4(qg), f64x2.promote_low_f32x4(V.hiHalf(qg))),
      );
      sx = f64x2.add(
        sx,
        f64x2.add(f64x2.promote_low_f32x4(qx), f64x2.promote_low_f32x4(V.hiHalf(qx))),
      );
    }
    let tg = V.hsum64(sg), tx = V.hsum64(sx), tl = V.hsum64(f64x2.add(sl, sl1));
    let hg = max(
      max(f32x4.extract_lane(mg, 0), f32x4.extract_lane(mg, 1)),
      max(f32x4.extract_lane(mg, 2), f32x4.extract_lane(mg, 3)),
    );
    let hx = max(
      max(f32x4.extract_lane(mx, 0), f32x4.extract_lane(mx, 1)),
      max(f32x4.extract_lane(mx, 2), f32x4.extract_lane(mx, 3)),
    );
    for (; c < C; c++) {
      const o = <usize> c << 2;
      const g = <f64> V.f32at(pg + o), d = <f64> V.f32at(px + o);
      tg += g * g;
      tx += d * d;
      tl += <f64> V.f32at(py + o) * g;
      hg = max(hg, abs(<f32> g));
      hx = max(hx, abs(<f32> d));
    }
    const o = stats + ((<usize> n * <usize> stride + <usize> field) << 3);
    store<f64>(o, tg);
    store<f64>(o, <f64> hg, 8);
    store<f64>(o, tx, 16);
    store<f64>(o, <f64> hx, 24);
    store<f64>(o, scale * tl, 32);
  }
}

// Exact sums of a batch's per-token statistics

// Bins of a superaccumulator: bit b of a double's significand, counted from 2^−1074, goes to
// bin b >> 5 as a 32-bit digit; an i64 bin holds 2^31 such digits without overflow.
const SUM_BINS = 68; // BATCH_SUM_BINS in lib/kernels/wasm.ts

/** Superaccumulator helpers, inlined. */
export class Bins {
  // adds the finite double v exactly into bins [SUM_BINS] i64
  @inline
  static binAdd(bins: usize, v: f64): void {
    const bits = reinterpret<u64>(v);
    const e = <i32> ((bits >> 52) & 0x7ff);
    let m = bits & 0xfffffffffffff;
    if (e != 0) m |= 0x10000000000000;
    const E = e == 0 ? 0 : e - 1; // the significand's lowest bit is 2^(E − 1074)
    const k = E >> 5, sh = <u64> (E & 31);
    const t = m << sh;
    const c0 = <i64> (t & 0xffffffff),
      c1 = <i64> (t >> 32),
      c2 = sh == 0 ? <i64> 0 : <i64> (m >> (64 - sh));
    const p = bins + (<usize> k << 3);
    if (bits >> 63) {
      store<i64>(p, load<i64>(p) - c0);
      store<i64>(p, load<i64>(p, 8) - c1, 8);
      store<i64>(p, load<i64>(p, 16) - c2, 16);
    } else {
      store<i64>(p, load<i64>(p) + c0);
      store<i64>(p, load<i64>(p, 8) + c1, 8);
      store<i64>(p, load<i64>(p, 16) + c2, 16);
    }
  }

  // 2^k as a double for −1074 ≤ k ≤ 1023
  @inline
  static pow2(k: i32): f64 {
    if (k >= -1022) return reinterpret<f64>(<u64> (k + 1023) << 52);
    return reinterpret<f64>(<u64> 1 << <u64> (k + 1074));
  }
}

// bins → terms [SUM_BINS] f64 whose exact sum is the bins' total: carries propagated so every
// bin but the last is a digit in [−2^31, 2^31) (balanced: a negative total borrows nothing from
// the bins above it), each term digit·2^(32k − 1074), exact. A total past the largest double
// makes a term ±Infinity.
function binTerms(bins: usize, terms: usize): void {
  let carry: i64 = 0;
  for (let k = 0; k < SUM_BINS; k++) {
    let v = load<i64>(bins + (<usize> k << 3)) + carry;
    if (k < SUM_BINS - 1) {
      carry = (v + 0x80000000) >> 32;
      v -= carry << 32;
    }
    const ex = 32 * k - 1074;
    // a digit times a power of two: exact, or ±Infinity past the largest double
    const t = ex <= 1023
      ? <f64> v * Bins.pow2(ex)
      : <f64> v * Bins.pow2(ex - 1023) * Bins.pow2(1023);
    store<f64>(terms + (<usize> k << 3), t);
  }
}

// One batch's statistics as `batchSums` (lib/kernels/stats.ts) gives them: per token n of
// stats [N × stride], its record's input Σ, M2, min, max from field fin, the output's from fout,
// and Σdy², max|dy|, Σdx², max|dx|, loss from fgrad; each group left out of its sums where one
// of its fields is not finite.
// out (f64): 9 × SUM_BINS terms of the exact sums of the input's Σ, Σ²/C, M2, the output's Σ,
// Σ²/C, M2, Σdy², Σdx² and the loss, then the input's min and max, the output's, max|dy|,
// max|dx|, the input tokens kept, the output tokens kept, and 9 sums of the non-finite Σ²/C.
// bins: 9 × SUM_BINS i64 of scratch.
export function batchSums(
  stats: usize,
  N: i32,
  stride: i32,
  fin: i32,
  fout: i32,
  fgrad: i32,
  C: f64,
  bins: usize,
  out: usize,
): void {
  const B = <usize> SUM_BINS << 3;
  memory.fill(bins, 0, 9 * B);
  let iLo = Infinity,
    iHi = -Infinity,
    oLo = Infinity,
    oHi = -Infinity,
    yMax: f64 = 0,
    xMax: f64 = 0;
  let nIn = 0, nOut = 0, qIn: f64 = 0, qOut: f64 = 0;
  for (let n = 0; n < N; n++) {
    const f = stats + ((<usize> n * <usize> stride) << 3);
    for (let g = 0; g < 2; g++) {
      const p = f + (<usize> (g == 0 ? fin : fout) << 3);
      const s = load<f64>(p), m2 = load<f64>(p, 8), lo = load<f64>(p, 16), hi = load<f64>(p, 24);
      if (!(isFinite(s) && isFinite(m2) && isFinite(lo) && isFinite(hi))) continue;
      const q = (s * s) / C, b = bins + <usize> (3 * g) * B;
      Bins.binAdd(b, s);
      if (isFinite(q)) Bins.binAdd(b + B, q);
      else if (g == 0) qIn += q;
      else qOut += q;
      Bins.binAdd(b + 2 * B, m2);
      if (g == 0) {
        nIn++;
        if (lo < iLo) iLo = lo;
        if (hi > iHi) iHi = hi;
      } else {
        nOut++;
        if (lo < oLo) oLo = lo;
        if (hi > oHi) oHi = hi;
      }
    }
    const fg = f + (<usize> fgrad << 3);
    const ys = load<f64>(fg), ym = load<f64>(fg, 8), xs = load<f64>(fg, 16);
    const xm = load<f64>(fg, 24), l = load<f64>(fg, 32);
    if (isFinite(ys) && isFinite(ym)) {
      Bins.binAdd(bins + 6 * B, ys);
      if (ym > yMax) yMax = ym;
    }
    if (isFinite(xs) && isFinite(xm)) {
      Bins.binAdd(bins + 7 * B, xs);
      if (xm > xMax) xMax = xm;
    }
    if (isFinite(l)) Bins.binAdd(bins + 8 * B, l);
  }
  for (let i = 0; i < 9; i++) binTerms(bins + <usize> i * B, out + <usize> i * B);
  const t = out + 9 * B;
  store<f64>(t, iLo);
  store<f64>(t, iHi, 8);
  store<f64>(t, oLo, 16);
  store<f64>(t, oHi, 24);
  store<f64>(t, yMax, 32);
  store<f64>(t, xMax, 40);
  store<f64>(t, <f64> nIn, 48);
  store<f64>(t, <f64> nOut, 56);
  store<f64>(t, qIn, 64);
  store<f64>(t, qOut, 72);
}
