// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): LayerNorm.

import { V } from "./common.ts";

/**
 * A row's moments, inlined into each caller (so a constant `extremes` folds away); results in
 * the statics.
 */
export class Row {
  // the last row's mean, minimum and maximum (of `moments`) and Σ (x − shift)² (of `shiftedSums`)
  static mean: f64 = 0;
  static lo: f32 = 0;
  static hi: f32 = 0;
  static sq: f64 = 0;
  // inlined, so each caller's constant `extremes` leaves one loop without a test in it
  @inline
  static rowMoments(row: usize, C: i32, extremes: bool): f64 {
    const x0 = V.f32at(row);
    const C8 = C & ~7;
    let m = <f64> x0, s = Row.shiftedSums(row, C, C8, x0, extremes);
    let q = Row.sq;
    if (isFinite(s) && isFinite(q)) {
      const c2 = (s * s) / <f64> C;
      if (c2 <= 0.5 * q) {
        const v = (q - c2) / <f64> C;
        Row.mean = m + s / <f64> C;
        return v < 0 ? 0 : v;
      }
      m += s / <f64> C;
    } else m = rowMean64(row, C);
    const mf = <f32> m;
    s = Row.shiftedSums(row, C, C8, mf, false);
    q = Row.sq;
    if (!isFinite(q)) return rowVar64(row, C);
    const v = (q - (s * s) / <f64> C) / <f64> C;
    Row.mean = <f64> mf + s / <f64> C;
    return v < 0 ? 0 : v;
  }

  // Σ (x − shift) (returned) and Σ (x − shift)² (in Row.sq), float32 lanes flushed every 64; with
  // `extremes`, min and max (pmin/pmax: one instruction each, a NaN skipped) in Row.lo and Row.hi
  @inline
  static shiftedSums(row: usize, C: i32, C8: i32, shift: f32, extremes: bool): f64 {
    const sv = f32x4.splat(shift);
    let sd = f64x2.splat(0), sq = f64x2.splat(0);
    let lo = f32x4.splat(Infinity), hi = f32x4.splat(-Infinity);
    let c = 0;
    while (c < C8) {
      const end = min(C8, c + 64);
      let d0 = f32x4.splat(0), d1 = f32x4.splat(0), q0 = f32x4.splat(0), q1 = f32x4.splat(0);
      for (; c < end; c += 8) {
        const e = v128.load(row + (<usize> c << 2)), e1 = v128.load(row + (<usize> c << 2), 16);
        if (extremes) {
          lo = f32x4.pmin(f32x4.pmin(lo, e), e1);
          hi = f32x4.pmax(f32x4.pmax(hi, e), e1);
        }
        const a = f32x4.sub(e, sv);
        const b = f32x4.sub(e1, sv);
        d0 = f32x4.add(d0, a);
        d1 = f32x4.add(d1, b);
        q0 = f32x4.add(q0, f32x4.mul(a, a));
        q1 = f32x4.add(q1, f32x4.mul(b, b));
      }
      const d = f32x4.add(d0, d1), q = f32x4.add(q0, q1);
      sd = f64x2.add(
        sd,
        f64x2.add(f64x2.promote_low_f32x4(d), f64x2.promote_low_f32x4(V.hiHalf(d))),
      );
      sq = f64x2.add(
        sq,
        f64x2.add(f64x2.promote_low_f32x4(q), f64x2.promote_low_f32x4(V.hiHalf(q))),
      );
    }
    let dsum = V.hsum64(sd), qsum = V.hsum64(sq);
    let mn = V.hmin(lo), mx = V.hmax(hi);
    for (; c < C; c++) {
      const e = V.f32at(row + (<usize> c << 2));
      const a = <f64> e - <f64> shift;
      dsum += a;
      qsum += a * a;
      if (extremes) {
        if (e < mn) mn = e;
        if (e > mx) mx = e;
      }
    }
    if (extremes) {
      Row.lo = mn;
      Row.hi = mx;
    }
    Row.sq = qsum;
    return dsum;
  }

  // whether a LayerNorm row (variance v) is left to the float64 reference (see TINY_SPREAD)
  @inline
  static tinyRow(row: usize, C: i32, v: f64, eps: f64): bool {
    return v + eps < TINY_SPREAD || (v < SUBNORMAL_SPREAD && !rowConstant(row, C));
  }
}

// LayerNorm and RMSNorm

// Row mean and biased variance. One pass sums d = x − x₀ and d² (x₀ the row's first element,
// so the sums see the spread, not the offset) in float32 lanes flushed into float64 every 64
// elements. When x₀ sits far from the mean (more than the spread: half of Σd² would cancel), a
// second pass sums the deviations from mf = f32(m) and their squares the same way and corrects
// the mean and the variance (a corrected two-pass sum). A row whose float32 sums overflow takes
// a float64 path. Returns the variance; the mean is left in `Row.mean`. With `extremes` the
// first pass also finds the row's minimum and maximum (NaN elements skipped, as the TypeScript
// path's `if (v < mn) mn = v`), left in `Row.lo` and `Row.hi`.

// the row's mean from a float64 sum (for rows whose float32 partial sums overflow)
function rowMean64(row: usize, C: i32): f64 {
  let s: f64 = 0;
  for (let c = 0; c < C; c++) s += <f64> V.f32at(row + (<usize> c << 2));
  return s / <f64> C;
}

// mean (into Row.mean) and variance by a corrected two-pass sum entirely in float64
function rowVar64(row: usize, C: i32): f64 {
  const m = rowMean64(row, C);
  let sd: f64 = 0, q: f64 = 0;
  for (let c = 0; c < C; c++) {
    const a = <f64> V.f32at(row + (<usize> c << 2)) - m;
    sd += a;
    q += a * a;
  }
  const v = (q - (sd * sd) / <f64> C) / <f64> C;
  Row.mean = m + sd / <f64> C;
  return v < 0 ? 0 : v;
}

// A row whose spread and epsilon together fall below this (v + eps, a variance or mean square)
// is one float32 cannot normalize: 1/√(v + eps) may pass float32's range, and squares of
// deviations that small underflow in float32 lanes. The kernels end at such a row (untouched)
// and the caller normalizes it with the float64 TypeScript reference. So do they at a LayerNorm
// row whose deviations are subnormal (their float32 squares vanish: v below SUBNORMAL_SPREAD)
// unless it is constant: (x − m)·r would lose digits in float32 lanes. (With eps ≥ 1e-30 and
// rows of normal floats, no row is one.)
export const TINY_SPREAD: f64 = 1e-30;
const SUBNORMAL_SPREAD: f64 = 1e-60;

// every element equal to the first
function rowConstant(row: usize, C: i32): bool {
  const x0 = V.f32at(row), xv = f32x4.splat(x0);
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    if (!i32x4.all_true(f32x4.eq(v128.load(row + (<usize> c << 2)), xv))) return false;
  }
  for (; c < C; c++) if (V.f32at(row + (<usize> c << 2)) != x0) return false;
  return true;
}

// LayerNorm: inp, out [N,C] (out may be inp); mean, rstd [N]; weight, bias [C] (0 = none). With
// LayerNorm: inp, out [N,C] (out may be inp); mean, rstd [N]; weight, bias [C] (0 = none). With
// stop = 1 it ends at the first row holding a NaN or ±Infinity (its mean is not finite: float32
// values cannot overflow a float64 sum), leaving it untouched; it always ends at a row of
// TINY_SPREAD. Returns the rows done.
export function layerNormRows(
  out: usize,
  mean: usize,
  rstd: usize,
  inp: usize,
  weight: usize,
  bias: usize,
  N: i32,
  C: i32,
  eps: f64,
  stop: i32,
): i32 {
  for (let n = 0; n < N; n++) {
    const off = (<usize> n * <usize> C) << 2;
    const row = inp + off, orow = out + off;
    const v = Row.rowMoments(row, C, false);
    if (stop && !isFinite(Row.mean)) return n;
    if (isFinite(Row.mean) && Row.tinyRow(row, C, v, eps)) return n;
    const m = Row.mean, r = 1 / Math.sqrt(v + eps);
    store<f32>(mean + (<usize> n << 2), <f32> m);
    store<f32>(rstd + (<usize> n << 2), <f32> r);
    // (x − m)·r in float32 with the mean split as mf + dm: x − mf is exact for x near the mean
    const mf = <f32> m, dm = <f32> (m - <f64> mf), rf = <f32> r;
    const mv = f32x4.splat(mf), dv = f32x4.splat(dm), rv = f32x4.splat(rf);
    let c = 0;
    if (weight && bias) {
      for (; c + 8 <= C; c += 8) {
        const o = <usize> c << 2;
        const y0 = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(row + o), mv), dv), rv);
        const y1 = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(row + o, 16), mv), dv), rv);
        v128.store(orow + o, f32x4.add(f32x4.mul(y0, v128.load(weight + o)), v128.load(bias + o)));
        v128.store(
          orow + o,
          f32x4.add(f32x4.mul(y1, v128.load(weight + o, 16)), v128.load(bias + o, 16)),
          16,
        );
      }
    } else if (!weight && !bias) {
      for (; c + 8 <= C; c += 8) {
        const o = <usize> c << 2;
        v128.store(orow + o, f32x4.mul(f32x4.sub(f32x4.sub(v128.load(row + o), mv), dv), rv));
        v128.store(
          orow + o,
          f32x4.mul(f32x4.sub(f32x4.sub(v128.load(row + o, 16), mv), dv), rv),
          16,
        );
      }
    }
    {
      for (; c + 4 <= C; c += 4) {
        const o = <usize> c << 2;
        let y = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(row + o), mv), dv), rv);
        if (weight) y = f32x4.mul(y, v128.load(weight + o));
        if (bias) y = f32x4.add(y, v128.load(bias + o));
        v128.store(orow + o, y);
      }
    }
    for (; c < C; c++) {
      const o = <usize> c << 2;
      let y = (V.f32at(row + o) - mf - dm) * rf;
      if (weight) y *= V.f32at(weight + o);
      if (bias) y += V.f32at(bias + o);
      store<f32>(orow + o, y);
    }
  }
  return N;
}

// Accumulates into dinp [N,C] and, when given, dweight, dbias [C]; scratch: 2C float64 + 2C
// float32 (row sums of 16 rows in float32, then added into float64).
export function layerNormBackward(
  dinp: usize,
  dweight: usize,
  dbias: usize,
  dout: usize,
  inp: usize,
  weight: usize,
  mean: usize,
  rstd: usize,
  N: i32,
  C: i32,
  scratch: usize,
): void {
  const sw = scratch, sb = scratch + (<usize> C << 3);
  const fw = scratch + (<usize> C << 4), fb = fw + (<usize> C << 2);
  const params = dweight != 0 || dbias != 0;
  if (params) memory.fill(scratch, 0, <usize> C * 24);
  for (let n = 0; n < N; n++) {
    const off = (<usize> n * <usize> C) << 2;
    const x = inp + off, g = dout + off, dx = dinp + off;
    const mf = load<f32>(mean + (<usize> n << 2)), rf = load<f32>(rstd + (<usize> n << 2));
    const mv = f32x4.splat(mf), rv = f32x4.splat(rf);
    let sa = f64x2.splat(0), sbv = f64x2.splat(0);
    let c = 0;
    while (c + 8 <= C) {
      const end = min(C & ~7, c + 64);
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
      for (; c < end; c += 8) {
        const o = <usize> c << 2;
        const n0 = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
        const n1 = f32x4.mul(f32x4.sub(v128.load(x + o, 16), mv), rv);
        let g0 = v128.load(g + o), g1 = v128.load(g + o, 16);
        if (weight) {
          g0 = f32x4.mul(g0, v128.load(weight + o));
          g1 = f32x4.mul(g1, v128.load(weight + o, 16));
        }
        a0 = f32x4.add(a0, g0);
        a1 = f32x4.add(a1, g1);
        b0 = f32x4.add(b0, f32x4.mul(g0, n0));
        b1 = f32x4.add(b1, f32x4.mul(g1, n1));
      }
      const av = f32x4.add(a0, a1), bv = f32x4.add(b0, b1);
      sa = f64x2.add(
        sa,
        f64x2.add(f64x2.promote_low_f32x4(av), f64x2.promote_low_f32x4(V.hiHalf(av))),
      );
      sbv = f64x2.add(
        sbv,
        f64x2.add(f64x2.promote_low_f32x4(bv), f64x2.promote_low_f32x4(V.hiHalf(bv))),
      );
    }
    let ta = V.hsum64(sa), tb = V.hsum64(sbv);
    for (; c < C; c++) {
      const o = <usize> c << 2;
      const norm = (V.f32at(x + o) - mf) * rf;
      const dn = V.f32at(g + o) * (weight ? V.f32at(weight + o) : 1);
      ta += <f64> dn;
      tb += <f64> (dn * norm);
    }
    const af = <f32> (ta / <f64> C), bf = <f32> (tb / <f64> C);
    // one loop per case, so no test runs per element (the inlined flags fold away)
    if (weight) {
      if (params) c = LnBack.lnBackRow(dx, x, g, weight, mf, rf, af, bf, C, fw, fb, true, true);
      else c = LnBack.lnBackRow(dx, x, g, weight, mf, rf, af, bf, C, fw, fb, true, false);
    } else if (params) {
      c = LnBack.lnBackRow(dx, x, g, weight, mf, rf, af, bf, C, fw, fb, false, true);
    } else c = LnBack.lnBackRow(dx, x, g, weight, mf, rf, af, bf, C, fw, fb, false, false);
    for (; c < C; c++) {
      const o = <usize> c << 2;
      const norm = (V.f32at(x + o) - mf) * rf;
      const gs = V.f32at(g + o);
      const dn = gs * (weight ? V.f32at(weight + o) : 1);
      store<f32>(dx + o, V.f32at(dx + o) + (dn - af - norm * bf) * rf);
      if (params) {
        store<f32>(fw + o, V.f32at(fw + o) + norm * gs);
        store<f32>(fb + o, V.f32at(fb + o) + gs);
      }
    }
    if (params && ((n & 15) == 15 || n == N - 1)) {
      flush64(sw, fw, C);
      flush64(sb, fb, C);
    }
  }
  for (let c = 0; c < C; c++) {
    const o = <usize> c << 2;
    if (dweight) {
      store<f32>(
        dweight + o,
        <f32> (<f64> V.f32at(dweight + o) + load<f64>(sw + (<usize> c << 3))),
      );
    }
    if (dbias) {
      store<f32>(dbias + o, <f32> (<f64> V.f32at(dbias + o) + load<f64>(sb + (<usize> c << 3))));
    }
  }
}

/** The backward of one row, inlined. */
export class LnBack {
  // dx += (dn − a − norm·b)·r over a row's whole vectors (dn = g·w), and with params the float32
  // column sums fw += norm·g, fb += g; returns where the scalar tail starts
  @inline
  static lnBackRow(
    dx: usize,
    x: usize,
    g: usize,
    weight: usize,
    mf: f32,
    rf: f32,
    af: f32,
    bf: f32,
    C: i32,
    fw: usize,
    fb: usize,
    hasW: bool,
    params: bool,
  ): i32 {
    const mv = f32x4.splat(mf), rv = f32x4.splat(rf), av = f32x4.splat(af), bv = f32x4.splat(bf);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize> c << 2;
      const norm = f32x4.mul(f32x4.sub(v128.load(x + o), mv), rv);
      const gv = v128.load(g + o);
      const dn = hasW ? f32x4.mul(gv, v128.load(weight + o)) : gv;
      const d = f32x4.mul(f32x4.sub(f32x4.sub(dn, av), f32x4.mul(norm, bv)), rv);
      v128.store(dx + o, f32x4.add(v128.load(dx + o), d));
      if (params) {
        v128.store(fw + o, f32x4.add(v128.load(fw + o), f32x4.mul(norm, gv)));
        v128.store(fb + o, f32x4.add(v128.load(fb + o), gv));
      }
    }
    return c;
  }
}

// s64 [C] += f32 [C] (in float64); f32 [C] = 0
export function flush64(s64: usize, f: usize, C: i32): void {
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const v = v128.load(f + (<usize> c << 2));
    const s = s64 + (<usize> c << 3);
    v128.store(s, f64x2.add(v128.load(s), f64x2.promote_low_f32x4(v)));
    v128.store(s + 16, f64x2.add(v128.load(s + 16), f64x2.promote_low_f32x4(V.hiHalf(v))));
  }
  for (; c < C; c++) {
    const s = s64 + (<usize> c << 3);
    store<f64>(s, load<f64>(s) + <f64> V.f32at(f + (<usize> c << 2)));
  }
  memory.fill(f, 0, <usize> C << 2);
}
