import { assert, assertAlmostEquals, assertEquals } from "./std_assert.ts";
import fc from "./fast_check.ts";
import { layerNormBackward, layerNormForward } from "../lib/kernels/layernorm.ts";
import { batchNormForward } from "../lib/kernels/batchnorm.ts";
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
  const { x, gamma, beta, dy } = doc.inputs;
  const C = x.shape[x.shape.length - 1];
  const N = x.data.length / C;
  const X = arr(x, p), G = arr(gamma, p), Bt = arr(beta, p), DY = arr(dy, p);
  const y = zeros(p, N * C), mean = zeros(p, N), rstd = zeros(p, N);
  k.layerNormForward(y, mean, rstd, X, G, Bt, N, C, doc.config.eps);
  const dx = zeros(p, N * C), dg = zeros(p, C), db = zeros(p, C);
  k.layerNormBackward(dx, dg, db, DY, X, G, mean, rstd, N, C);
  return {
    "outputs.y": y,
    "outputs.mean": mean,
    "outputs.rstd": rstd,
    "grads.x": dx,
    "grads.gamma": dg,
    "grads.beta": db,
  };
}

Deno.test("layerNorm matches the PyTorch golden vectors", async (t) => {
  for (const doc of goldenFiles("layernorm")) {
    await checkGolden(
      t,
      doc,
      (p) => runGolden(doc, p),
      rowTagged(doc.config.row_tags, doc.inputs.x.shape.at(-1)!),
    );
  }
});

Deno.test("layerNorm backward equals central finite differences (float64)", () => {
  const N = 3, C = 7;
  const x = randn(N * C, 1, 2, 0.5), w = randn(C, 2, 0.3, 1), b = randn(C, 3), R = randn(N * C, 4);
  const y = new Float64Array(N * C), mean = new Float64Array(N), rstd = new Float64Array(N);
  const loss = () => {
    layerNormForward(y, mean, rstd, x, w, b, N, C);
    return dot(y, R);
  };
  loss();
  const dx = new Float64Array(N * C), dw = new Float64Array(C), db = new Float64Array(C);
  layerNormBackward(dx, dw, db, R, x, w, mean, rstd, N, C);
  assertClose(dx, numericGrad(loss, x), 1e-7, "dx");
  assertClose(dw, numericGrad(loss, w), 1e-7, "dweight");
  assertClose(db, numericGrad(loss, b), 1e-7, "dbias");
});

Deno.test("layerNorm backward accumulates into the gradient buffers", () => {
  const N = 2, C = 5;
  const x = randn(N * C, 5), R = randn(N * C, 6);
  const y = new Float64Array(N * C), mean = new Float64Array(N), rstd = new Float64Array(N);
  layerNormForward(y, mean, rstd, x, null, null, N, C);
  const once = new Float64Array(N * C), twice = new Float64Array(N * C);
  layerNormBackward(once, null, null, R, x, null, mean, rstd, N, C);
  layerNormBackward(twice, null, null, R, x, null, mean, rstd, N, C);
  layerNormBackward(twice, null, null, R, x, null, mean, rstd, N, C);
  for (let i = 0; i < once.length; i++) assertAlmostEquals(twice[i], 2 * once[i], 1e-14);
});

Deno.test("layerNorm edge rows: constant, huge offset, no NaN", () => {
  const C = 16, eps = 1e-5;
  const x = new Float64Array(3 * C);
  x.fill(0.75, 0, C); // constant
  for (let c = 0; c < C; c++) x[C + c] = 1e4 + (c % 2 ? 0.1 : -0.1); // huge offset, std 0.1
  x.fill(0, 2 * C); // zero
  const bias = randn(C, 9);
  const y = new Float64Array(3 * C), mean = new Float64Array(3), rstd = new Float64Array(3);
  layerNormForward(y, mean, rstd, x, null, bias, 3, C, eps);
  assertEquals(rstd[0], 1 / Math.sqrt(eps));
  for (let c = 0; c < C; c++) assertEquals(y[c], bias[c]);
  assertAlmostEquals(rstd[1], 1 / Math.sqrt(0.01 + eps), 1e-9);
  assert(y.every(Number.isFinite));
});

// ---------- properties ----------

const rowArb = (C: number) =>
  fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: C, maxLength: C })
    .filter((r) => {
      const m = r.reduce((a, b) => a + b, 0) / C;
      return r.reduce((a, v) => a + (v - m) ** 2, 0) / C > 1e-2; // variance ≫ eps
    });

function ln(x: Float64Array, N: number, C: number, eps = 1e-5) {
  const y = new Float64Array(N * C), mean = new Float64Array(N), rstd = new Float64Array(N);
  layerNormForward(y, mean, rstd, x, null, null, N, C, eps);
  return y;
}

Deno.test("property: each token comes out with mean 0 and variance 1", () => {
  fc.assert(fc.property(rowArb(12), (row) => {
    const y = ln(Float64Array.from(row), 1, 12, 1e-12);
    const m = y.reduce((a, b) => a + b, 0) / 12;
    const v = y.reduce((a, b) => a + (b - m) ** 2, 0) / 12;
    return Math.abs(m) < 1e-9 && Math.abs(v - 1) < 1e-6;
  }));
});

Deno.test("property: shift invariance LN(x + c) = LN(x) and scale invariance LN(a·x) = LN(x)", () => {
  fc.assert(fc.property(
    rowArb(10),
    fc.double({ min: -1e3, max: 1e3, noNaN: true }),
    fc.double({ min: 1e-2, max: 1e2, noNaN: true }),
    (row, c, a) => {
      const x = Float64Array.from(row);
      const y = ln(x, 1, 10, 0);
      const ys = ln(x.map((v) => v + c), 1, 10, 0);
      const ya = ln(x.map((v) => v * a), 1, 10, 0);
      for (let i = 0; i < 10; i++) {
        if (Math.abs(ys[i] - y[i]) > 1e-6 || Math.abs(ya[i] - y[i]) > 1e-9) return false;
      }
      return true;
    },
  ));
});

Deno.test("property: order within a token is preserved", () => {
  fc.assert(fc.property(rowArb(9), (row) => {
    const y = ln(Float64Array.from(row), 1, 9);
    for (let i = 0; i < 9; i++) {
      for (let j = 0; j < 9; j++) {
        if (row[i] < row[j] && !(y[i] <= y[j])) return false;
      }
    }
    return true;
  }));
});

Deno.test("property: a token's LayerNorm ignores its batch, BatchNorm does not", () => {
  const C = 8;
  fc.assert(fc.property(rowArb(C), rowArb(C), rowArb(C), (a, b, c) => {
    const alone = ln(Float64Array.from(a), 1, C);
    const inBatch = ln(Float64Array.from([...a, ...b, ...c]), 3, C).subarray(0, C);
    for (let i = 0; i < C; i++) if (Math.abs(alone[i] - inBatch[i]) > 0) return false;
    return true;
  }));
  // BatchNorm: the same first token, other companions → a different output.
  const a = randn(C, 11), b1 = randn(C, 12), b2 = randn(C, 13, 3, 2);
  const bn = (x: Float64Array) => {
    const y = new Float64Array(2 * C), m = new Float64Array(C), r = new Float64Array(C);
    batchNormForward(y, m, r, x, null, null, 2, C);
    return y.subarray(0, C);
  };
  const y1 = bn(Float64Array.from([...a, ...b1])), y2 = bn(Float64Array.from([...a, ...b2]));
  let diff = 0;
  for (let i = 0; i < C; i++) diff = Math.max(diff, Math.abs(y1[i] - y2[i]));
  assert(
    diff > 0.1,
    `BatchNorm output of the same token should change with its batch (diff ${diff})`,
  );
});
