import { assert, assertEquals } from "./std_assert.ts";
import { softmaxBackward, softmaxForward } from "../lib/kernels/softmax.ts";
import { assertClose, dot, numericGrad, randn } from "./golden.ts";

Deno.test("softmax rows sum to 1, masked entries are exactly 0, huge logits are fine", () => {
  const x = Float64Array.of(1000, 1001, 999, 5, -1e308, 0, 7, 7);
  const y = new Float64Array(8);
  softmaxForward(y, x, 2, 4, 3);
  assertEquals(y[3], 0);
  assertEquals(y[7], 0);
  assert(Math.abs(y[0] + y[1] + y[2] - 1) < 1e-15);
  assert(y.every(Number.isFinite));
});

Deno.test("softmax backward equals central finite differences", () => {
  const N = 3, C = 5;
  const x = randn(N * C, 3, 2), R = randn(N * C, 4), y = new Float64Array(N * C);
  const loss = () => {
    softmaxForward(y, x, N, C);
    return dot(y, R);
  };
  loss();
  const dx = new Float64Array(N * C);
  softmaxBackward(dx, R, y, N, C);
  assertClose(dx, numericGrad(loss, x), 1e-8, "dx");
});
