import { assert, assertAlmostEquals, assertEquals } from "./std_assert.ts";
import fc from "./fast_check.ts";
import { lrAt } from "../lib/train/schedule.ts";

const S = { lr: 1e-3, minLr: 1e-4, warmup: 100, iters: 2000 };

Deno.test("lrAt at its corners", () => {
  assertAlmostEquals(lrAt(0, S), 1e-3 / 101, 1e-18); // warm-up starts above 0
  assertAlmostEquals(lrAt(99, S), 1e-3 * 100 / 101, 1e-18); // last warm-up step
  assertEquals(lrAt(100, S), 1e-3); // end of warm-up: the peak
  assertAlmostEquals(lrAt(1050, S), (1e-3 + 1e-4) / 2, 1e-15); // half-way down the cosine
  assertAlmostEquals(lrAt(1999, S), 1e-4, 1e-9); // last step of the run: almost the floor
  assertEquals(lrAt(2000, S), 1e-4);
  assertEquals(lrAt(5000, S), 1e-4);
});

Deno.test("lrAt with --warmup 0: no warm-up at all", () => {
  const s = { ...S, warmup: 0 };
  assertEquals(lrAt(0, s), 1e-3);
  assert(lrAt(1, s) < 1e-3 && lrAt(1, s) > 0.99e-3);
});

Deno.test("lrAt rises through the warm-up (from above 0), then never rises, within [minLr, lr]", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 500 }),
      fc.integer({ min: 1, max: 3000 }),
      (warmup, len) => {
        const s = { lr: 3e-3, minLr: 3e-5, warmup, iters: warmup + len };
        for (let t = 1; t <= s.iters + 2; t++) {
          const a = lrAt(t - 1, s), b = lrAt(t, s);
          if (t < warmup) assert(b > a);
          else if (t > warmup) assert(b <= a);
          assert(b > 0 && b <= s.lr && (t < warmup || b >= s.minLr), `step ${t}: ${b}`);
        }
      },
    ),
    { numRuns: 30 },
  );
});
