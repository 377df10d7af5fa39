import { assert, assertAlmostEquals, assertEquals } from "./std_assert.ts";
import { adamwUpdate, clipScale } from "../lib/train/adamw.ts";
import { gradStat } from "../lib/model/gpt.ts";

/** torch.optim.AdamW in float64 (tests/fixtures/train/make_adamw.py): p0, grads, after. */
const fixture = async () =>
  JSON.parse(await Deno.readTextFile(new URL("./fixtures/train/adamw.json", import.meta.url)));

/** The fixture's hyper-parameters for step t. */
// deno-lint-ignore no-explicit-any
const settings = (f: any, t: number) => ({
  lr: f.lr,
  beta1: f.beta1,
  beta2: f.beta2,
  eps: f.eps,
  weightDecay: f.weight_decay,
  t,
});

Deno.test("adamwUpdate: two steps against a hand computation", () => {
  // lr 0.1, weight decay 0.1, β 0.9/0.99, eps 1e-8, p = 1, gradients 0.5 then −0.25.
  // step 1: p = 1·0.99 = 0.99; m = 0.05, v = 0.0025; m̂ = 0.5, v̂ = 0.25;
  //         p = 0.99 − 0.1·0.5/(0.5 + 1e-8) = 0.890000002
  // step 2: p = 0.890000002·0.99; m = 0.045 − 0.025 = 0.02, v = 0.002475 + 0.000625 = 0.0031;
  //         m̂ = 0.02/0.19, v̂ = 0.0031/0.0199; p −= 0.1·m̂/(√v̂ + 1e-8) → 0.8544300597479334
  const p = Float64Array.of(1), m = new Float64Array(1), v = new Float64Array(1);
  const o = { lr: 0.1, weightDecay: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8 };
  adamwUpdate(p, Float64Array.of(0.5), m, v, 1, { ...o, t: 1 });
  assertAlmostEquals(p[0], 0.890000002, 1e-15);
  assertAlmostEquals(m[0], 0.05, 1e-15);
  assertAlmostEquals(v[0], 0.0025, 1e-15);
  adamwUpdate(p, Float64Array.of(-0.25), m, v, 1, { ...o, t: 2 });
  assertAlmostEquals(m[0], 0.02, 1e-15);
  assertAlmostEquals(v[0], 0.0031, 1e-15);
  assertAlmostEquals(p[0], 0.8544300597479334, 1e-14);
});

Deno.test("adamwUpdate: three steps equal torch.optim.AdamW (float64 fixture)", async () => {
  const f = await fixture();
  const p = Float64Array.from(f.p0 as number[]), n = p.length;
  const m = new Float64Array(n), v = new Float64Array(n);
  f.grads.forEach((g: number[], i: number) => {
    adamwUpdate(p, Float64Array.from(g), m, v, n, settings(f, i + 1));
    for (let j = 0; j < n; j++) {
      const want = f.after[i][j];
      assert(Math.abs(p[j] - want) <= 1e-14 * Math.max(1, Math.abs(want)), `step ${i + 1} p[${j}]`);
    }
  });
});

Deno.test("adamwUpdate: float32 storage, no decay when weightDecay is left out", () => {
  const p = Float32Array.of(2, -2), g = Float32Array.of(0, 0);
  const m = new Float32Array(2), v = new Float32Array(2);
  adamwUpdate(p, g, m, v, 2, { lr: 0.5, t: 1 });
  assertEquals(Array.from(p), [2, -2]); // zero gradient, no decay: nothing moves
  adamwUpdate(p, g, m, v, 2, { lr: 0.5, t: 2, weightDecay: 0.1 });
  assertEquals(Array.from(p), [Math.fround(2 * 0.95), Math.fround(-2 * 0.95)]);
});

Deno.test("the global norm (gradStat) and clipScale", () => {
  assertEquals(gradStat(new Float32Array(0)).l2, 0);
  assertEquals(gradStat(Float64Array.of(1, 2, 2)).l2, 3);
  assertEquals(clipScale(0.999, 1), 1);
  assertAlmostEquals(clipScale(10, 1), 1 / (10 + 1e-6), 1e-15);
  assertEquals(clipScale(1e9, 0), 1); // 0 = off
  assert(Number.isNaN(gradStat(Float32Array.of(1, NaN)).l2));
});

Deno.test("adamwUpdate in the arena (WebAssembly, float32) follows torch.optim.AdamW's float64 fixture", async () => {
  const { Arena } = await import("../lib/kernels/arena.ts");
  const f = await fixture();
  const arena = new Arena(), n = (f.p0 as number[]).length;
  const p = arena.alloc(n), g = arena.alloc(n), m = arena.alloc(n), v = arena.alloc(n);
  p.set(f.p0);
  f.grads.forEach((gi: number[], i: number) => {
    // the gradient given at twice its size, halved by gradScale (as clipping does): g unchanged
    g.set(gi.map((x) => 2 * x));
    const before = g.slice();
    adamwUpdate(p, g, m, v, n, { ...settings(f, i + 1), gradScale: 0.5 });
    assertEquals(g, before);
    for (let j = 0; j < n; j++) {
      const want = f.after[i][j];
      // float32 arithmetic: a few ulps of the parameter, plus lr·(relative error of m̂/√v̂)
      const tol = 4e-7 * Math.max(1, Math.abs(want)) + 1e-6 * f.lr;
      assert(Math.abs(p[j] - want) <= tol, `step ${i + 1} p[${j}]: ${p[j]} vs ${want}`);
    }
  });
});
