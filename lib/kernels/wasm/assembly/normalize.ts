// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): normalize's one kernel per
// row (the normalization, the probe backward, and every per-token statistic).

import { V } from "./common.ts";
import { sumSq } from "./elementwise.ts";
import { Row, TINY_SPREAD } from "./layernorm.ts";
import { probeFill, probeRowFill } from "./probe.ts";
import { rmsNormBackward, rmsNormForward } from "./rmsnorm.ts";
import { gradStats, rowStats } from "./stats.ts";

// normalize with statistics, row by row so nothing but y leaves the cache: out [N,C] =
// LayerNorm (rms = 0) or RMSNorm (rms = 1) of inp [N,C] (weight, bias [C] or 0; out may be inp:
// in place); keys [N] u32 the tokens' probe keys; per row n, into its record of float64 at
// stats[n·stride …], the input's Σ, M2, min, max from field fin, the output's from fout, and
// Σdy², max|dy|, Σdx², max|dx|, Σ y·dy of the probe loss Σ y·R from fgrad (the record's layout
// is the caller's: lib/kernels/stats.ts). With stop = 1 the first row holding a non-finite
// value ends the batch untouched; a row of TINY_SPREAD always does. Returns the rows done.
// scratch: 3C + 2 float32 and C float64 (16-byte aligned).
export function normStats(
  out: usize,
  inp: usize,
  weight: usize,
  bias: usize,
  keys: usize,
  N: i32,
  C: i32,
  eps: f64,
  rms: i32,
  stats: usize,
  stride: i32,
  fin: i32,
  fout: i32,
  fgrad: i32,
  scratch: usize,
  stop: i32,
): i32 {
  const rowBytes = <usize> C << 2;
  const R = scratch, D = R + rowBytes, X = D + rowBytes, mr = X + rowBytes;
  const s64 = (mr + 8 + 7) & ~7;
  // in place, the paths that read x after y is written read a copy of the row
  const copy = out == inp && (rms != 0 || weight != 0 || bias != 0);
  for (let n = 0; n < N; n++) {
    let x = inp + <usize> n * rowBytes;
    const y = out + <usize> n * rowBytes;
    const st = stats + ((<usize> n * <usize> stride) << 3);
    const sIn = st + (<usize> fin << 3), sOut = st + (<usize> fout << 3);
    const sGrad = st + (<usize> fgrad << 3);
    if (copy) {
      memory.copy(X, x, rowBytes);
      x = X;
    }
    if (!rms) {
      if (
        !lnStatsRow(
          y,
          x,
          weight,
          bias,
          load<u32>(keys + (<usize> n << 2)),
          R,
          C,
          eps,
          stop,
          sIn,
          sOut,
          sGrad,
        )
      ) {
        return n;
      }
      continue;
    }
    // RMSNorm: the batch kernels on one row
    rowStats(st, x, 1, C, stride, fin);
    if (stop && !isFinite(load<f64>(sIn))) return n; // Σ = mean·C: see lnStatsRow
    const ss = sumSq(x, C);
    if (isFinite(ss) && ss / <f64> C + eps < TINY_SPREAD) return n; // the caller's, in float64
    probeFill(R, keys + (<usize> n << 2), 1, C);
    rmsNormForward(y, mr + 4, x, weight, 1, C, eps);
    rowStats(st, y, 1, C, stride, fout);
    memory.fill(D, 0, rowBytes);
    rmsNormBackward(D, 0, R, x, weight, mr + 4, 1, C, s64);
    gradStats(st, y, R, D, 1, C, stride, fgrad, 1);
  }
  return N;
}

// One row of normStats for LayerNorm, in three passes (the last two over cached rows): the
// input's moments; y = x̂·w + b with the output's moments and the backward's row sums over the
// probe direction R (filled into R [C] first); then dx = (R·w − a − x̂·b)·r, of which only
// ‖dx‖² and max|dx| are kept. Sums in float32 lanes flushed into float64 every 64 elements.
// x̂ = ((x − mf) − dm)·r is the forward's normalized value (y itself without weight and bias).
// sIn, sOut, sGrad: where the row's input, output and gradient fields go.
function lnStatsRow(
  y: usize,
  x: usize,
  weight: usize,
  bias: usize,
  key: u32,
  R: usize,
  C: i32,
  eps: f64,
  stop: i32,
  sIn: usize,
  sOut: usize,
  sGrad: usize,
): bool {
  const C8 = C & ~7, Cf = <f64> C;
  const zero = f32x4.splat(0);
  // 1. the input's Σ, M2, minimum and maximum (as rowStats). A non-finite value makes the mean
  // non-finite (float32 values cannot overflow its float64 sums)
  const v = Row.rowMoments(x, C, true), m = Row.mean, inLo = Row.lo, inHi = Row.hi;
  if (stop && !isFinite(m)) return false;
  if (isFinite(m) && Row.tinyRow(x, C, v, eps)) return false; // the caller's, in float64
  store<f64>(sIn, m * Cf);
  store<f64>(sIn, v * Cf, 8);
  store<f64>(sIn, <f64> inLo, 16);
  store<f64>(sIn, <f64> inHi, 24);
  // 2. y with the output's Σ, Σy², min, max; Σ R·w, Σ R·w·x̂ and the loss Σ y·R. R is ±1 (the
  // probe row, filled first): ‖R‖² = C and max|R| = 1 need no sums
  probeRowFill(R, key, C);
  const r = 1 / Math.sqrt(v + eps);
  const mf = <f32> m, dm = <f32> (m - <f64> mf), rf = <f32> r;
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
      const o = <usize> c << 2;
      const n0 = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o), mv), dv), rv);
      const n1 = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o, 16), mv), dv), rv);
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
    sy = V.widen(sy, s0);
    qy = V.widen(qy, q0);
    sa = V.widen(sa, a0);
    sl = V.widen(sl, l0);
    if (affine) sb = V.widen(sb, b0);
  }
  let ts = V.hsum64(sy), tq = V.hsum64(qy), outLo = V.hmin(lo), outHi = V.hmax(hi);
  let ta = V.hsum64(sa), tb = V.hsum64(sb), tl = V.hsum64(sl);
  for (; c < C; c++) {
    const o = <usize> c << 2;
    const nn = (V.f32at(x + o) - mf - dm) * rf;
    let e = nn;
    if (weight) e *= V.f32at(weight + o);
    if (bias) e += V.f32at(bias + o);
    store<f32>(y + o, e);
    ts += <f64> e;
    tq += <f64> e * <f64> e;
    if (e < outLo) outLo = e;
    if (e > outHi) outHi = e;
    const rr = V.f32at(R + o);
    const g = weight ? rr * V.f32at(weight + o) : rr;
    ta += <f64> g;
    tb += <f64> (g * nn);
    tl += <f64> e * <f64> rr;
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
    store<f64>(sOut, ts);
    store<f64>(sOut, tq - c2 < 0 ? 0 : tq - c2, 8);
  } else {
    const vy = Row.rowMoments(y, C, false);
    store<f64>(sOut, Row.mean * Cf);
    store<f64>(sOut, vy * Cf, 8);
  }
  store<f64>(sOut, <f64> outLo, 16);
  store<f64>(sOut, <f64> outHi, 24);
  const af = <f32> (ta / Cf), bf = <f32> (tb / Cf);
  const av = f32x4.splat(af), bv = f32x4.splat(bf);
  // 3. dx = (R·w − a − x̂·b)·r: only its square sum and largest magnitude are kept
  if (!affine) {
    // ‖dx‖² from the row sums: Σ(R − a − y·b)² = ΣR² − C·a² + b²·Σy² − 2C·b² + 2ab·Σy with
    // a = ΣR/C, b = Σy·R/C (exact algebra), times r²; only max|dx| needs the elements, and
    // r > 0 carries max|R − a − y·b| over unchanged (rounding is monotone)
    let mD = zero;
    c = 0;
    for (; c < C8; c += 8) {
      const o = <usize> c << 2;
      const e0 = f32x4.sub(f32x4.sub(v128.load(R + o), av), f32x4.mul(v128.load(y + o), bv));
      const e1 = f32x4.sub(
        f32x4.sub(v128.load(R + o, 16), av),
        f32x4.mul(v128.load(y + o, 16), bv),
      );
      mD = f32x4.pmax(f32x4.pmax(mD, f32x4.abs(e0)), f32x4.abs(e1));
    }
    let hD = V.hmax(mD);
    for (; c < C; c++) {
      const o = <usize> c << 2;
      hD = max(hD, abs(V.f32at(R + o) - af - V.f32at(y + o) * bf));
    }
    const a = ta / Cf, b = tb / Cf;
    const s2 = tR - Cf * a * a + b * b * tq - 2 * Cf * b * b + 2 * a * b * ts;
    store<f64>(sGrad, tR);
    store<f64>(sGrad, <f64> hR, 8);
    store<f64>(sGrad, s2 > 0 || !isFinite(s2) ? r * r * s2 : 0, 16);
    store<f64>(sGrad, <f64> (hD * rf), 24);
    store<f64>(sGrad, tl, 32);
    return true;
  }
  // with weight or bias, x̂ is recomputed from x (y holds x̂·w + b)
  let sx = f64x2.splat(0), mX = zero;
  c = 0;
  while (c < C8) {
    const end = min(C8, c + 64);
    let d0 = zero, d1 = zero;
    for (; c < end; c += 8) {
      const o = <usize> c << 2;
      let g0 = v128.load(R + o), g1 = v128.load(R + o, 16);
      const n0 = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o), mv), dv), rv);
      const n1 = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o, 16), mv), dv), rv);
      if (weight) {
        g0 = f32x4.mul(g0, v128.load(weight + o));
        g1 = f32x4.mul(g1, v128.load(weight + o, 16));
      }
      const x0 = f32x4.mul(f32x4.sub(f32x4.sub(g0, av), f32x4.mul(n0, bv)), rv);
      const x1 = f32x4.mul(f32x4.sub(f32x4.sub(g1, av), f32x4.mul(n1, bv)), rv);
      d0 = f32x4.add(d0, f32x4.mul(x0, x0));
      d1 = f32x4.add(d1, f32x4.mul(x1, x1));
      mX = f32x4.pmax(f32x4.pmax(mX, f32x4.abs(x0)), f32x4.abs(x1));
    }
    sx = V.widen(sx, f32x4.add(d0, d1));
  }
  let tx = V.hsum64(sx), hX = V.hmax(mX);
  for (; c < C; c++) {
    const o = <usize> c << 2;
    const nn = (V.f32at(x + o) - mf - dm) * rf;
    const g = weight ? V.f32at(R + o) * V.f32at(weight + o) : V.f32at(R + o);
    const d = (g - af - nn * bf) * rf;
    tx += <f64> d * <f64> d;
    hX = max(hX, abs(d));
  }
  store<f64>(sGrad, tR);
  store<f64>(sGrad, <f64> hR, 8);
  store<f64>(sGrad, tx, 16);
  store<f64>(sGrad, <f64> hX, 24);
  store<f64>(sGrad, tl, 32);
  return true;
}
