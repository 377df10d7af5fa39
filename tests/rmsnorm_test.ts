import { assert } from "./std_assert.ts";
import fc from "./fast_check.ts";
import { rmsNormBackward, rmsNormForward } from "../lib/kernels/rmsnorm.ts";
import {
  arr,
  assertClose,
  checkGolden,
  dot,
  type Golden,
  goldenFiles,
  numericGrad,
  type Precision,
  randn,
  rowTagged,
  testKernels,
  zeros,
} from "./golden.ts";

function runGolden(doc: Golden, p: Precision) {
  const k = testKernels(); // the backend under test
  const { x, gamma, dy } = doc.inputs;
  const C = x.shape[x.shape.length - 1];
  const N = x.data.length / C;
  const X = arr(x, p), G = arr(gamma, p), DY = arr(dy, p);
  const y = zeros(p, N * C), rstd = zeros(p, N);
  k.rmsNormForward(y, rstd, X, G, N, C, doc.config.eps);
  const dx = zeros(p, N * C), dg = zeros(p, C);
  k.rmsNormBackward(dx, dg, DY, X, G, rstd, N, C);
  return { "outputs.y": y, "outputs.rstd": rstd, "grads.x": dx, "grads.gamma": dg };
}

Deno.test("rmsNorm matches the PyTorch golden vectors", async (t) => {
  for (const doc of goldenFiles("rmsnorm")) {
    const C = doc.inputs.x.shape.at(-1)!;
    await checkGolden(t, doc, (p) => runGolden(doc, p), rowTagged(doc.config.row_tags, C));
  }
});

Deno.test("rmsNorm backward equals central finite differences (float64)", () => {
  const N = 4, C = 6;
  const x = randn(N * C, 21, 1.5, 0.3), w = randn(C, 22, 0.2, 1), R = randn(N * C, 23);
  const y = new Float64Array(N * C), rstd = new Float64Array(N);
  const loss = () => {
    rmsNormForward(y, rstd, x, w, N, C);
    return dot(y, R);
  };
  loss();
  const dx = new Float64Array(N * C), dw = new Float64Array(C);
  rmsNormBackward(dx, dw, R, x, w, rstd, N, C);
  assertClose(dx, numericGrad(loss, x), 1e-7, "dx");
  assertClose(dw, numericGrad(loss, w), 1e-7, "dweight");
});

Deno.test("property: rmsNorm output has mean square 1 and is scale invariant", () => {
  fc.assert(fc.property(
    fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 8, maxLength: 8 })
      .filter((r) => r.some((v) => Math.abs(v) > 1e-2)),
    fc.double({ min: 1e-2, max: 1e2, noNaN: true }),
    (row, a) => {
      const x = Float64Array.from(row), y = new Float64Array(8), ya = new Float64Array(8);
      const r = new Float64Array(1);
      rmsNormForward(y, r, x, null, 1, 8, 0);
      rmsNormForward(ya, r, x.map((v) => a * v), null, 1, 8, 0);
      const ms = dot(y, y) / 8;
      assert(Math.abs(ms - 1) < 1e-12, `mean square ${ms}`);
      for (let i = 0; i < 8; i++) assert(Math.abs(ya[i] - y[i]) < 1e-12);
    },
  ));
});
