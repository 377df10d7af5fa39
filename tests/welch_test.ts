// Welch's t-test against a numerical integration of Student's t density, at non-integer degrees
// of freedom; mean and sample std by hand.
import { assert, assertEquals } from "./std_assert.ts";
import { meanStd, welch } from "../lib/stats/welch.ts";

/** Two-sided P(|T| > |t|) for ν degrees of freedom, by the midpoint rule on x = |t| + u/(1−u). */
function tailByIntegration(t: number, nu: number): number {
  const lg = (z: number) => {
    // ln Γ by Stirling with enough terms for z ≥ 0.5 after shifting up
    let acc = 0;
    while (z < 10) acc -= Math.log(z++);
    return acc + (z - 0.5) * Math.log(z) - z + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * z) -
      1 / (360 * z ** 3) + 1 / (1260 * z ** 5);
  };
  const c = Math.exp(lg((nu + 1) / 2) - lg(nu / 2)) / Math.sqrt(nu * Math.PI);
  const n = 400_000;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const u = (i + 0.5) / n, x = Math.abs(t) + u / (1 - u);
    s += c * (1 + (x * x) / nu) ** (-(nu + 1) / 2) / (1 - u) ** 2;
  }
  return (2 * s) / n;
}

Deno.test("welch: t, Welch–Satterthwaite df and the two-sided p of Student's t", () => {
  const a = [1.88, 1.91, 1.87], b = [1.95, 2.01, 1.99, 2.05];
  const w = welch(a, b);
  const ma = (1.88 + 1.91 + 1.87) / 3, mb = (1.95 + 2.01 + 1.99 + 2.05) / 4;
  const va = a.reduce((s, x) => s + (x - ma) ** 2, 0) / 2 / 3;
  const vb = b.reduce((s, x) => s + (x - mb) ** 2, 0) / 3 / 4;
  assert(Math.abs(w.t - (ma - mb) / Math.sqrt(va + vb)) < 1e-12);
  assert(Math.abs(w.df - (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 3)) < 1e-9);
  assert(w.df > 4 && w.df < 5, `df ${w.df} is not a whole number here`);
  const p = tailByIntegration(w.t, w.df);
  assert(Math.abs(w.p - p) < 1e-6, `p ${w.p} vs ${p} by integration`);
  // a large t: a small p, still right
  const far = welch([0, 0.1, 0.2, 0.15], [3, 3.1, 2.9, 3.05]);
  assert(Math.abs(far.p - tailByIntegration(far.t, far.df)) < 1e-7 && far.p < 1e-4);
  // too few values, or no spread: no test
  assert(Number.isNaN(welch([1], [2, 3]).p) && Number.isNaN(welch([1, 1], [1, 1]).p));
});

Deno.test("meanStd: the sample std (n − 1), non-finite values left out", () => {
  assertEquals(meanStd([2, 4, 4, 4, 5, 5, 7, 9, NaN]).mean, 5);
  assert(Math.abs(meanStd([2, 4, 4, 4, 5, 5, 7, 9]).std - Math.sqrt(32 / 7)) < 1e-15);
  assertEquals(meanStd([3]).std, 0);
});
