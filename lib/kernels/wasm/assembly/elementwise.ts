// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): elementwise sums and norms.

import { V } from "./common.ts";

// out [n] = a [n] + b [n]
export function add(out: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(out + o, V.f32at(a + o) + V.f32at(b + o));
  }
}

// out [n] = alpha·a [n] + b [n]
export function scaleAdd(out: usize, a: usize, alpha: f32, b: usize, n: i32): void {
  const av = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    v128.store(out + o, f32x4.add(f32x4.mul(av, v128.load(a + o)), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(out + o, alpha * V.f32at(a + o) + V.f32at(b + o));
  }
}

// out [n] = alpha·a [n]
export function scale(out: usize, a: usize, alpha: f32, n: i32): void {
  const av = f32x4.splat(alpha);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
    v128.store(out + o, f32x4.mul(av, v128.load(a + o)));
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(out + o, alpha * V.f32at(a + o));
  }
}

// Σ a² over [n], in float64
export function sumSq(a: usize, n: i32): f64 {
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(a + (<usize> i << 2));
    const lo = f64x2.promote_low_f32x4(v), hi = f64x2.promote_low_f32x4(V.hiHalf(v));
    s0 = f64x2.add(s0, f64x2.mul(lo, lo));
    s1 = f64x2.add(s1, f64x2.mul(hi, hi));
  }
  let s = V.hsum64(f64x2.add(s0, s1));
  for (; i < n; i++) {
    const v = <f64> V.f32at(a + (<usize> i << 2));
    s += v * v;
  }
  return s;
}

// max |a| over [n] (NaN if any element is NaN)
export function maxAbs(a: usize, n: i32): f32 {
  let m = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) m = f32x4.max(m, f32x4.abs(v128.load(a + (<usize> i << 2))));
  let r = max(
    max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)),
    max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)),
  );
  for (; i < n; i++) r = max(r, abs(V.f32at(a + (<usize> i << 2))));
  return r;
}

// out[n,:] = bias for every row n (out [N,C], bias [C])
export function fillRows(out: usize, bias: usize, N: i32, C: i32): void {
  const rowBytes = <usize> C << 2;
  for (let n = 0; n < N; n++) memory.copy(out + <usize> n * rowBytes, bias, rowBytes);
}

// out [C] += Σ_n inp[n,:], summed in float64 in scratch [C] f64
export function colSumAcc(out: usize, inp: usize, N: i32, C: i32, scratch: usize): void {
  memory.fill(scratch, 0, <usize> C << 3);
  for (let n = 0; n < N; n++) {
    const row = inp + ((<usize> n * <usize> C) << 2);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const v = v128.load(row + (<usize> c << 2));
      const s = scratch + (<usize> c << 3);
      v128.store(s, f64x2.add(v128.load(s), f64x2.promote_low_f32x4(v)));
      v128.store(s + 16, f64x2.add(v128.load(s + 16), f64x2.promote_low_f32x4(V.hiHalf(v))));
    }
    for (; c < C; c++) {
      const s = scratch + (<usize> c << 3);
      store<f64>(s, load<f64>(s) + <f64> V.f32at(row + (<usize> c << 2)));
    }
  }
  for (let c = 0; c < C; c++) {
    const o = out + (<usize> c << 2);
    store<f32>(o, <f32> (<f64> V.f32at(o) + load<f64>(scratch + (<usize> c << 3))));
  }
}
