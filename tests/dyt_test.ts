// Dynamic Tanh and QK-norm kernels: the TypeScript references against finite differences in
// float64, and the WebAssembly tanh against the float64 one.
import { assert } from "./std_assert.ts";
import { dytBackward, dytForward } from "../lib/kernels/dyt.ts";
import { qkNormBackward, qkNormForward } from "../lib/kernels/qknorm.ts";
import { Arena } from "../lib/kernels/arena.ts";
import { Rng } from "../lib/model/rng.ts";
import { numericGrad as numeric, randn } from "./golden.ts";

function near(a: Float64Array, b: Float64Array, tol: number, what: string) {
  for (let i = 0; i < a.length; i++) {
    assert(
      Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i])),
      `${what}[${i}]: ${a[i]} vs ${b[i]}`,
    );
  }
}

Deno.test("dytBackward equals finite differences of dytForward (input, a, γ, β)", () => {
  const N = 5, C = 7;
  const x = randn(N * C, 1, 2), w = randn(C, 2, 0.5, 1), b = randn(C, 3), a = Float64Array.of(0.7);
  const R = randn(N * C, 4), y = new Float64Array(N * C);
  const loss = () => {
    dytForward(y, x, a, w, b, N, C);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * R[i];
    return s;
  };
  const dx = new Float64Array(N * C), da = new Float64Array(1);
  const dw = new Float64Array(C), db = new Float64Array(C);
  dytBackward(dx, da, dw, db, R, x, a, w, N, C);
  near(dx, numeric(loss, x), 1e-8, "dx");
  near(da, numeric(loss, a), 1e-8, "da");
  near(dw, numeric(loss, w), 1e-8, "dw");
  near(db, numeric(loss, b), 1e-8, "db");
});

Deno.test("qkNormBackward equals finite differences of qkNormForward; v passes through", () => {
  const BT = 3, C = 12, NH = 3;
  const x = randn(BT * 3 * C, 5, 1.5, 0.3), R = randn(BT * 3 * C, 6);
  const y = new Float64Array(BT * 3 * C), r = new Float64Array(BT * 2 * NH);
  const loss = () => {
    qkNormForward(y, r, x, BT, C, NH, 1e-5);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * R[i];
    return s;
  };
  loss();
  // each head of q and k has mean square 1 after the norm (up to eps)
  for (let t = 0; t < BT; t++) {
    for (let h = 0; h < 2 * NH; h++) {
      let ms = 0;
      for (let i = 0; i < C / NH; i++) ms += y[t * 3 * C + h * (C / NH) + i] ** 2;
      assert(Math.abs(ms / (C / NH) - 1) < 1e-4, `head ${h} of token ${t}: mean square ${ms}`);
    }
  }
  const dx = new Float64Array(x.length);
  qkNormBackward(dx, R, x, r, BT, C, NH);
  near(dx, numeric(loss, x), 1e-7, "dqkv");
});

Deno.test("the WebAssembly tanh is within 8 float32 ulps of the float64 tanh (6 measured, near ±6)", () => {
  const k = new Arena().exports;
  let worst = 0, at = 0;
  const ulp = (v: number) => {
    const f = Math.fround(Math.abs(v));
    const next = new Float32Array(
      new Uint32Array([new Uint32Array(Float32Array.of(f).buffer)[0] + 1]).buffer,
    )[0];
    return next - f;
  };
  const xs: number[] = [0, -0, 1e-30, 3e-4, 4e-4, 5e-4, 7.9, 7.95, 8, 20, 1e30];
  const rng = new Rng(3);
  for (let i = 0; i < 20000; i++) xs.push(rng.normal() * 10 ** (rng.uniform() * 4 - 3));
  for (const v of xs) {
    for (const x of [Math.fround(v), Math.fround(-v)]) {
      const got = k.tanhScalar(x), want = Math.tanh(x);
      const err = Math.abs(got - want) / ulp(want || 1e-45);
      if (err > worst) [worst, at] = [err, x];
    }
  }
  assert(worst <= 8, `${worst} ulps at ${at}`);
  assert(Number.isNaN(k.tanhScalar(NaN)), "NaN stays NaN");
  assert(k.tanhScalar(Infinity) === 1 && k.tanhScalar(-Infinity) === -1, "±∞ → ±1");
});
