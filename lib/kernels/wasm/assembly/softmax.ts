// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): softmax.

import { expScalar, V } from "./common.ts";

// softmax

// Row-wise softmax over the first len entries of each row (entries past len are written 0);
// len = C, or, when causalT > 0, row n has len (n mod causalT) + 1 (a causal [T,T] score block).
// inp, out [N,C]
export function softmaxForward(
  out: usize,
  inp: usize,
  N: i32,
  C: i32,
  len: i32,
  causalT: i32,
): void {
  for (let n = 0; n < N; n++) {
    const off = (<usize> n * <usize> C) << 2;
    const x = inp + off, y = out + off;
    const L = causalT > 0 ? (n % causalT) + 1 : len;
    let mx: f32 = -Infinity;
    let mv = f32x4.splat(-Infinity);
    let c = 0;
    for (; c + 4 <= L; c += 4) mv = f32x4.max(mv, v128.load(x + (<usize> c << 2)));
    mx = max(
      max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)),
      max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)),
    );
    for (; c < L; c++) mx = max(mx, V.f32at(x + (<usize> c << 2)));
    const mxv = f32x4.splat(mx);
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    c = 0;
    for (; c + 4 <= L; c += 4) {
      const o = <usize> c << 2;
      const e = V.exp4(f32x4.sub(v128.load(x + o), mxv));
      v128.store(y + o, e);
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(e));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(V.hiHalf(e)));
    }
    let s = V.hsum64(f64x2.add(s0, s1));
    for (; c < L; c++) {
      const e = expScalar(V.f32at(x + (<usize> c << 2)) - mx);
      store<f32>(y + (<usize> c << 2), e);
      s += <f64> e;
    }
    const inv = <f32> (1 / s), iv = f32x4.splat(inv);
    c = 0;
    for (; c + 4 <= L; c += 4) {
      const o = <usize> c << 2;
      v128.store(y + o, f32x4.mul(v128.load(y + o), iv));
    }
    for (; c < L; c++) store<f32>(y + (<usize> c << 2), V.f32at(y + (<usize> c << 2)) * inv);
    if (L < C) memory.fill(y + (<usize> L << 2), 0, <usize> (C - L) << 2);
  }
}

// dinp = scale · out ⊙ (dout − Σ out·dout) over the first len entries of each row (len and
// causalT as in softmaxForward); added to dinp when acc ≠ 0, else written (entries past len: 0).
// dinp may be dout. dout, out, dinp [N,C]
export function softmaxBackward(
  dinp: usize,
  dout: usize,
  out: usize,
  N: i32,
  C: i32,
  len: i32,
  causalT: i32,
  scale: f32,
  acc: i32,
): void {
  for (let n = 0; n < N; n++) {
    const off = (<usize> n * <usize> C) << 2;
    const g = dout + off, y = out + off, d = dinp + off;
    const L = causalT > 0 ? (n % causalT) + 1 : len;
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    let c = 0;
    for (; c + 4 <= L; c += 4) {
      const o = <usize> c << 2;
      const p = f32x4.mul(v128.load(y + o), v128.load(g + o));
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(p));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(V.hiHalf(p)));
    }
    let s = V.hsum64(f64x2.add(s0, s1));
    for (; c < L; c++) s += <f64> (V.f32at(y + (<usize> c << 2)) * V.f32at(g + (<usize> c << 2)));
    const sv = f32x4.splat(<f32> s), kv = f32x4.splat(scale), sf = <f32> s;
    c = 0;
    for (; c + 4 <= L; c += 4) {
      const o = <usize> c << 2;
      let v = f32x4.mul(f32x4.mul(v128.load(y + o), f32x4.sub(v128.load(g + o), sv)), kv);
      if (acc) v = f32x4.add(v, v128.load(d + o));
      v128.store(d + o, v);
    }
    for (; c < L; c++) {
      const o = <usize> c << 2;
      let v = V.f32at(y + o) * (V.f32at(g + o) - sf) * scale;
      if (acc) v += V.f32at(d + o);
      store<f32>(d + o, v);
    }
    if (!acc && L < C) memory.fill(d + (<usize> L << 2), 0, <usize> (C - L) << 2);
  }
}
