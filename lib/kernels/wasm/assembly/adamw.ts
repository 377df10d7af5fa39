// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): AdamW.

import { V } from "./common.ts";

// AdamW on [n] float32s, as PyTorch's (float32 arithmetic): g' = g·gscale (clipping), m = β1·m +
// (1 − β1)·g', v = β2·v + (1 − β2)·g'², p = p·decay − step·m / (√v / √c2 + eps), where
// decay = 1 − lr·wd, step = lr / c1 and c1, c2 are the bias corrections 1 − β^t.
export function adamw(
  p: usize,
  g: usize,
  m: usize,
  v: usize,
  n: i32,
  gscale: f32,
  b1: f32,
  b2: f32,
  eps: f32,
  decay: f32,
  step: f32,
  rc2: f32,
): void {
  const G = f32x4.splat(gscale), B1 = f32x4.splat(b1), B2 = f32x4.splat(b2);
  const A1 = f32x4.splat(<f32> 1 - b1), A2 = f32x4.splat(<f32> 1 - b2), E = f32x4.splat(eps);
  const D = f32x4.splat(decay), S = f32x4.splat(step), R = f32x4.splat(rc2);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize> i << 2;
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
    const o = <usize> i << 2;
    const gv = V.f32at(g + o) * gscale;
    const mv = b1 * V.f32at(m + o) + (<f32> 1 - b1) * gv;
    const vv = b2 * V.f32at(v + o) + (<f32> 1 - b2) * (gv * gv);
    store<f32>(m + o, mv);
    store<f32>(v + o, vv);
    store<f32>(p + o, V.f32at(p + o) * decay - (step * mv) / (sqrt<f32>(vv) * rc2 + eps));
  }
}
