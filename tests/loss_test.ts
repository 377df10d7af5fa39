import { assert, assertEquals } from "./std_assert.ts";
import { L2Loss, ProbeLoss, XentLoss } from "../lib/model/loss.ts";
import { probeRow } from "../lib/model/rng.ts";
import { assertClose, numericGrad, randn } from "./golden.ts";

Deno.test("each loss's dL/dy equals central finite differences", () => {
  const N = 3, C = 5, y = randn(N * C, 1);
  const losses = [
    new ProbeLoss({ seed: 4 }),
    new ProbeLoss({ R: randn(N * C, 2) }),
    new L2Loss(),
    new XentLoss({ vocab: 7, nEmbd: C, seed: 3 }),
    new XentLoss({ vocab: 7, nEmbd: C, targets: Int32Array.of(6, 0, 3) }),
  ];
  for (const loss of losses) {
    const dy = new Float64Array(N * C), scratch = new Float64Array(N * C);
    loss.lossAndGrad(y, dy, N, C, 10);
    const fd = numericGrad(() => loss.lossAndGrad(y, scratch, N, C, 10), y);
    assertClose(dy, fd, 1e-8, loss.name);
  }
});

Deno.test("probe and xent draws follow the global token index, not the batch", () => {
  const C = 4, y = randn(6 * C, 5);
  const probe = new ProbeLoss({ seed: 9 });
  const whole = new Float64Array(6 * C), part = new Float64Array(3 * C);
  const L = probe.lossAndGrad(y, whole, 6, C, 0);
  const L2 = probe.lossAndGrad(y.subarray(3 * C), part, 3, C, 3);
  assertEquals(part, whole.subarray(3 * C));
  assert(Math.abs(L - L2 - probe.lossAndGrad(y.subarray(0, 3 * C), part, 3, C, 0)) < 1e-12);
  const row = new Float64Array(C);
  probeRow(row, 0, 9, 4, C);
  assertEquals(row, whole.subarray(4 * C, 5 * C));
  const head = new XentLoss({ vocab: 50, nEmbd: C, seed: 2 });
  assertEquals(head.target(1234, 0), head.target(1234, 7));
  const t = Array.from({ length: 2000 }, (_, i) => head.target(i, 0));
  assert(t.every((v) => v >= 0 && v < 50) && new Set(t).size === 50);
});
