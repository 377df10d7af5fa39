/**
 * Small-sample statistics for comparing runs over seeds: mean and sample standard deviation,
 * and Welch's two-sided t-test (unequal variances) with its p-value from Student's t
 * distribution (the regularized incomplete beta function, by Lentz's continued fraction).
 *
 * @module
 */

/**
 * Mean and sample standard deviation (n − 1; 0 for one value) of the finite values of `xs`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const s = meanStd([1, 2, 3, 4]);
 * assert(s.mean === 2.5 && Math.abs(s.std - Math.sqrt(5 / 3)) < 1e-15 && s.n === 4);
 * ```
 */
export function meanStd(xs: readonly number[]): { mean: number; std: number; n: number } {
  const v = xs.filter(Number.isFinite), n = v.length;
  if (n === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const ss = v.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, n };
}

/**
 * Welch's t-test of two samples: t, the Welch–Satterthwaite degrees of freedom, and the
 * two-sided p-value (NaN with fewer than two values on a side, or no spread on either).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * // by hand: means 2 and 5, variances 1 and 1, n 3 and 3: t = −3/√(2/3) = −3.674, df = 4
 * const w = welch([1, 2, 3], [4, 5, 6]);
 * assert(Math.abs(w.t + 3.6742346141747673) < 1e-12 && Math.abs(w.df - 4) < 1e-12);
 * // with 4 degrees of freedom the two-sided p is 1 − (3s − s³)/2, s = |t|/√(t² + 4)
 * const s = 3.6742346141747673 / Math.sqrt(3.6742346141747673 ** 2 + 4);
 * assert(Math.abs(w.p - (1 - (3 * s - s ** 3) / 2)) < 1e-12);
 * ```
 */
export function welch(
  a: readonly number[],
  b: readonly number[],
): { t: number; df: number; p: number } {
  const x = meanStd(a), y = meanStd(b);
  if (x.n < 2 || y.n < 2) return { t: NaN, df: NaN, p: NaN };
  const vx = x.std ** 2 / x.n, vy = y.std ** 2 / y.n, se2 = vx + vy;
  if (!(se2 > 0)) return { t: NaN, df: NaN, p: NaN };
  const t = (x.mean - y.mean) / Math.sqrt(se2);
  const df = se2 ** 2 / (vx ** 2 / (x.n - 1) + vy ** 2 / (y.n - 1));
  // P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2)
  const p = betaInc(df / (df + t * t), df / 2, 0.5);
  return { t, df, p };
}

/** The regularized incomplete beta function I_x(a, b). */
function betaInc(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lbeta = lgamma(a + b) - lgamma(a) - lgamma(b);
  const front = Math.exp(Math.log(x) * a + Math.log(1 - x) * b + lbeta);
  // the continued fraction converges fast for x < (a+1)/(a+b+2); else use the symmetry
  if (x < (a + 1) / (a + b + 2)) return (front * betaCf(x, a, b)) / a;
  return 1 - (front * betaCf(1 - x, b, a)) / b;
}

function betaCf(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1, d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: ~15 digits). */
function lgamma(x: number): number {
  const g = [
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
  x -= 1;
  let s = g[0];
  for (let i = 1; i < 9; i++) s += g[i] / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(s);
}
