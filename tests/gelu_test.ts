import { assert } from "./std_assert.ts";
import { geluBackward, geluForward } from "../lib/kernels/gelu.ts";
import {
  arr,
  assertClose,
  checkGolden,
  type Golden,
  goldenFiles,
  type Precision,
  randn,
  testKernels,
  zeros,
} from "./golden.ts";

function runGolden(doc: Golden, p: Precision) {
  const k = testKernels(); // the backend under test
  const X = arr(doc.inputs.x, p), DY = arr(doc.inputs.dy, p);
  const n = X.length;
  const y = zeros(p, n), dx = zeros(p, n);
  k.geluForward(y, X, n);
  k.geluBackward(dx, X, DY, n);
  return { "outputs.y": y, "grads.x": dx };
}

Deno.test("gelu matches the PyTorch golden vectors", async (t) => {
  for (const doc of goldenFiles("gelu")) await checkGolden(t, doc, (p) => runGolden(doc, p));
});

Deno.test("gelu backward equals central finite differences (float64)", () => {
  const x = randn(64, 41, 3);
  const y1 = new Float64Array(1), y2 = new Float64Array(1), h = 1e-6;
  const dx = new Float64Array(64);
  geluBackward(dx, x, new Float64Array(64).fill(1), 64);
  const fd = x.map((v) => {
    geluForward(y1, Float64Array.of(v + h), 1);
    geluForward(y2, Float64Array.of(v - h), 1);
    return (y1[0] - y2[0]) / (2 * h);
  });
  assertClose(dx, fd, 1e-8, "dx");
});

Deno.test("gelu is finite and saturates for large inputs", () => {
  const x = Float64Array.of(-1e6, -50, 50, 1e6), y = new Float64Array(4), dx = new Float64Array(4);
  geluForward(y, x, 4);
  geluBackward(dx, x, new Float64Array(4).fill(1), 4);
  assert(y[0] === 0 && y[3] === 1e6 && dx[0] === 0 && dx[3] === 1, `${y} ${dx}`);
});
