// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): RMSNorm.

import { V } from "./common.ts";
import { sumSq } from "./elementwise.ts";
import { TINY_SPREAD } from "./layernorm.ts";

// inp, out [N,C] (out may be inp); rstd [N]; weight [C] (0 = none)
export function rmsNormForward(
  out: usize,
  rstd: usize,
  inp: usize,
  weight: usize,
  N: i32,
  C: i32,
  eps: f64,
): void {
  rmsNormRows(out, rstd, inp, weight, N, C, eps, 0);
}

// rmsNormForward that, with stop = 1, ends at the first row holding a NaN or ±Infinity (its
// float64 Σx² is not finite), leaving it untouched; it always ends at a row of TINY_SPREAD.
// Returns the rows done.
export function rmsNormRows(
  out: usize,
  rstd: usize,
  inp: usize,
  weight: usize,
  N: i32,
  C: i32,
  eps: f64,
  stop: i32,
): i32 {
  for (let n = 0; n < N; n++) {
    const off = (<usize> n * <usize> C) << 2;
    const row = inp + off, orow = out + off;
    const ss = sumSq(row, C);
    if (stop && !isFinite(ss)) return n;
    if (isFinite(ss) && ss / <f64> C + eps < TINY_SPREAD) return n;
    const r = 1 / Math.sqrt(ss / <f64> C + eps);
    const rf = <f32> r;
    store<f32>(rstd + (<usize> n << 2), rf);
    const rv = f32x4.splat(rf);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize> c << 2;
      let y = f32x4.mul(v128.load(row + o), rv);
      if (weight) y = f32x4.mul(y, v128.load(weight + o));
      v128.store(orow + o, y);
    }
    for (; c < C; c++) {
      const o = <usize> c << 2;
      let y = V.f32at(row + o) * rf;
      if (weight) y *= V.f32at(weight + o);
      store<f32>(orow + o, y);
    }
  }
  return N;
}

// Accumulates into dinp [N,C] and, when given, dweight [C]; scratch: C float64.
export function rmsNormBackward(
  dinp: usize,
  dweight: usize,
  dout: usize,
  inp: usize,
  weight: usize,
  rstd: usize,
  N: i32,
  C: i32,
  scratch: usize,
): void {
  memory.fill(scratch, 0, <usize> C << 3);
  const one = f32x4.splat(1);
  for (let n = 0; n < N; n++) {
    const off = (<usize> n * <usize> C) << 2;
    const x = inp + off, g = dout + off, dx = dinp + off;
    const rf = load<f32>(rstd + (<usize> n << 2)), rv = f32x4.splat(rf);
    let b0 = f64x2.splat(0), b1 = f64x2.splat(0);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize> c << 2;
      const dn = f32x4.mul(v128.load(g + o), weight ? v128.load(weight + o) : one);
      const p = f32x4.mul(dn, f32x4.mul(v128.load(x + o), rv));
      b0 = f64x2.add(b0, f64x2.promote_low_f32x4(p));
      b1 = f64x2.add(b1, f64x2.promote_low_f32x4(V.hiHalf(p)));
    }
    let sbv = V.hsum64(f64x2.add(b0, b1));
    for (; c < C; c++) {
      const o = <usize> c << 2;
      sbv += <f64> (V.f32at(g + o) * (weight ? V.f32at(weight + o) : 1) * V.f32at(x + o) * rf);
    }
    const bf = <f32> (sbv / <f64> C), bv = f32x4.splat(bf);
    c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize> c << 2;
      const norm = f32x4.mul(v128.load(x + o), rv);
      const gv = v128.load(g + o);
      const dn = f32x4.mul(gv, weight ? v128.load(weight + o) : one);
      const d = f32x4.mul(f32x4.sub(dn, f32x4.mul(norm, bv)), rv);
      v128.store(dx + o, f32x4.add(v128.load(dx + o), d));
      const p = f32x4.mul(norm, gv);
      const w8 = scratch + (<usize> c << 3);
      v128.store(w8, f64x2.add(v128.load(w8), f64x2.promote_low_f32x4(p)));
      v128.store(w8 + 16, f64x2.add(v128.load(w8 + 16), f64x2.promote_low_f32x4(V.hiHalf(p))));
    }
    for (; c < C; c++) {
      const o = <usize> c << 2;
      const norm = V.f32at(x + o) * rf, gs = V.f32at(g + o);
      const dn = gs * (weight ? V.f32at(weight + o) : 1);
      store<f32>(dx + o, V.f32at(dx + o) + (dn - norm * bf) * rf);
      const w8 = scratch + (<usize> c << 3);
      store<f64>(w8, load<f64>(w8) + <f64> (norm * gs));
    }
  }
  if (dweight) {
    for (let c = 0; c < C; c++) {
      const o = dweight + (<usize> c << 2);
      store<f32>(o, <f32> (<f64> V.f32at(o) + load<f64>(scratch + (<usize> c << 3))));
    }
  }
}
