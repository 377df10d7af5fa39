// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): GELU (tanh approximation).

import { C_CUT, C_GA, C_GA3, C_GK, C_INF, C_ONE, V } from "./common.ts";

// GELU through the logistic function: with u = √(2/π)(x + 0.044715x³),
// 0.5·x·(1 + tanh u) = x·σ(2u) = x / (1 + e^{−2u}) — the same function, one exp and one divide,
// and no cancellation in 1 + tanh u for negative u. (The constants √(2/π) and 0.044715 are in the
// table of common.ts.)
/** The logistic form of GELU and its derivative, inlined. */
export class Gelu {
  @inline
  static sigmoid2u(x: v128): v128 {
    const u = f32x4.mul(
      V.K(C_GK),
      f32x4.add(x, f32x4.mul(V.K(C_GA), f32x4.mul(x, f32x4.mul(x, x)))),
    );
    const m2u = f32x4.sub(f32x4.splat(0), f32x4.add(u, u));
    // past e^86.6 take e^{−2u} = +∞, so σ is exactly 0 rather than a subnormal (slow) number
    const e = v128.bitselect(V.K(C_INF), V.exp4(m2u), f32x4.gt(m2u, V.K(C_CUT)));
    return f32x4.div(V.K(C_ONE), f32x4.add(V.K(C_ONE), e));
  }

  // gelu'(x) = σ + 2x·σ(1 − σ)·√(2/π)(1 + 3·0.044715x²) with σ = σ(2u)
  @inline
  static geluGrad(x: v128): v128 {
    const sg = Gelu.sigmoid2u(x);
    const du = f32x4.mul(V.K(C_GK), f32x4.add(V.K(C_ONE), f32x4.mul(V.K(C_GA3), f32x4.mul(x, x))));
    const d = f32x4.mul(f32x4.mul(f32x4.add(x, x), f32x4.mul(sg, f32x4.sub(V.K(C_ONE), sg))), du);
    return f32x4.add(sg, d);
  }
}

function geluScalar(x: f32): f32 {
  const v = f32x4.splat(x);
  return f32x4.extract_lane(f32x4.mul(v, Gelu.sigmoid2u(v)), 0);
}

function geluGradScalar(x: f32): f32 {
  return f32x4.extract_lane(Gelu.geluGrad(f32x4.splat(x)), 0);
}

// out [n] = GELU(inp [n]) (tanh approximation, as GPT-2)
export function geluForward(out: usize, inp: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    // two vectors per step: independent chains the CPU can overlap
    const o = <usize> i << 2;
    const x = v128.load(inp + o), y = v128.load(inp + o, 16);
    const sx = Gelu.sigmoid2u(x), sy = Gelu.sigmoid2u(y);
    v128.store(out + o, f32x4.mul(x, sx));
    v128.store(out + o, f32x4.mul(y, sy), 16);
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(out + o, geluScalar(V.f32at(inp + o)));
  }
}

// dinp [n] += dout · gelu'(inp)
export function geluBackward(dinp: usize, inp: usize, dout: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize> i << 2;
    const gx = Gelu.geluGrad(v128.load(inp + o)), gy = Gelu.geluGrad(v128.load(inp + o, 16));
    v128.store(dinp + o, f32x4.add(v128.load(dinp + o), f32x4.mul(gx, v128.load(dout + o))));
    v128.store(
      dinp + o,
      f32x4.add(v128.load(dinp + o, 16), f32x4.mul(gy, v128.load(dout + o, 16))),
      16,
    );
  }
  for (; i < n; i++) {
    const o = <usize> i << 2;
    store<f32>(dinp + o, V.f32at(dinp + o) + geluGradScalar(V.f32at(inp + o)) * V.f32at(dout + o));
  }
}
