// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): Dynamic Tanh (DyT).

import { V } from "./common.ts";
import { tanhScalar } from "./common.ts";

// out [N,C] = weight ⊙ tanh(a·inp) + bias; a = the float at `alpha`; weight, bias [C] (0 = none)
export function dytForward(
  out: usize,
  inp: usize,
  alpha: usize,
  weight: usize,
  bias: usize,
  N: i32,
  C: i32,
): void {
  const a = V.f32at(alpha), av = f32x4.splat(a);
  for (let n = 0; n < N; n++) {
    const off = (<usize> n * <usize> C) << 2;
    const row = inp + off, orow = out + off;
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize> c << 2;
      let y = V.tanh4(f32x4.mul(av, v128.load(row + o)));
      if (weight) y = f32x4.mul(y, v128.load(weight + o));
      if (bias) y = f32x4.add(y, v128.load(bias + o));
      v128.store(orow + o, y);
    }
    for (; c < C; c++) {
      const o = <usize> c << 2;
      let y = tanhScalar(a * V.f32at(row + o));
      if (weight) y *= V.f32at(weight + o);
      if (bias) y += V.f32at(bias + o);
      store<f32>(orow + o, y);
    }
  }
}

// Accumulates into dinp [N,C] and, when given, dalpha [1], dweight [C], dbias [C];
// scratch: 2C float64.
export function dytBackward(
  dinp: usize,
  dalpha: usize,
  dweight: usize,
  dbias: usize,
  dout: usize,
  inp: usize,
  alpha: usize,
  weight: usize,
  N: i32,
  C: i32,
  scratch: usize,
): void {
  memory.fill(scratch, 0, <usize> C << 4);
  const a = V.f32at(alpha), av = f32x4.splat(a), one = f32x4.splat(1);
  const sw = scratch, sb = scratch + (<usize> C << 3);
  let da0 = f64x2.splat(0), da1 = f64x2.splat(0), daTail: f64 = 0;
  for (let n = 0; n < N; n++) {
    const off = (<usize> n * <usize> C) << 2;
    const x = inp + off, g = dout + off, dx = dinp + off;
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const o = <usize> c << 2, o8 = <usize> c << 3;
      const xv = v128.load(x + o), gv = v128.load(g + o);
      const t = V.tanh4(f32x4.mul(av, xv));
      const gt = f32x4.mul(gv, t);
      v128.store(sw + o8, f64x2.add(v128.load(sw + o8), f64x2.promote_low_f32x4(gt)));
      v128.store(
        sw + o8 + 16,
        f64x2.add(v128.load(sw + o8 + 16), f64x2.promote_low_f32x4(V.hiHalf(gt))),
      );
      v128.store(sb + o8, f64x2.add(v128.load(sb + o8), f64x2.promote_low_f32x4(gv)));
      v128.store(
        sb + o8 + 16,
        f64x2.add(v128.load(sb + o8 + 16), f64x2.promote_low_f32x4(V.hiHalf(gv))),
      );
      const dn = weight ? f32x4.mul(gv, v128.load(weight + o)) : gv;
      const dz = f32x4.mul(dn, f32x4.sub(one, f32x4.mul(t, t)));
      v128.store(dx + o, f32x4.add(v128.load(dx + o), f32x4.mul(dz, av)));
      const zx = f32x4.mul(dz, xv);
      da0 = f64x2.add(da0, f64x2.promote_low_f32x4(zx));
      da1 = f64x2.add(da1, f64x2.promote_low_f32x4(V.hiHalf(zx)));
    }
    for (; c < C; c++) {
      const o = <usize> c << 2, o8 = <usize> c << 3;
      const xs = V.f32at(x + o), gs = V.f32at(g + o), t = tanhScalar(a * xs);
      store<f64>(sw + o8, load<f64>(sw + o8) + <f64> (gs * t));
      store<f64>(sb + o8, load<f64>(sb + o8) + <f64> gs);
      const dz = gs * (weight ? V.f32at(weight + o) : 1) * (1 - t * t);
      store<f32>(dx + o, V.f32at(dx + o) + dz * a);
      daTail += <f64> (dz * xs);
    }
  }
  if (dalpha) {
    store<f32>(dalpha, <f32> (<f64> V.f32at(dalpha) + V.hsum64(f64x2.add(da0, da1)) + daTail));
  }
  for (let c = 0; c < C; c++) {
    const o = <usize> c << 2, o8 = <usize> c << 3;
    if (dweight) store<f32>(dweight + o, <f32> (<f64> V.f32at(dweight + o) + load<f64>(sw + o8)));
    if (dbias) store<f32>(dbias + o, <f32> (<f64> V.f32at(dbias + o) + load<f64>(sb + o8)));
  }
}
