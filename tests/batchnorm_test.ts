import { assert } from "./std_assert.ts";
import fc from "./fast_check.ts";
import { batchNormBackward, batchNormForward } from "../lib/kernels/batchnorm.ts";
import {
  arr,
  assertClose,
  checkGolden,
  dot,
  featureTagged,
  type Golden,
  goldenFiles,
  numericGrad,
  type Precision,
  randn,
  testKernels,
  zeros,
} from "./golden.ts";

function runGolden(doc: Golden, p: Precision) {
  const k = testKernels(); // the backend under test
  const { x, gamma, beta, dy } = doc.inputs;
  const [N, C] = x.shape;
  const X = arr(x, p), G = arr(gamma, p), Bt = arr(beta, p), DY = arr(dy, p);
  const y = zeros(p, N * C), mean = zeros(p, C), rstd = zeros(p, C);
  k.batchNormForward(y, mean, rstd, X, G, Bt, N, C, doc.config.eps);
  const dx = zeros(p, N * C), dg = zeros(p, C), db = zeros(p, C);
  k.batchNormBackward(dx, dg, db, DY, X, G, mean, rstd, N, C);
  return {
    "outputs.y": y,
    "outputs.mean": mean,
    "outputs.rstd": rstd,
    "grads.x": dx,
    "grads.gamma": dg,
    "grads.beta": db,
  };
}

Deno.test("batchNorm matches the PyTorch golden vectors", async (t) => {
  for (const doc of goldenFiles("batchnorm")) {
    await checkGolden(t, doc, (p) => runGolden(doc, p), featureTagged(doc.config.feature_tags));
  }
});

Deno.test("batchNorm backward equals central finite differences (float64)", () => {
  const N = 5, C = 3;
  const x = randn(N * C, 31, 2), w = randn(C, 32, 0.2, 1), b = randn(C, 33), R = randn(N * C, 34);
  const y = new Float64Array(N * C), mean = new Float64Array(C), rstd = new Float64Array(C);
  const loss = () => {
    batchNormForward(y, mean, rstd, x, w, b, N, C);
    return dot(y, R);
  };
  loss();
  const dx = new Float64Array(N * C), dw = new Float64Array(C), db = new Float64Array(C);
  batchNormBackward(dx, dw, db, R, x, w, mean, rstd, N, C);
  assertClose(dx, numericGrad(loss, x), 1e-7, "dx");
  assertClose(dw, numericGrad(loss, w), 1e-7, "dweight");
  assertClose(db, numericGrad(loss, b), 1e-7, "dbias");
});

Deno.test("property: every feature comes out with mean 0 and variance 1 over the batch", () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 1000 }), (seed) => {
    const N = 6, C = 4;
    const x = randn(N * C, seed, 5, 3);
    const y = new Float64Array(N * C), m = new Float64Array(C), r = new Float64Array(C);
    batchNormForward(y, m, r, x, null, null, N, C, 0);
    for (let c = 0; c < C; c++) {
      let s = 0, s2 = 0;
      for (let n = 0; n < N; n++) s += y[n * C + c], s2 += y[n * C + c] ** 2;
      assert(Math.abs(s / N) < 1e-12 && Math.abs(s2 / N - 1) < 1e-12);
    }
  }));
});
