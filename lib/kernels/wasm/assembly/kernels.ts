// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript).
//
// Built by `deno task build:wasm` into ../kernels.generated.ts; the plain TypeScript kernels in
// lib/kernels/ are the reference these must agree with. Every pointer is a byte offset into the
// imported shared memory (the arena); every shape is in elements. Nothing here allocates: the
// caller passes scratch. Statistics (row means and variances, column sums of gradients) are
// accumulated in float64 lanes so they stay exact on adversarial rows; the bulk arithmetic is
// f32x4, and matrix products use a fused multiply-add.

// ---------------------------------------------------------------------------------------------
// helpers

// @ts-ignore: decorator
@inline function f32at(p: usize): f32 {
  return load<f32>(p);
}

// @ts-ignore: decorator
@inline function hsum64(a: v128): f64 {
  return f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
}

// @ts-ignore: decorator
@inline function hiHalf(v: v128): v128 {
  return v128.shuffle<f32>(v, v, 2, 3, 0, 1);
}

// Vector constants live in a table in the arena's header (bytes 64–511), written by `init`
// when an instance starts. Written inline, V8 would rebuild each v128 constant on every loop
// iteration (the optimizer folds constants held in locals back into their uses), which made
// exp-heavy loops 3× slower.
const CT: usize = 64;
const C_HI = 0, C_LO = 1, C_LOG2E = 2, C_LN2HI = 3, C_LN2LO = 4;
const C_P0 = 5, C_P1 = 6, C_P2 = 7, C_P3 = 8, C_P4 = 9, C_P5 = 10;
const C_ONE = 11, C_BIAS = 12, C_GK = 13, C_GA = 14, C_GA3 = 15, C_INF = 16, C_CUT = 17;
const C_COUNT = 18;

// @ts-ignore: decorator
@inline function K(i: i32): v128 {
  return v128.load(CT + (<usize>i << 4));
}

/** Writes the constant table (idempotent: every instance writes the same bytes). */
export function init(): void {
  setK(C_HI, 88.3762626647949);
  setK(C_LO, -86.6); // not ln(2^−126): results stay normal floats (subnormals cost ~100 cycles)
  setK(C_LOG2E, 1.44269504088896341);
  setK(C_LN2HI, 0.693359375);
  setK(C_LN2LO, -2.12194440e-4);
  setK(C_P0, 1.9875691500e-4);
  setK(C_P1, 1.3981999507e-3);
  setK(C_P2, 8.3334519073e-3);
  setK(C_P3, 4.1665795894e-2);
  setK(C_P4, 1.6666665459e-1);
  setK(C_P5, 5.0000001201e-1);
  setK(C_ONE, 1);
  v128.store(CT + (<usize>C_BIAS << 4), i32x4.splat(127));
  setK(C_GK, GK);
  setK(C_GA, GA);
  setK(C_GA3, 3 * GA);
  setK(C_INF, Infinity);
  setK(C_CUT, 86.6);
}

function setK(i: i32, v: f32): void {
  v128.store(CT + (<usize>i << 4), f32x4.splat(v));
}

/** Bytes from the start of the arena that the kernels use (the constant table's end). */
export function reservedBytes(): i32 {
  return <i32>CT + (C_COUNT << 4);
}

// e^x lane-wise (Cephes expf: |error| ≲ 2 ulp); NaN stays NaN, large x saturates.
// @ts-ignore: decorator
@inline function exp4(x0: v128): v128 {
  const x = f32x4.pmax(f32x4.pmin(x0, K(C_HI)), K(C_LO)); // one instruction each; NaN stays
  const fx = f32x4.nearest(f32x4.mul(x, K(C_LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(fx, K(C_LN2HI)));
  r = f32x4.sub(r, f32x4.mul(fx, K(C_LN2LO)));
  let p = K(C_P0);
  p = f32x4.add(f32x4.mul(p, r), K(C_P1));
  p = f32x4.add(f32x4.mul(p, r), K(C_P2));
  p = f32x4.add(f32x4.mul(p, r), K(C_P3));
  p = f32x4.add(f32x4.mul(p, r), K(C_P4));
  p = f32x4.add(f32x4.mul(p, r), K(C_P5));
  p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), K(C_ONE));
  const n = i32x4.relaxed_trunc_f32x4_s(fx); // fx is a whole number in [−126, 127]
  const pow2 = i32x4.shl(i32x4.add(n, K(C_BIAS)), 23);
  return f32x4.mul(p, pow2);
}

function expScalar(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

// ---------------------------------------------------------------------------------------------
// elementwise

// out [n] = a [n] + b [n]
export function add(out: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, f32at(a + o) + f32at(b + o));
  }
}

// AdamW on [n] float32s, as PyTorch's (float32 arithmetic): g' = g·gscale (clipping), m = β1·m +
// (1 − β1)·g', v = β2·v + (1 − β2)·g'², p = p·decay − step·m / (√v / √c2 + eps), where
// decay = 1 − lr·wd, step = lr / c1 and c1, c2 are the bias corrections 1 − β^t.
export function adamw(
  p: usize, g: usize, m: usize, v: usize, n: i32, gscale: f32, b1: f32, b2: f32, eps: f32,
  decay: f32, step: f32, rc2: f32,
): void {
  const G = f32x4.splat(gscale), B1 = f32x4.splat(b1), B2 = f32x4.splat(b2);
  const A1 = f32x4.splat(<f32>1 - b1), A2 = f32x4.splat(<f32>1 - b2), E = f32x4.splat(eps);
  const D = f32x4.splat(decay), S = f32x4.splat(step), R = f32x4.splat(rc2);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const gv = f32x4.mul(v128.load(g + o), G);
    const mv = f32x4.add(f32x4.mul(B1, v128.load(m + o)), f32x4.mul(A1, gv));
    const vv = f32x4.add(f32x4.mul(B2, v128.load(v + o)), f32x4.mul(A2, f32x4.mul(gv, gv)));
    v128.store(m + o, mv);
    v128.store(v + o, vv);
    const den = f32x4.add(f32x4.mul(f32x4.sqrt(vv), R), E);
    const pv = f32x4.sub(f32x4.mul(v128.load(p + o), D), f32x4.div(f32x4.mul(S, mv), den));
    v128.store(p + o, pv);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const gv = f32at(g + o) * gscale;
    const mv = b1 * f32at(m + o) + (<f32>1 - b1) * gv;
    const vv = b2 * f32at(v + o) + (<f32>1 - b2) * (gv * gv);
    store<f32>(m + o, mv);
    store<f32>(v + o, vv);
    store<f32>(p + o, f32at(p + o) * decay - (step * mv) / (sqrt<f32>(vv) * rc2 + eps));
  }
}

// Σ a² over [n], in float64
export function sumSq(a: usize, n: i32): f64 {
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(a + (<usize>i << 2));
    const lo = f64x2.promote_low_f32x4(v), hi = f64x2.promote_low_f32x4(hiHalf(v));
    s0 = f64x2.add(s0, f64x2.mul(lo, lo));
    s1 = f64x2.add(s1, f64x2.mul(hi, hi));
  }
  let s = hsum64(f64x2.add(s0, s1));
  for (; i < n; i++) {
    const v = <f64>f32at(a + (<usize>i << 2));
    s += v * v;
  }
  return s;
}

// max |a| over [n] (NaN if any element is NaN)
export function maxAbs(a: usize, n: i32): f32 {
  let m = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) m = f32x4.max(m, f32x4.abs(v128.load(a + (<usize>i << 2))));
  let r = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  for (; i < n; i++) r = max(r, abs(f32at(a + (<usize>i << 2))));
  return r;
}

// out[n,:] = bias for every row n (out [N,C], bias [C])
export function fillRows(out: usize, bias: usize, N: i32, C: i32): void {
  const rowBytes = <usize>C << 2;
  for (let n = 0; n < N; n++) memory.copy(out + <usize>n * rowBytes, bias, rowBytes);
}

// out [C] += Σ_n inp[n,:], summed in float64 in scratch [C] f64
export function colSumAcc(out: usize, inp: usize, N: i32, C: i32, scratch: usize): void {
  memory.fill(scratch, 0, <usize>C << 3);
  for (let n = 0; n < N; n++) {
    const row = inp + ((<usize>n * <usize>C) << 2);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const v = v128.load(row + (<usize>c << 2));
      const s = scratch + (<usize>c << 3);
      v128.store(s, f64x2.add(v128.load(s), f64x2.promote_low_f32x4(v)));
      v128.store(s + 16, f64x2.add(v128.load(s + 16), f64x2.promote_low_f32x4(hiHalf(v))));
    }
    for (; c < C; c++) {
      const s = scratch + (<usize>c << 3);
      store<f64>(s, load<f64>(s) + <f64>f32at(row + (<usize>c << 2)));
    }
  }
  for (let c = 0; c < C; c++) {
    const o = out + (<usize>c << 2);
    store<f32>(o, <f32>(<f64>f32at(o) + load<f64>(scratch + (<usize>c << 3))));
  }
}

// ---------------------------------------------------------------------------------------------
// LayerNorm and RMSNorm

// Row mean and biased variance. One pass sums d = x − x₀ and d² (x₀ the row's first element,
// so the sums see the spread, not the offset) in float32 lanes flushed into float64 every 64
// elements. When x₀ sits far from the mean (more than the spread: half of Σd² would cancel), a
// second pass sums the deviations from mf = f32(m) and their squares the same way and corrects
// the mean and the variance (a corrected two-pass sum). A row whose float32 sums overflow takes
// a float64 path. Returns the variance; the mean is left in `rowMean`. With `extremes` the
// first pass also finds the row's minimum and maximum (NaN elements skipped, as the TypeScript
// path's `if (v < mn) mn = v`), left in `rowLo` and `rowHi`.
let rowMean: f64 = 0;
let rowLo: f32 = 0, rowHi: f32 = 0;

// inlined, so each caller's constant `extremes` leaves one loop without a test in it
@inline function rowMoments(row: usize, C: i32, extremes: bool): f64 {
  const x0 = f32at(row);
  const C8 = C & ~7;
  let m = <f64>x0, s = shiftedSums(row, C, C8, x0, extremes);
  let q = rowSq;
  if (isFinite(s) && isFinite(q)) {
    const c2 = (s * s) / <f64>C;
    if (c2 <= 0.5 * q) {
      const v = (q - c2) / <f64>C;
      rowMean = m + s / <f64>C;
      return v < 0 ? 0 : v;
    }
    m += s / <f64>C;
  } else m = rowMean64(row, C);
  const mf = <f32>m;
  s = shiftedSums(row, C, C8, mf, false);
  q = rowSq;
  if (!isFinite(q)) return rowVar64(row, C);
  const v = (q - (s * s) / <f64>C) / <f64>C;
  rowMean = <f64>mf + s / <f64>C;
  return v < 0 ? 0 : v;
}

let rowSq: f64 = 0;

// Σ (x − shift) (returned) and Σ (x − shift)² (in rowSq), float32 lanes flushed every 64; with
// `extremes`, min and max (pmin/pmax: one instruction each, a NaN skipped) in rowLo and rowHi
@inline function shiftedSums(row: usize, C: i32, C8: i32, shift: f32, extremes: bool): f64 {
  const sv = f32x4.splat(shift);
  let sd = f64x2.splat(0), sq = f64x2.splat(0);
  let lo = f32x4.splat(Infinity), hi = f32x4.splat(-Infinity);
  let c = 0;
  while (c < C8) {
    const end = min(C8, c + 64);
    let d0 = f32x4.splat(0), d1 = f32x4.splat(0), q0 = f32x4.splat(0), q1 = f32x4.splat(0);
    for (; c < end; c += 8) {
      const e = v128.load(row + (<usize>c << 2)), e1 = v128.load(row + (<usize>c << 2), 16);
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
    sd = f64x2.add(sd, f64x2.add(f64x2.promote_low_f32x4(d), f64x2.promote_low_f32x4(hiHalf(d))));
    sq = f64x2.add(sq, f64x2.add(f64x2.promote_low_f32x4(q), f64x2.promote_low_f32x4(hiHalf(q))));
  }
  let dsum = hsum64(sd), qsum = hsum64(sq);
  let mn = hmin(lo), mx = hmax(hi);
  for (; c < C; c++) {
    const e = f32at(row + (<usize>c << 2));
    const a = <f64>e - <f64>shift;
    dsum += a;
    qsum += a * a;
    if (extremes) {
      if (e < mn) mn = e;
      if (e > mx) mx = e;
    }
  }
  if (extremes) {
    rowLo = mn;
    rowHi = mx;
  }
  rowSq = qsum;
  return dsum;
}

// the row's mean from a float64 sum (for rows whose float32 partial sums overflow)
function rowMean64(row: usize, C: i32): f64 {
  let s: f64 = 0;
  for (let c = 0; c < C; c++) s += <f64>f32at(row + (<usize>c << 2));
  return s / <f64>C;
}

// mean (into rowMean) and variance by a corrected two-pass sum entirely in float64
function rowVar64(row: usize, C: i32): f64 {
  const m = rowMean64(row, C);
  let sd: f64 = 0, q: f64 = 0;
  for (let c = 0; c < C; c++) {
    const a = <f64>f32at(row + (<usize>c << 2)) - m;
    sd += a;
    q += a * a;
  }
  const v = (q - (sd * sd) / <f64>C) / <f64>C;
  rowMean = m + sd / <f64>C;
  return v < 0 ? 0 : v;
}

// A row whose spread and epsilon together fall below this (v + eps, a variance or mean square)
// is one float32 cannot normalize: 1/√(v + eps) may pass float32's range, and squares of
// deviations that small underflow in float32 lanes. The kernels end at such a row (untouched)
// and the caller normalizes it with the float64 TypeScript reference. So do they at a LayerNorm
// row whose deviations are subnormal (their float32 squares vanish: v below SUBNORMAL_SPREAD)
// unless it is constant: (x − m)·r would lose digits in float32 lanes. (With eps ≥ 1e-30 and
// rows of normal floats, no row is one.)
const TINY_SPREAD: f64 = 1e-30;
const SUBNORMAL_SPREAD: f64 = 1e-60;

// whether a LayerNorm row (variance v) is left to the float64 reference (see TINY_SPREAD)
@inline function tinyRow(row: usize, C: i32, v: f64, eps: f64): bool {
  return v + eps < TINY_SPREAD || (v < SUBNORMAL_SPREAD && !rowConstant(row, C));
}

// every element equal to the first
function rowConstant(row: usize, C: i32): bool {
  const x0 = f32at(row), xv = f32x4.splat(x0);
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    if (!i32x4.all_true(f32x4.eq(v128.load(row + (<usize>c << 2)), xv))) return false;
  }
  for (; c < C; c++) if (f32at(row + (<usize>c << 2)) != x0) return false;
  return true;
}

// LayerNorm: inp, out [N,C] (out may be inp); mean, rstd [N]; weight, bias [C] (0 = none). With
// stop = 1 it ends at the first row holding a NaN or ±Infinity (its mean is not finite: float32
// values cannot overflow a float64 sum), leaving it untouched; it always ends at a row of
// TINY_SPREAD. Returns the rows done.
export function layerNormRows(
  out: usize, mean: usize, rstd: usize, inp: usize, weight: usize, bias: usize,
  N: i32, C: i32, eps: f64, stop: i32,
): i32 {
  for (let n = 0; n < N; n++) {
    const off = (<usize>n * <usize>C) << 2;
    const row = inp + off, orow = out + off;
    const v = rowMoments(row, C, false);
    if (stop && !isFinite(rowMean)) return n;
    if (isFinite(rowMean) && tinyRow(row, C, v, eps)) return n;
    const m = rowMean, r = 1 / Math.sqrt(v + eps);
    store<f32>(mean + (<usize>n << 2), <f32>m);
    store<f32>(rstd + (<usize>n << 2), <f32>r);
    // (x − m)·r in float32 with the mean split as mf + dm: x − mf is exact for x near the mean
    const mf = <f32>m, dm = <f32>(m - <f64>mf), rf = <f32>r;
    const mv = f32x4.splat(mf), dv = f32x4.splat(dm), rv = f32x4.splat(rf);
    let c = 0;
    if (weight && bias) {
      for (; c + 8 <= C; c += 8) {
        const o = <usize>c << 2;
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
        const o = <usize>c << 2;
        v128.store(orow + o, f32x4.mul(f32x4.sub(f32x4.sub(v128.load(row + o), mv), dv), rv));
        v128.store(orow + o, f32x4.mul(f32x4.sub(f32x4.sub(v128.load(row + o, 16), mv), dv), rv), 16);
      }
    }
    {
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        let y = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(row + o), mv), dv), rv);
        if (weight) y = f32x4.mul(y, v128.load(weight + o));
        if (bias) y = f32x4.add(y, v128.load(bias + o));
        v128.store(orow + o, y);
      }
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      let y = (f32at(row + o) - mf - dm) * rf;
      if (weight) y *= f32at(weight + o);
      if (bias) y += f32at(bias + o);
      store<f32>(orow + o, y);
    }
  }
  return N;
}

// Accumulates into dinp [N,C] and, when given, dweight, dbias [C]; scratch: 2C float64 + 2C
// float32 (row sums of 16 rows in float32, then added into float64).
export function layerNormBackward(
  dinp: usize, dweight: usize, dbias: usize, dout: usize, inp: usize, weight: usize,
  mean: usize, rstd: usize, N: i32, C: i32, scratch: usize,
): void {
  const sw = scratch, sb = scratch + (<usize>C << 3);
  const fw = scratch + (<usize>C << 4), fb = fw + (<usize>C << 2);
  const params = dweight != 0 || dbias != 0;
  if (params) memory.fill(scratch, 0, <usize>C * 24);
  const one = f32x4.splat(1);
  for (let n = 0; n < N; n++) {
    const off = (<usize>n * <usize>C) << 2;
    const x = inp + off, g = dout + off, dx = dinp + off;
    const mf = load<f32>(mean + (<usize>n << 2)), rf = load<f32>(rstd + (<usize>n << 2));
    const mv = f32x4.splat(mf), rv = f32x4.splat(rf);
    let sa = f64x2.splat(0), sbv = f64x2.splat(0);
    let c = 0;
    while (c + 8 <= C) {
      const end = min(C & ~7, c + 64);
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
      for (; c < end; c += 8) {
        const o = <usize>c << 2;
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
      sa = f64x2.add(sa, f64x2.add(f64x2.promote_low_f32x4(av), f64x2.promote_low_f32x4(hiHalf(av))));
      sbv = f64x2.add(sbv, f64x2.add(f64x2.promote_low_f32x4(bv), f64x2.promote_low_f32x4(hiHalf(bv))));
    }
    let ta = hsum64(sa), tb = hsum64(sbv);
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const norm = (f32at(x + o) - mf) * rf;
      const dn = f32at(g + o) * (weight ? f32at(weight + o) : 1);
      ta += <f64>dn;
      tb += <f64>(dn * norm);
    }
    const af = <f32>(ta / <f64>C), bf = <f32>(tb / <f64>C);
    // one loop per case, so no test runs per element (the inlined flags fold away)
    if (weight) {
      if (params) c = lnBackRow(dx, x, g, weight, mf, rf, af, bf, C, fw, fb, true, true);
      else c = lnBackRow(dx, x, g, weight, mf, rf, af, bf, C, fw, fb, true, false);
    } else if (params) c = lnBackRow(dx, x, g, weight, mf, rf, af, bf, C, fw, fb, false, true);
    else c = lnBackRow(dx, x, g, weight, mf, rf, af, bf, C, fw, fb, false, false);
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const norm = (f32at(x + o) - mf) * rf;
      const gs = f32at(g + o);
      const dn = gs * (weight ? f32at(weight + o) : 1);
      store<f32>(dx + o, f32at(dx + o) + (dn - af - norm * bf) * rf);
      if (params) {
        store<f32>(fw + o, f32at(fw + o) + norm * gs);
        store<f32>(fb + o, f32at(fb + o) + gs);
      }
    }
    if (params && ((n & 15) == 15 || n == N - 1)) {
      flush64(sw, fw, C);
      flush64(sb, fb, C);
    }
  }
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 2;
    if (dweight) store<f32>(dweight + o, <f32>(<f64>f32at(dweight + o) + load<f64>(sw + (<usize>c << 3))));
    if (dbias) store<f32>(dbias + o, <f32>(<f64>f32at(dbias + o) + load<f64>(sb + (<usize>c << 3))));
  }
}

// dx += (dn − a − norm·b)·r over a row's whole vectors (dn = g·w), and with params the float32
// column sums fw += norm·g, fb += g; returns where the scalar tail starts
// @ts-ignore: decorator
@inline function lnBackRow(
  dx: usize, x: usize, g: usize, weight: usize, mf: f32, rf: f32, af: f32, bf: f32, C: i32,
  fw: usize, fb: usize, hasW: bool, params: bool,
): i32 {
  const mv = f32x4.splat(mf), rv = f32x4.splat(rf), av = f32x4.splat(af), bv = f32x4.splat(bf);
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const o = <usize>c << 2;
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

// s64 [C] += f32 [C] (in float64); f32 [C] = 0
function flush64(s64: usize, f: usize, C: i32): void {
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const v = v128.load(f + (<usize>c << 2));
    const s = s64 + (<usize>c << 3);
    v128.store(s, f64x2.add(v128.load(s), f64x2.promote_low_f32x4(v)));
    v128.store(s + 16, f64x2.add(v128.load(s + 16), f64x2.promote_low_f32x4(hiHalf(v))));
  }
  for (; c < C; c++) {
    const s = s64 + (<usize>c << 3);
    store<f64>(s, load<f64>(s) + <f64>f32at(f + (<usize>c << 2)));
  }
  memory.fill(f, 0, <usize>C << 2);
}

// inp, out [N,C] (out may be inp); rstd [N]; weight [C] (0 = none)
function rmsNormForward(
  out: usize, rstd: usize, inp: usize, weight: usize, N: i32, C: i32, eps: f64,
): void {
  rmsNormRows(out, rstd, inp, weight, N, C, eps, 0);
}

// rmsNormForward that, with stop = 1, ends at the first row holding a NaN or ±Infinity (its
// float64 Σx² is not finite), leaving it untouched; it always ends at a row of TINY_SPREAD.
// Returns the rows done.
export function rmsNormRows(
  out: usize, rstd: usize, inp: usize, weight: usize, N: i32, C: i32, eps: f64, stop: i32,
): i32 {
  for (let n = 0; n < N; n++) {
    const off = (<usize>n * <usize>C) << 2;
    const row = inp + off, orow = out + off;
    const ss = sumSq(row, C);
    if (stop && !isFinite(ss)) return n;
    if (isFinite(ss) && ss / <f64>C + eps < TINY_SPREAD) return n;
    const r = 1 / Math.sqrt(ss / <f64>C + eps);
    const rf = <f32>r;
    store<f32>(rstd + (<usize>n << 2), rf);
    const rv = f32x4.splat(rf);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      let y = f32x4.mul(v128.load(row + o), rv);
      if (weight) y = f32x4.mul(y, v128.load(weight + o));
      v128.store(orow + o, y);
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      let y = f32at(row + o) * rf;
      if (weight) y *= f32at(weight + o);
      store<f32>(orow + o, y);
    }
  }
  return N;
}

// Accumulates into dinp [N,C] and, when given, dweight [C]; scratch: C float64.
export function rmsNormBackward(
  dinp: usize, dweight: usize, dout: usize, inp: usize, weight: usize, rstd: usize,
  N: i32, C: i32, scratch: usize,
): void {
  memory.fill(scratch, 0, <usize>C << 3);
  const one = f32x4.splat(1);
  for (let n = 0; n < N; n++) {
    const off = (<usize>n * <usize>C) << 2;
    const x = inp + off, g = dout + off, dx = dinp + off;
    const rf = load<f32>(rstd + (<usize>n << 2)), rv = f32x4.splat(rf);
    let b0 = f64x2.splat(0), b1 = f64x2.splat(0);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const dn = f32x4.mul(v128.load(g + o), weight ? v128.load(weight + o) : one);
      const p = f32x4.mul(dn, f32x4.mul(v128.load(x + o), rv));
      b0 = f64x2.add(b0, f64x2.promote_low_f32x4(p));
      b1 = f64x2.add(b1, f64x2.promote_low_f32x4(hiHalf(p)));
    }
    let sbv = hsum64(f64x2.add(b0, b1));
    for (; c < C; c++) {
      const o = <usize>c << 2;
      sbv += <f64>(f32at(g + o) * (weight ? f32at(weight + o) : 1) * f32at(x + o) * rf);
    }
    const bf = <f32>(sbv / <f64>C), bv = f32x4.splat(bf);
    c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const norm = f32x4.mul(v128.load(x + o), rv);
      const gv = v128.load(g + o);
      const dn = f32x4.mul(gv, weight ? v128.load(weight + o) : one);
      const d = f32x4.mul(f32x4.sub(dn, f32x4.mul(norm, bv)), rv);
      v128.store(dx + o, f32x4.add(v128.load(dx + o), d));
      const p = f32x4.mul(norm, gv);
      const w8 = scratch + (<usize>c << 3);
      v128.store(w8, f64x2.add(v128.load(w8), f64x2.promote_low_f32x4(p)));
      v128.store(w8 + 16, f64x2.add(v128.load(w8 + 16), f64x2.promote_low_f32x4(hiHalf(p))));
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const norm = f32at(x + o) * rf, gs = f32at(g + o);
      const dn = gs * (weight ? f32at(weight + o) : 1);
      store<f32>(dx + o, f32at(dx + o) + (dn - norm * bf) * rf);
      const w8 = scratch + (<usize>c << 3);
      store<f64>(w8, load<f64>(w8) + <f64>(norm * gs));
    }
  }
  if (dweight) {
    for (let c = 0; c < C; c++) {
      const o = dweight + (<usize>c << 2);
      store<f32>(o, <f32>(<f64>f32at(o) + load<f64>(scratch + (<usize>c << 3))));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// GELU (tanh approximation)

const GK: f32 = 0.7978845608028654; // √(2/π)
const GA: f32 = 0.044715;

// GELU through the logistic function: with u = √(2/π)(x + 0.044715x³),
// 0.5·x·(1 + tanh u) = x·σ(2u) = x / (1 + e^{−2u}) — the same function, one exp and one divide,
// and no cancellation in 1 + tanh u for negative u.
// @ts-ignore: decorator
@inline function sigmoid2u(x: v128): v128 {
  const u = f32x4.mul(K(C_GK), f32x4.add(x, f32x4.mul(K(C_GA), f32x4.mul(x, f32x4.mul(x, x)))));
  const m2u = f32x4.sub(f32x4.splat(0), f32x4.add(u, u));
  // past e^86.6 take e^{−2u} = +∞, so σ is exactly 0 rather than a subnormal (slow) number
  const e = v128.bitselect(K(C_INF), exp4(m2u), f32x4.gt(m2u, K(C_CUT)));
  return f32x4.div(K(C_ONE), f32x4.add(K(C_ONE), e));
}

// gelu'(x) = σ + 2x·σ(1 − σ)·√(2/π)(1 + 3·0.044715x²) with σ = σ(2u)
// @ts-ignore: decorator
@inline function geluGrad(x: v128): v128 {
  const sg = sigmoid2u(x);
  const du = f32x4.mul(K(C_GK), f32x4.add(K(C_ONE), f32x4.mul(K(C_GA3), f32x4.mul(x, x))));
  const d = f32x4.mul(f32x4.mul(f32x4.add(x, x), f32x4.mul(sg, f32x4.sub(K(C_ONE), sg))), du);
  return f32x4.add(sg, d);
}

function geluScalar(x: f32): f32 {
  const v = f32x4.splat(x);
  return f32x4.extract_lane(f32x4.mul(v, sigmoid2u(v)), 0);
}

function geluGradScalar(x: f32): f32 {
  return f32x4.extract_lane(geluGrad(f32x4.splat(x)), 0);
}

// out, inp [n]
export function geluForward(out: usize, inp: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    // two vectors per step: independent chains the CPU can overlap
    const o = <usize>i << 2;
    const x = v128.load(inp + o), y = v128.load(inp + o, 16);
    const sx = sigmoid2u(x), sy = sigmoid2u(y);
    v128.store(out + o, f32x4.mul(x, sx));
    v128.store(out + o, f32x4.mul(y, sy), 16);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, geluScalar(f32at(inp + o)));
  }
}

// dinp [n] += dout · gelu'(inp)
export function geluBackward(dinp: usize, inp: usize, dout: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    const gx = geluGrad(v128.load(inp + o)), gy = geluGrad(v128.load(inp + o, 16));
    v128.store(dinp + o, f32x4.add(v128.load(dinp + o), f32x4.mul(gx, v128.load(dout + o))));
    v128.store(
      dinp + o,
      f32x4.add(v128.load(dinp + o, 16), f32x4.mul(gy, v128.load(dout + o, 16))),
      16,
    );
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dinp + o, f32at(dinp + o) + geluGradScalar(f32at(inp + o)) * f32at(dout + o));
  }
}

// ---------------------------------------------------------------------------------------------
// softmax

// Row-wise softmax over the first len entries of each row (entries past len are written 0);
// len = C, or, when causalT > 0, row n has len (n mod causalT) + 1 (a causal [T,T] score block).
// inp, out [N,C]
export function softmaxForward(out: usize, inp: usize, N: i32, C: i32, len: i32, causalT: i32): void {
  for (let n = 0; n < N; n++) {
    const off = (<usize>n * <usize>C) << 2;
    const x = inp + off, y = out + off;
    const L = causalT > 0 ? (n % causalT) + 1 : len;
    let mx: f32 = -Infinity;
    let mv = f32x4.splat(-Infinity);
    let c = 0;
    for (; c + 4 <= L; c += 4) mv = f32x4.max(mv, v128.load(x + (<usize>c << 2)));
    mx = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (; c < L; c++) mx = max(mx, f32at(x + (<usize>c << 2)));
    const mxv = f32x4.splat(mx);
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    c = 0;
    for (; c + 4 <= L; c += 4) {
      const o = <usize>c << 2;
      const e = exp4(f32x4.sub(v128.load(x + o), mxv));
      v128.store(y + o, e);
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(e));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(hiHalf(e)));
    }
    let s = hsum64(f64x2.add(s0, s1));
    for (; c < L; c++) {
      const e = expScalar(f32at(x + (<usize>c << 2)) - mx);
      store<f32>(y + (<usize>c << 2), e);
      s += <f64>e;
    }
    const inv = <f32>(1 / s), iv = f32x4.splat(inv);
    c = 0;
    for (; c + 4 <= L; c += 4) {
      const o = <usize>c << 2;
      v128.store(y + o, f32x4.mul(v128.load(y + o), iv));
    }
    for (; c < L; c++) store<f32>(y + (<usize>c << 2), f32at(y + (<usize>c << 2)) * inv);
    if (L < C) memory.fill(y + (<usize>L << 2), 0, <usize>(C - L) << 2);
  }
}

// dinp = scale · out ⊙ (dout − Σ out·dout) over the first len entries of each row (len and
// causalT as in softmaxForward); added to dinp when acc ≠ 0, else written (entries past len: 0).
// dinp may be dout. dout, out, dinp [N,C]
export function softmaxBackward(
  dinp: usize, dout: usize, out: usize, N: i32, C: i32, len: i32, causalT: i32, scale: f32, acc: i32,
): void {
  for (let n = 0; n < N; n++) {
    const off = (<usize>n * <usize>C) << 2;
    const g = dout + off, y = out + off, d = dinp + off;
    const L = causalT > 0 ? (n % causalT) + 1 : len;
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    let c = 0;
    for (; c + 4 <= L; c += 4) {
      const o = <usize>c << 2;
      const p = f32x4.mul(v128.load(y + o), v128.load(g + o));
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(p));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(hiHalf(p)));
    }
    let s = hsum64(f64x2.add(s0, s1));
    for (; c < L; c++) s += <f64>(f32at(y + (<usize>c << 2)) * f32at(g + (<usize>c << 2)));
    const sv = f32x4.splat(<f32>s), kv = f32x4.splat(scale), sf = <f32>s;
    c = 0;
    for (; c + 4 <= L; c += 4) {
      const o = <usize>c << 2;
      let v = f32x4.mul(f32x4.mul(v128.load(y + o), f32x4.sub(v128.load(g + o), sv)), kv);
      if (acc) v = f32x4.add(v, v128.load(d + o));
      v128.store(d + o, v);
    }
    for (; c < L; c++) {
      const o = <usize>c << 2;
      let v = f32at(y + o) * (f32at(g + o) - sf) * scale;
      if (acc) v += f32at(d + o);
      store<f32>(d + o, v);
    }
    if (!acc && L < C) memory.fill(d + (<usize>L << 2), 0, <usize>(C - L) << 2);
  }
}

// ---------------------------------------------------------------------------------------------
// matrix product: C (+)= alpha · A @ B (+ bias), any strides, packed panels and a 4×8 FMA tile

const MR = 4;
const NR = 8;
const KC = 256;
const MC = 64;
const NC = 512;

/** Bytes of packing scratch `gemm` needs. */
export function gemmScratchBytes(): i32 {
  return (MC * KC + KC * NC) << 2;
}

// Ap [mc/MR][kc][MR] from A(i, k) = A[i·rs + k·cs], rows past m zero
function packA(ap: usize, A: usize, rs: i32, cs: i32, m: i32, kc: i32): void {
  for (let i0 = 0; i0 < m; i0 += MR) {
    const rows = min(MR, m - i0);
    if (rows == MR && rs == 1) {
      for (let k = 0; k < kc; k++) {
        const p = A + ((<usize>i0 + <usize>k * <usize>cs) << 2);
        v128.store(ap, v128.load(p));
        ap += MR << 2;
      }
    } else if (rows == MR) {
      const r0 = A + ((<usize>i0 * <usize>rs) << 2), step = <usize>rs << 2, cstep = <usize>cs << 2;
      for (let k = 0; k < kc; k++) {
        const p = r0 + <usize>k * cstep;
        store<f32>(ap, f32at(p));
        store<f32>(ap, f32at(p + step), 4);
        store<f32>(ap, f32at(p + 2 * step), 8);
        store<f32>(ap, f32at(p + 3 * step), 12);
        ap += MR << 2;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        for (let i = 0; i < MR; i++) {
          const v: f32 = i < rows ? f32at(A + ((<usize>(i0 + i) * <usize>rs + <usize>k * <usize>cs) << 2)) : 0;
          store<f32>(ap + (<usize>i << 2), v);
        }
        ap += MR << 2;
      }
    }
  }
}

// Bp [nc/NR][kc][NR] from B(k, j) = B[k·rs + j·cs], columns past n zero
function packB(bp: usize, B: usize, rs: i32, cs: i32, kc: i32, n: i32): void {
  for (let j0 = 0; j0 < n; j0 += NR) {
    const cols = min(NR, n - j0);
    if (cols == NR && cs == 1) {
      for (let k = 0; k < kc; k++) {
        const p = B + ((<usize>k * <usize>rs + <usize>j0) << 2);
        v128.store(bp, v128.load(p));
        v128.store(bp, v128.load(p, 16), 16);
        bp += NR << 2;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        for (let j = 0; j < NR; j++) {
          const v: f32 = j < cols ? f32at(B + ((<usize>k * <usize>rs + <usize>(j0 + j) * <usize>cs) << 2)) : 0;
          store<f32>(bp + (<usize>j << 2), v);
        }
        bp += NR << 2;
      }
    }
  }
}

// @ts-ignore: decorator
@inline function lane4(v: v128, j: i32): f32 {
  return j == 0 ? f32x4.extract_lane(v, 0) : j == 1 ? f32x4.extract_lane(v, 1) : j == 2 ? f32x4.extract_lane(v, 2) : f32x4.extract_lane(v, 3);
}

// @ts-ignore: decorator
@inline function tileRow(p: usize, a: v128, b: v128, al: v128, first: bool, bv0: v128, bv1: v128): void {
  if (first) {
    v128.store(p, f32x4.add(f32x4.mul(a, al), bv0));
    v128.store(p, f32x4.add(f32x4.mul(b, al), bv1), 16);
  } else {
    v128.store(p, f32x4.add(v128.load(p), f32x4.mul(a, al)));
    v128.store(p, f32x4.add(v128.load(p, 16), f32x4.mul(b, al)), 16);
  }
}

// one MR×NR tile over kc: C tile = alpha·acc (+ bias) when first, else C tile += alpha·acc.
// A's four values at k are loaded as one vector and broadcast by shuffles: in this V8 that is
// much faster than v128.load32_splat (51 against 38 GFLOP/s for the bare loop).
function micro(
  kc: i32, ap: usize, bp: usize, Cp: usize, ldc: i32, m: i32, n: i32, alpha: f32,
  first: bool, bias: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16);
    const av = v128.load(ap);
    let a = i32x4.shuffle(av, av, 0, 0, 0, 0);
    c00 = f32x4.relaxed_madd(a, b0, c00);
    c01 = f32x4.relaxed_madd(a, b1, c01);
    a = i32x4.shuffle(av, av, 1, 1, 1, 1);
    c10 = f32x4.relaxed_madd(a, b0, c10);
    c11 = f32x4.relaxed_madd(a, b1, c11);
    a = i32x4.shuffle(av, av, 2, 2, 2, 2);
    c20 = f32x4.relaxed_madd(a, b0, c20);
    c21 = f32x4.relaxed_madd(a, b1, c21);
    a = i32x4.shuffle(av, av, 3, 3, 3, 3);
    c30 = f32x4.relaxed_madd(a, b0, c30);
    c31 = f32x4.relaxed_madd(a, b1, c31);
    ap += MR << 2;
    bp += NR << 2;
  }
  const al = f32x4.splat(alpha);
  const ld = <usize>ldc << 2;
  if (m == MR && n == NR) {
    let bv0 = f32x4.splat(0), bv1 = f32x4.splat(0);
    if (first && bias) {
      bv0 = v128.load(bias);
      bv1 = v128.load(bias, 16);
    }
    tileRow(Cp, c00, c01, al, first, bv0, bv1);
    tileRow(Cp + ld, c10, c11, al, first, bv0, bv1);
    tileRow(Cp + 2 * ld, c20, c21, al, first, bv0, bv1);
    tileRow(Cp + 3 * ld, c30, c31, al, first, bv0, bv1);
    return;
  }
  // an edge tile: only the m×n corner is written
  for (let i = 0; i < m; i++) {
    const v0 = i == 0 ? c00 : i == 1 ? c10 : i == 2 ? c20 : c30;
    const v1 = i == 0 ? c01 : i == 1 ? c11 : i == 2 ? c21 : c31;
    const row = Cp + <usize>i * ld;
    for (let j = 0; j < n; j++) {
      const lane = j < 4 ? lane4(v0, j) : lane4(v1, j - 4);
      const o = row + (<usize>j << 2);
      let v = alpha * lane;
      if (first) {
        if (bias) v += f32at(bias + (<usize>j << 2));
      } else v += f32at(o);
      store<f32>(o, v);
    }
  }
}

// C[i·ldc + j] (+)= alpha · Σ_k A(i,k)·B(k,j) (+ bias[j]) for i < M, j < N.
// A(i,k) = A[i·ars + k·acs]; B(k,j) = B[k·brs + j·bcs]; bias (0 = none) only when not acc;
// scratch: gemmScratchBytes() bytes. With K = 0 and acc = 0, C = bias (or 0).
export function gemm(
  M: i32, N: i32, K: i32, alpha: f32,
  A: usize, ars: i32, acs: i32,
  B: usize, brs: i32, bcs: i32,
  C: usize, ldc: i32, bias: usize, acc: i32, scratch: usize,
): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (acc) return;
    for (let i = 0; i < M; i++) {
      const row = C + ((<usize>i * <usize>ldc) << 2);
      if (bias) memory.copy(row, bias, <usize>N << 2);
      else memory.fill(row, 0, <usize>N << 2);
    }
    return;
  }
  const ap = scratch, bp = scratch + ((MC * KC) << 2);
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      const first = pc == 0 && !acc;
      packB(bp, B + ((<usize>pc * <usize>brs + <usize>jc * <usize>bcs) << 2), brs, bcs, kc, nc);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        packA(ap, A + ((<usize>ic * <usize>ars + <usize>pc * <usize>acs) << 2), ars, acs, mc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const bpj = bp + ((<usize>jr * <usize>kc) << 2);
          const biasj = bias ? bias + ((<usize>(jc + jr)) << 2) : 0;
          for (let ir = 0; ir < mc; ir += MR) {
            micro(
              kc, ap + ((<usize>ir * <usize>kc) << 2), bpj,
              C + ((<usize>(ic + ir) * <usize>ldc + <usize>(jc + jr)) << 2), ldc,
              min(MR, mc - ir), min(NR, nc - jr), alpha, first, biasj,
            );
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// the pipeline's per-token work: the probe direction and per-row statistics

// @ts-ignore: decorator
@inline function mix4(h0: v128): v128 {
  let h = v128.xor(h0, i32x4.shr_u(h0, 16));
  h = i32x4.mul(h, i32x4.splat(0x85ebca6b));
  h = v128.xor(h, i32x4.shr_u(h, 13));
  h = i32x4.mul(h, i32x4.splat(0xc2b2ae35));
  return v128.xor(h, i32x4.shr_u(h, 16));
}

function mix32(h0: u32): u32 {
  let h = h0 ^ (h0 >>> 16);
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  return h ^ (h >>> 16);
}

// R [N,C] = the probe direction of global tokens first … first+N−1, bit for bit as
// lib/model/rng.ts probeRow: R_c = −1 where bit c & 31 of the hash of word j = c >> 5 is set,
// else +1 (Rademacher: mean 0, variance 1, ‖R‖² = C). keys [N] u32: each token's probeKey,
// computed by the caller.
export function probeFill(out: usize, keys: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    probeRowFill(out + ((<usize>n * <usize>C) << 2), load<u32>(keys + (<usize>n << 2)), C);
  }
}

// one row of probeFill: 32 channels per hash, four lanes' bits tested per vector
function probeRowFill(row: usize, key: u32, C: i32): void {
  const pos = f32x4.splat(1), neg = f32x4.splat(-1), zero = i32x4.splat(0);
  const b0 = i32x4(1, 2, 4, 8);
  let c = 0;
  for (let j = 0; c + 32 <= C; j++) {
    const w = i32x4.splat(<i32>mix32(key ^ (<u32>(j + 1) * 0x9e3779b9)));
    const p = row + (<usize>c << 2);
    // lanes test bits 4v … 4v+3 of the word: a set bit makes the channel −1
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, b0), zero)));
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 4)), zero)), 16);
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 8)), zero)), 32);
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 12)), zero)), 48);
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 16)), zero)), 64);
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 20)), zero)), 80);
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 24)), zero)), 96);
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 28)), zero)), 112);
    c += 32;
  }
  if (c < C) {
    const h = mix32(key ^ (<u32>((c >> 5) + 1) * 0x9e3779b9));
    for (; c < C; c++) store<f32>(row + (<usize>c << 2), (h >>> (c & 31)) & 1 ? <f32>-1 : <f32>1);
  }
}

// Per row of x [N,C]: Σx, Σ(x − mean)², min, max into stats[n·stride + field …] (float64).
export function rowStats(stats: usize, x: usize, N: i32, C: i32, stride: i32, field: i32): void {
  for (let n = 0; n < N; n++) {
    const v = rowMoments(x + ((<usize>n * <usize>C) << 2), C, true), m = rowMean;
    const o = stats + ((<usize>n * <usize>stride + <usize>field) << 3);
    store<f64>(o, m * <f64>C);
    store<f64>(o, v * <f64>C, 8);
    store<f64>(o, <f64>rowLo, 16);
    store<f64>(o, <f64>rowHi, 24);
  }
}

// Per row: Σdy², max|dy|, Σdx², max|dx|, and scale·Σ y·dy into stats[n·stride + field …], in
// one pass: squares in float32 lanes flushed into float64 every 32 elements, the loss in float64.
export function gradStats(
  stats: usize, y: usize, dy: usize, dx: usize, N: i32, C: i32, stride: i32, field: i32,
  scale: f64,
): void {
  const C4 = C & ~3;
  for (let n = 0; n < N; n++) {
    const off = (<usize>n * <usize>C) << 2;
    const py = y + off, pg = dy + off, px = dx + off;
    let sg = f64x2.splat(0), sx = f64x2.splat(0), sl = f64x2.splat(0), sl1 = f64x2.splat(0);
    let mg = f32x4.splat(0), mx = f32x4.splat(0);
    let c = 0;
    while (c < C4) {
      const end = min(C4, c + 32);
      // two sets of accumulators: the adds of one lane chain no longer wait on each other
      let qg = f32x4.splat(0), qx = f32x4.splat(0), qg1 = qg, qx1 = qx;
      for (; c + 8 <= end; c += 8) {
        const o = <usize>c << 2;
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
          f64x2.mul(f64x2.promote_low_f32x4(hiHalf(yv)), f64x2.promote_low_f32x4(hiHalf(g))),
        );
        sl = f64x2.add(sl, f64x2.mul(f64x2.promote_low_f32x4(y1), f64x2.promote_low_f32x4(g1)));
        sl1 = f64x2.add(
          sl1,
          f64x2.mul(f64x2.promote_low_f32x4(hiHalf(y1)), f64x2.promote_low_f32x4(hiHalf(g1))),
        );
        // pmax (one instruction, where max fixes up NaN and −0): a NaN makes the row's sum NaN
        mg = f32x4.pmax(f32x4.pmax(mg, f32x4.abs(g)), f32x4.abs(g1));
        mx = f32x4.pmax(f32x4.pmax(mx, f32x4.abs(d)), f32x4.abs(d1));
      }
      for (; c < end; c += 4) {
        const o = <usize>c << 2;
        const g = v128.load(pg + o), d = v128.load(px + o), yv = v128.load(py + o);
        qg = f32x4.add(qg, f32x4.mul(g, g));
        qx = f32x4.add(qx, f32x4.mul(d, d));
        sl = f64x2.add(sl, f64x2.mul(f64x2.promote_low_f32x4(yv), f64x2.promote_low_f32x4(g)));
        sl1 = f64x2.add(
          sl1,
          f64x2.mul(f64x2.promote_low_f32x4(hiHalf(yv)), f64x2.promote_low_f32x4(hiHalf(g))),
        );
        mg = f32x4.pmax(mg, f32x4.abs(g));
        mx = f32x4.pmax(mx, f32x4.abs(d));
      }
      qg = f32x4.add(qg, qg1);
      qx = f32x4.add(qx, qx1);
      sg = f64x2.add(sg, f64x2.add(f64x2.promote_low_f32x4(qg), f64x2.promote_low_f32x4(hiHalf(qg))));
      sx = f64x2.add(sx, f64x2.add(f64x2.promote_low_f32x4(qx), f64x2.promote_low_f32x4(hiHalf(qx))));
    }
    let tg = hsum64(sg), tx = hsum64(sx), tl = hsum64(f64x2.add(sl, sl1));
    let hg = max(max(f32x4.extract_lane(mg, 0), f32x4.extract_lane(mg, 1)), max(f32x4.extract_lane(mg, 2), f32x4.extract_lane(mg, 3)));
    let hx = max(max(f32x4.extract_lane(mx, 0), f32x4.extract_lane(mx, 1)), max(f32x4.extract_lane(mx, 2), f32x4.extract_lane(mx, 3)));
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const g = <f64>f32at(pg + o), d = <f64>f32at(px + o);
      tg += g * g;
      tx += d * d;
      tl += <f64>f32at(py + o) * g;
      hg = max(hg, abs(<f32>g));
      hx = max(hx, abs(<f32>d));
    }
    const o = stats + ((<usize>n * <usize>stride + <usize>field) << 3);
    store<f64>(o, tg);
    store<f64>(o, <f64>hg, 8);
    store<f64>(o, tx, 16);
    store<f64>(o, <f64>hx, 24);
    store<f64>(o, scale * tl, 32);
  }
}


// normalize with statistics, row by row so nothing but y leaves the cache: out [N,C] =
// LayerNorm (rms = 0) or RMSNorm (rms = 1) of inp [N,C] (weight, bias [C] or 0; out may be inp:
// in place); keys [N] u32 the tokens' probe keys; per row into stats[n·stride …] (float64) the
// input's Σ, M2, min, max (fields 0–3), the output's (4–7), and Σdy², max|dy|, Σdx², max|dx|,
// Σ y·dy (8–12) of the probe loss Σ y·R. With stop = 1 the first row holding a non-finite
// value ends the batch untouched; a row of TINY_SPREAD always does. Returns the rows done.
// scratch: 3C + 2 float32 and C float64 (16-byte aligned).
export function normStats(
  out: usize, inp: usize, weight: usize, bias: usize, keys: usize, N: i32, C: i32, eps: f64,
  rms: i32, stats: usize, stride: i32, scratch: usize, stop: i32,
): i32 {
  const rowBytes = <usize>C << 2;
  const R = scratch, D = R + rowBytes, X = D + rowBytes, mr = X + rowBytes;
  const s64 = (mr + 8 + 7) & ~7;
  // in place, the paths that read x after y is written read a copy of the row
  const copy = out == inp && (rms != 0 || weight != 0 || bias != 0);
  for (let n = 0; n < N; n++) {
    let x = inp + <usize>n * rowBytes;
    const y = out + <usize>n * rowBytes;
    const st = stats + ((<usize>n * <usize>stride) << 3);
    if (copy) {
      memory.copy(X, x, rowBytes);
      x = X;
    }
    if (!rms) {
      if (!lnStatsRow(y, x, weight, bias, load<u32>(keys + (<usize>n << 2)), R, C, eps, st, stop)) {
        return n;
      }
      continue;
    }
    // RMSNorm: the batch kernels on one row
    rowStats(st, x, 1, C, stride, 0);
    if (stop && !isFinite(load<f64>(st))) return n; // Σ = mean·C: see lnStatsRow
    const ss = sumSq(x, C);
    if (isFinite(ss) && ss / <f64>C + eps < TINY_SPREAD) return n; // the caller's, in float64
    probeFill(R, keys + (<usize>n << 2), 1, C);
    rmsNormForward(y, mr + 4, x, weight, 1, C, eps);
    rowStats(st, y, 1, C, stride, 4);
    memory.fill(D, 0, rowBytes);
    rmsNormBackward(D, 0, R, x, weight, mr + 4, 1, C, s64);
    gradStats(st, y, R, D, 1, C, stride, 8, 1);
  }
  return N;
}

@inline function hmin(v: v128): f32 {
  return min(min(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), min(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

@inline function hmax(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

@inline function widen(acc: v128, v: v128): v128 {
  return f64x2.add(acc, f64x2.add(f64x2.promote_low_f32x4(v), f64x2.promote_low_f32x4(hiHalf(v))));
}

// One row of normStats for LayerNorm, in three passes (the last two over cached rows): the
// input's moments; y = x̂·w + b with the output's moments and the backward's row sums over the
// probe direction R (filled into R [C] first); then dx = (R·w − a − x̂·b)·r, of which only ‖dx‖² and max|dx| are
// kept. Sums in float32 lanes flushed into float64 every 64 elements. x̂ = ((x − mf) − dm)·r is
// the forward's normalized value (y itself without weight and bias).
function lnStatsRow(
  y: usize, x: usize, weight: usize, bias: usize, key: u32, R: usize, C: i32, eps: f64,
  st: usize, stop: i32,
): bool {
  const C8 = C & ~7, Cf = <f64>C;
  const zero = f32x4.splat(0);
  // 1. the input's Σ, M2, minimum and maximum (as rowStats). A non-finite value makes the mean
  // non-finite (float32 values cannot overflow its float64 sums)
  const v = rowMoments(x, C, true), m = rowMean, inLo = rowLo, inHi = rowHi;
  if (stop && !isFinite(m)) return false;
  if (isFinite(m) && tinyRow(x, C, v, eps)) return false; // the caller's, in float64
  store<f64>(st, m * Cf);
  store<f64>(st, v * Cf, 8);
  store<f64>(st, <f64>inLo, 16);
  store<f64>(st, <f64>inHi, 24);
  // 2. y with the output's Σ, Σy², min, max; Σ R·w, Σ R·w·x̂ and the loss Σ y·R. R is ±1 (the
  // probe row, filled first): ‖R‖² = C and max|R| = 1 need no sums
  probeRowFill(R, key, C);
  const r = 1 / Math.sqrt(v + eps);
  const mf = <f32>m, dm = <f32>(m - <f64>mf), rf = <f32>r;
  const mv = f32x4.splat(mf), dv = f32x4.splat(dm), rv = f32x4.splat(rf);
  const affine = weight != 0 || bias != 0;
  let sy = f64x2.splat(0), qy = f64x2.splat(0);
  let sa = f64x2.splat(0), sb = f64x2.splat(0), sl = f64x2.splat(0);
  let lo = f32x4.splat(Infinity), hi = f32x4.splat(-Infinity);
  let c = 0;
  while (c < C8) {
    const end = min(C8, c + 64);
    let s0 = zero, q0 = zero, a0 = zero, b0 = zero, l0 = zero;
    for (; c < end; c += 8) {
      const o = <usize>c << 2;
      let n0 = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o), mv), dv), rv);
      let n1 = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o, 16), mv), dv), rv);
      let y0 = n0, y1 = n1;
      const r0 = v128.load(R + o), r1 = v128.load(R + o, 16);
      let g0 = r0, g1 = r1;
      if (affine) {
        if (weight) {
          const w0 = v128.load(weight + o), w1 = v128.load(weight + o, 16);
          y0 = f32x4.mul(y0, w0);
          y1 = f32x4.mul(y1, w1);
          g0 = f32x4.mul(r0, w0);
          g1 = f32x4.mul(r1, w1);
        }
        if (bias) {
          y0 = f32x4.add(y0, v128.load(bias + o));
          y1 = f32x4.add(y1, v128.load(bias + o, 16));
        }
      }
      v128.store(y + o, y0);
      v128.store(y + o, y1, 16);
      s0 = f32x4.add(s0, f32x4.add(y0, y1));
      q0 = f32x4.add(q0, f32x4.add(f32x4.mul(y0, y0), f32x4.mul(y1, y1)));
      if (affine) {
        lo = f32x4.pmin(f32x4.pmin(lo, y0), y1);
        hi = f32x4.pmax(f32x4.pmax(hi, y0), y1);
        b0 = f32x4.add(b0, f32x4.add(f32x4.mul(g0, n0), f32x4.mul(g1, n1)));
      }
      a0 = f32x4.add(a0, f32x4.add(g0, g1));
      l0 = f32x4.add(l0, f32x4.add(f32x4.mul(y0, r0), f32x4.mul(y1, r1)));
    }
    sy = widen(sy, s0);
    qy = widen(qy, q0);
    sa = widen(sa, a0);
    sl = widen(sl, l0);
    if (affine) sb = widen(sb, b0);
  }
  let ts = hsum64(sy), tq = hsum64(qy), outLo = hmin(lo), outHi = hmax(hi);
  let ta = hsum64(sa), tb = hsum64(sb), tl = hsum64(sl);
  for (; c < C; c++) {
    const o = <usize>c << 2;
    const nn = (f32at(x + o) - mf - dm) * rf;
    let e = nn;
    if (weight) e *= f32at(weight + o);
    if (bias) e += f32at(bias + o);
    store<f32>(y + o, e);
    ts += <f64>e;
    tq += <f64>e * <f64>e;
    if (e < outLo) outLo = e;
    if (e > outHi) outHi = e;
    const rr = f32at(R + o);
    const g = weight ? rr * f32at(weight + o) : rr;
    ta += <f64>g;
    tb += <f64>(g * nn);
    tl += <f64>e * <f64>rr;
  }
  const tR = Cf, hR: f32 = C > 0 ? 1 : 0;
  if (!affine) {
    tb = tl; // x̂ = y: the backward's Σ R·x̂ is the loss
    // y = ((x − mf) − dm)·r is monotone in x (each rounded step is): the extremes map over
    outLo = (inLo - mf - dm) * rf;
    outHi = (inHi - mf - dm) * rf;
  }
  // the spread from Σy² − (Σy)²/C unless the mean dominates it (then two passes, as rowStats)
  const c2 = (ts * ts) / Cf;
  if (isFinite(ts) && isFinite(tq) && c2 <= 0.5 * tq) {
    store<f64>(st, ts, 32);
    store<f64>(st, tq - c2 < 0 ? 0 : tq - c2, 40);
  } else {
    const vy = rowMoments(y, C, false);
    store<f64>(st, rowMean * Cf, 32);
    store<f64>(st, vy * Cf, 40);
  }
  store<f64>(st, <f64>outLo, 48);
  store<f64>(st, <f64>outHi, 56);
  const af = <f32>(ta / Cf), bf = <f32>(tb / Cf);
  const av = f32x4.splat(af), bv = f32x4.splat(bf);
  // 3. dx = (R·w − a − x̂·b)·r: only its square sum and largest magnitude are kept
  if (!affine) {
    // ‖dx‖² from the row sums: Σ(R − a − y·b)² = ΣR² − C·a² + b²·Σy² − 2C·b² + 2ab·Σy with
    // a = ΣR/C, b = Σy·R/C (exact algebra), times r²; only max|dx| needs the elements, and
    // r > 0 carries max|R − a − y·b| over unchanged (rounding is monotone)
    let mD = zero;
    c = 0;
    for (; c < C8; c += 8) {
      const o = <usize>c << 2;
      const e0 = f32x4.sub(f32x4.sub(v128.load(R + o), av), f32x4.mul(v128.load(y + o), bv));
      const e1 = f32x4.sub(
        f32x4.sub(v128.load(R + o, 16), av),
        f32x4.mul(v128.load(y + o, 16), bv),
      );
      mD = f32x4.pmax(f32x4.pmax(mD, f32x4.abs(e0)), f32x4.abs(e1));
    }
    let hD = hmax(mD);
    for (; c < C; c++) {
      const o = <usize>c << 2;
      hD = max(hD, abs(f32at(R + o) - af - f32at(y + o) * bf));
    }
    const a = ta / Cf, b = tb / Cf;
    const s2 = tR - Cf * a * a + b * b * tq - 2 * Cf * b * b + 2 * a * b * ts;
    store<f64>(st, tR, 64);
    store<f64>(st, <f64>hR, 72);
    store<f64>(st, s2 > 0 || !isFinite(s2) ? r * r * s2 : 0, 80);
    store<f64>(st, <f64>(hD * rf), 88);
    store<f64>(st, tl, 96);
    return true;
  }
  let sx = f64x2.splat(0), mX = zero;
  c = 0;
  while (c < C8) {
    const end = min(C8, c + 64);
    let d0 = zero, d1 = zero;
    for (; c < end; c += 8) {
      const o = <usize>c << 2;
      let g0 = v128.load(R + o), g1 = v128.load(R + o, 16);
      let n0: v128, n1: v128;
      if (affine) {
        n0 = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o), mv), dv), rv);
        n1 = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o, 16), mv), dv), rv);
        if (weight) {
          g0 = f32x4.mul(g0, v128.load(weight + o));
          g1 = f32x4.mul(g1, v128.load(weight + o, 16));
        }
      } else {
        n0 = v128.load(y + o);
        n1 = v128.load(y + o, 16);
      }
      const x0 = f32x4.mul(f32x4.sub(f32x4.sub(g0, av), f32x4.mul(n0, bv)), rv);
      const x1 = f32x4.mul(f32x4.sub(f32x4.sub(g1, av), f32x4.mul(n1, bv)), rv);
      d0 = f32x4.add(d0, f32x4.mul(x0, x0));
      d1 = f32x4.add(d1, f32x4.mul(x1, x1));
      mX = f32x4.pmax(f32x4.pmax(mX, f32x4.abs(x0)), f32x4.abs(x1));
    }
    sx = widen(sx, f32x4.add(d0, d1));
  }
  let tx = hsum64(sx), hX = hmax(mX);
  for (; c < C; c++) {
    const o = <usize>c << 2;
    // x̂: y itself without weight and bias (x may have been overwritten by y)
    const nn = affine ? (f32at(x + o) - mf - dm) * rf : f32at(y + o);
    const g = weight ? f32at(R + o) * f32at(weight + o) : f32at(R + o);
    const d = (g - af - nn * bf) * rf;
    tx += <f64>d * <f64>d;
    hX = max(hX, abs(d));
  }
  store<f64>(st, tR, 64);
  store<f64>(st, <f64>hR, 72);
  store<f64>(st, tx, 80);
  store<f64>(st, <f64>hX, 88);
  store<f64>(st, tl, 96);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Exact sums of a batch's per-token statistics

// Bins of a superaccumulator: bit b of a double's significand, counted from 2^−1074, goes to
// bin b >> 5 as a 32-bit digit; an i64 bin holds 2^31 such digits without overflow.
const SUM_BINS = 68; // BATCH_SUM_BINS in lib/kernels/wasm.ts

// adds the finite double v exactly into bins [SUM_BINS] i64
@inline function binAdd(bins: usize, v: f64): void {
  const bits = reinterpret<u64>(v);
  const e = <i32>((bits >> 52) & 0x7ff);
  let m = bits & 0xfffffffffffff;
  if (e != 0) m |= 0x10000000000000;
  const E = e == 0 ? 0 : e - 1; // the significand's lowest bit is 2^(E − 1074)
  const k = E >> 5, sh = <u64>(E & 31);
  const t = m << sh;
  const c0 = <i64>(t & 0xffffffff), c1 = <i64>(t >> 32), c2 = sh == 0 ? <i64>0 : <i64>(m >> (64 - sh));
  const p = bins + (<usize>k << 3);
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
@inline function pow2(k: i32): f64 {
  if (k >= -1022) return reinterpret<f64>(<u64>(k + 1023) << 52);
  return reinterpret<f64>(<u64>1 << <u64>(k + 1074));
}

// bins → terms [SUM_BINS] f64 whose exact sum is the bins' total: carries propagated so every
// bin but the last is a digit in [−2^31, 2^31) (balanced: a negative total borrows nothing from
// the bins above it), each term digit·2^(32k − 1074), exact. A total past the largest double
// makes a term ±Infinity.
function binTerms(bins: usize, terms: usize): void {
  let carry: i64 = 0;
  for (let k = 0; k < SUM_BINS; k++) {
    let v = load<i64>(bins + (<usize>k << 3)) + carry;
    if (k < SUM_BINS - 1) {
      carry = (v + 0x80000000) >> 32;
      v -= carry << 32;
    }
    const ex = 32 * k - 1074;
    // a digit times a power of two: exact, or ±Infinity past the largest double
    const t = ex <= 1023 ? <f64>v * pow2(ex) : <f64>v * pow2(ex - 1023) * pow2(1023);
    store<f64>(terms + (<usize>k << 3), t);
  }
}

// One batch's statistics as `accumulate` (lib/pipeline/compute.ts) keeps them: per token n of
// stats [N × stride] (fields: input Σ, M2, min, max; output Σ, M2, min, max; Σdy², max|dy|,
// Σdx², max|dx|, loss), each group left out of its sums where one of its fields is not finite.
// out (f64): 9 × SUM_BINS terms of the exact sums of the input's Σ, Σ²/C, M2, the output's Σ,
// Σ²/C, M2, Σdy², Σdx² and the loss, then the input's min and max, the output's, max|dy|,
// max|dx|, the input tokens kept, the output tokens kept, and 9 sums of the non-finite Σ²/C.
// bins: 9 × SUM_BINS i64 of scratch.
export function batchSums(stats: usize, N: i32, stride: i32, C: f64, bins: usize, out: usize): void {
  const B = <usize>SUM_BINS << 3;
  memory.fill(bins, 0, 9 * B);
  let iLo = Infinity, iHi = -Infinity, oLo = Infinity, oHi = -Infinity, yMax: f64 = 0, xMax: f64 = 0;
  let nIn = 0, nOut = 0, qIn: f64 = 0, qOut: f64 = 0;
  for (let n = 0; n < N; n++) {
    const f = stats + ((<usize>n * <usize>stride) << 3);
    for (let g = 0; g < 2; g++) {
      const p = f + (<usize>g << 5);
      const s = load<f64>(p), m2 = load<f64>(p, 8), lo = load<f64>(p, 16), hi = load<f64>(p, 24);
      if (!(isFinite(s) && isFinite(m2) && isFinite(lo) && isFinite(hi))) continue;
      const q = (s * s) / C, b = bins + <usize>(3 * g) * B;
      binAdd(b, s);
      if (isFinite(q)) binAdd(b + B, q);
      else if (g == 0) qIn += q;
      else qOut += q;
      binAdd(b + 2 * B, m2);
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
    const ys = load<f64>(f, 64), ym = load<f64>(f, 72), xs = load<f64>(f, 80), xm = load<f64>(f, 88);
    const l = load<f64>(f, 96);
    if (isFinite(ys) && isFinite(ym)) {
      binAdd(bins + 6 * B, ys);
      if (ym > yMax) yMax = ym;
    }
    if (isFinite(xs) && isFinite(xm)) {
      binAdd(bins + 7 * B, xs);
      if (xm > xMax) xMax = xm;
    }
    if (isFinite(l)) binAdd(bins + 8 * B, l);
  }
  for (let i = 0; i < 9; i++) binTerms(bins + <usize>i * B, out + <usize>i * B);
  const t = out + 9 * B;
  store<f64>(t, iLo);
  store<f64>(t, iHi, 8);
  store<f64>(t, oLo, 16);
  store<f64>(t, oHi, 24);
  store<f64>(t, yMax, 32);
  store<f64>(t, xMax, 40);
  store<f64>(t, <f64>nIn, 48);
  store<f64>(t, <f64>nOut, 56);
  store<f64>(t, qIn, 64);
  store<f64>(t, qOut, 72);
}
