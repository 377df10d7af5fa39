// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): QK-norm, the parameter-free
// RMS normalization of each head's query and key.

import { V } from "./common.ts";
import { sumSq } from "./elementwise.ts";

// out [BT,3C] = qkv with each head's q and k (C/NH channels) times its rstd [BT,2NH]; v copied
export function qkNormForward(
  out: usize,
  rstd: usize,
  qkv: usize,
  BT: i32,
  C: i32,
  NH: i32,
  eps: f64,
): void {
  const hs = C / NH, rowBytes = (<usize> (3 * C)) << 2;
  for (let t = 0; t < BT; t++) {
    const row = qkv + <usize> t * rowBytes, orow = out + <usize> t * rowBytes;
    for (let h = 0; h < 2 * NH; h++) {
      const o = (<usize> (h * hs)) << 2;
      const r = <f32> (1 / Math.sqrt(sumSq(row + o, hs) / <f64> hs + eps));
      store<f32>(rstd + ((<usize> (t * 2 * NH + h)) << 2), r);
      const rv = f32x4.splat(r);
      let i = 0;
      for (; i + 4 <= hs; i += 4) {
        const p = o + (<usize> i << 2);
        v128.store(orow + p, f32x4.mul(v128.load(row + p), rv));
      }
      for (; i < hs; i++) {
        const p = o + (<usize> i << 2);
        store<f32>(orow + p, V.f32at(row + p) * r);
      }
    }
    const v = (<usize> (2 * C)) << 2;
    memory.copy(orow + v, row + v, <usize> C << 2);
  }
}

// Accumulates into dqkv [BT,3C]: q and k through the normalization, v as it is
export function qkNormBackward(
  dqkv: usize,
  dout: usize,
  qkv: usize,
  rstd: usize,
  BT: i32,
  C: i32,
  NH: i32,
): void {
  const hs = C / NH, rowBytes = (<usize> (3 * C)) << 2;
  for (let t = 0; t < BT; t++) {
    const base = <usize> t * rowBytes;
    const x = qkv + base, g = dout + base, dx = dqkv + base;
    for (let h = 0; h < 2 * NH; h++) {
      const o = (<usize> (h * hs)) << 2;
      const r = V.f32at(rstd + ((<usize> (t * 2 * NH + h)) << 2)), rv = f32x4.splat(r);
      let b0 = f64x2.splat(0), b1 = f64x2.splat(0), bt: f64 = 0;
      let i = 0;
      for (; i + 4 <= hs; i += 4) {
        const p = o + (<usize> i << 2);
        const m = f32x4.mul(v128.load(g + p), f32x4.mul(v128.load(x + p), rv));
        b0 = f64x2.add(b0, f64x2.promote_low_f32x4(m));
        b1 = f64x2.add(b1, f64x2.promote_low_f32x4(V.hiHalf(m)));
      }
      for (; i < hs; i++) {
        const p = o + (<usize> i << 2);
        bt += <f64> (V.f32at(g + p) * V.f32at(x + p) * r);
      }
      const bf = <f32> ((V.hsum64(f64x2.add(b0, b1)) + bt) / <f64> hs), bv = f32x4.splat(bf);
      i = 0;
      for (; i + 4 <= hs; i += 4) {
        const p = o + (<usize> i << 2);
        const norm = f32x4.mul(v128.load(x + p), rv);
        const d = f32x4.mul(f32x4.sub(v128.load(g + p), f32x4.mul(norm, bv)), rv);
        v128.store(dx + p, f32x4.add(v128.load(dx + p), d));
      }
      for (; i < hs; i++) {
        const p = o + (<usize> i << 2);
        store<f32>(dx + p, V.f32at(dx + p) + (V.f32at(g + p) - V.f32at(x + p) * r * bf) * r);
      }
    }
    const v = (<usize> (2 * C)) << 2;
    let i = 0;
    for (; i + 4 <= C; i += 4) {
      const p = v + (<usize> i << 2);
      v128.store(dx + p, f32x4.add(v128.load(dx + p), v128.load(g + p)));
    }
    for (; i < C; i++) {
      const p = v + (<usize> i << 2);
      store<f32>(dx + p, V.f32at(dx + p) + V.f32at(g + p));
    }
  }
}
