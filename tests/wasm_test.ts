// The WebAssembly kernels against the TypeScript reference on awkward shapes and rows: the
// norm statistics must stay exact on adversarial rows, and every shape's tails must agree.
import { assert, assertEquals, assertThrows } from "./std_assert.ts";
import fc from "./fast_check.ts";
import { Arena } from "../lib/kernels/arena.ts";
import { WasmKernels } from "../lib/kernels/wasm.ts";
import { checkExports } from "../lib/kernels/arena.ts";
import { KERNEL_ARITY } from "../lib/kernels/wasm/kernels.generated.ts";
import { layerNormForward } from "../lib/kernels/layernorm.ts";
import { rmsNormForward } from "../lib/kernels/rmsnorm.ts";
import { matmulBackward, matmulForward } from "../lib/kernels/matmul.ts";
import { softmaxBackward, softmaxForward } from "../lib/kernels/softmax.ts";
import { assertClose, randn } from "./golden.ts";
import { probeRow } from "../lib/model/rng.ts";

const arena = new Arena();
const k = new WasmKernels(arena);
const f32 = (x: ArrayLike<number>) => {
  const a = arena.alloc(x.length);
  a.set(x);
  return a;
};

/** LayerNorm by wasm (in the arena) and by the float64 reference. */
function bothLN(x: Float64Array, N: number, C: number, eps = 1e-5) {
  const y = arena.alloc(N * C), mean = arena.alloc(N), rstd = arena.alloc(N);
  k.layerNormForward(y, mean, rstd, f32(x), null, null, N, C, eps);
  const ry = new Float64Array(N * C), rm = new Float64Array(N), rr = new Float64Array(N);
  layerNormForward(ry, rm, rr, Float64Array.from(f32(x)), null, null, N, C, eps);
  return { y, mean, rstd, ry, rm, rr };
}

Deno.test("wasm LayerNorm: constant, huge-offset, tiny-variance and overflowing rows", () => {
  const C = 768, eps = 1e-5;
  const x = new Float64Array(5 * C);
  x.fill(0.75, 0, C); // constant: rstd = 1/√eps, y = 0
  for (let c = 0; c < C; c++) x[C + c] = 1e4 + (c % 2 ? 0.1 : -0.1); // offset 1e4, std 0.1
  for (let c = 0; c < C; c++) x[2 * C + c] = 1 + (c % 2 ? 1e-3 : -1e-3); // std 1e-3
  for (let c = 0; c < C; c++) x[3 * C + c] = c % 2 ? 3e38 : -3e38; // float32 sums overflow
  for (let c = 0; c < C; c++) x[4 * C + c] = c === 5 ? 1e6 : 0; // one outlier
  const { y, mean, rstd, rr, ry } = bothLN(x, 5, C, eps);
  assertEquals(rstd[0], Math.fround(1 / Math.sqrt(eps)));
  for (let c = 0; c < C; c++) assertEquals(y[c], 0);
  for (let n = 1; n < 5; n++) {
    const rel = Math.abs(rstd[n] - rr[n]) / rr[n];
    assert(rel < 4e-7, `row ${n}: rstd ${rstd[n]} vs ${rr[n]} (rel ${rel})`);
  }
  assert(Math.abs(mean[1] - 1e4) < 1e-3);
  assertEquals(mean[3], 0);
  for (let i = C; i < 5 * C; i++) {
    assert(Math.abs(y[i] - ry[i]) <= 1e-5 * Math.max(1, Math.abs(ry[i])), `element ${i}`);
  }
});

Deno.test("property: wasm LayerNorm gives mean 0, variance 1, and agrees with the reference", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 40 }),
      fc.integer({ min: 1, max: 3 }),
      fc.double({ min: -1e4, max: 1e4, noNaN: true }),
      fc.double({ min: 1e-2, max: 1e3, noNaN: true }),
      fc.integer(),
      (C, N, shift, scale, seed) => {
        const x = randn(N * C, seed, scale, shift);
        const { y, ry } = bothLN(x, N, C, 1e-12);
        for (let n = 0; n < N; n++) {
          // variance 1 up to eps: a row of tiny spread has var/(var + eps), as the reference
          let m = 0, v = 0, rv = 0;
          for (let c = 0; c < C; c++) m += y[n * C + c] / C;
          for (let c = 0; c < C; c++) v += (y[n * C + c] - m) ** 2 / C;
          for (let c = 0; c < C; c++) rv += ry[n * C + c] ** 2 / C;
          if (C > 1 && (Math.abs(m) > 1e-5 || Math.abs(v - rv) > 1e-5 || rv > 1 + 1e-9)) {
            return false;
          }
        }
        return ry.every((r, i) => Math.abs(y[i] - r) <= 1e-5 * Math.max(1, Math.abs(r)));
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("wasm RMSNorm agrees with the reference on every tail length", () => {
  for (const C of [1, 3, 4, 7, 8, 9, 64, 770]) {
    const N = 3, x = randn(N * C, C, 2, 0.5);
    const y = arena.alloc(N * C), r = arena.alloc(N);
    k.rmsNormForward(y, r, f32(x), null, N, C, 1e-5);
    const ry = new Float64Array(N * C), rr = new Float64Array(N);
    rmsNormForward(ry, rr, Float64Array.from(f32(x)), null, N, C, 1e-5);
    assertClose(y, ry, 4e-7, `rms C=${C}`);
  }
});

Deno.test("wasm matmul forward/backward agree with the reference on ragged shapes", () => {
  for (const [N, Cin, Cout] of [[1, 1, 1], [5, 7, 9], [9, 300, 17], [70, 257, 513], [4, 8, 8]]) {
    const x = randn(N * Cin, 1),
      w = randn(Cin * Cout, 2),
      b = randn(Cout, 3),
      g = randn(N * Cout, 4);
    const X = f32(x), W = f32(w), Bv = f32(b), G = f32(g);
    const out = arena.alloc(N * Cout);
    k.matmulForward(out, X, W, Bv, N, Cin, Cout);
    const ref = new Float64Array(N * Cout);
    const [x64, w64, b64, g64] = [X, W, Bv, G].map((a) => Float64Array.from(a));
    matmulForward(ref, x64, w64, b64, N, Cin, Cout);
    const tol = 2e-6 * Math.sqrt(Cin);
    assertClose(out, ref, tol, `forward ${N}x${Cin}x${Cout}`);
    // accumulation: start from nonzero gradients
    const dx = f32(randn(N * Cin, 5)), dw = f32(randn(Cin * Cout, 6)), db = f32(randn(Cout, 7));
    const rdx = Float64Array.from(dx), rdw = Float64Array.from(dw), rdb = Float64Array.from(db);
    k.matmulBackward(dx, dw, db, G, X, W, N, Cin, Cout);
    matmulBackward(rdx, rdw, rdb, g64, x64, w64, N, Cin, Cout);
    assertClose(dx, rdx, 2e-6 * Math.sqrt(Cout), "dinp");
    assertClose(dw, rdw, 2e-6 * Math.sqrt(N), "dweight");
    assertClose(db, rdb, 2e-6 * Math.sqrt(N), "dbias");
  }
});

Deno.test("wasm softmax: masked tails are exactly 0, rows sum to 1, backward agrees", () => {
  for (const [N, C, len] of [[3, 5, 5], [4, 9, 6], [2, 33, 1], [1, 64, 64]]) {
    const x = f32(randn(N * C, C, 4)), y = arena.alloc(N * C);
    k.softmaxForward(y, x, N, C, len);
    const ry = new Float64Array(N * C);
    softmaxForward(ry, Float64Array.from(x), N, C, len);
    assertClose(y, ry, 1e-6, `softmax ${N}x${C}/${len}`);
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let c = 0; c < C; c++) {
        if (c >= len) assertEquals(y[n * C + c], 0);
        s += y[n * C + c];
      }
      assert(Math.abs(s - 1) < 1e-6);
    }
    const g = f32(randn(N * C, 3)), d = f32(randn(N * C, 8));
    const rd = Float64Array.from(d);
    k.softmaxBackward(d, g, y, N, C, len);
    softmaxBackward(rd, Float64Array.from(g), ry, N, C, len);
    assertClose(d, rd, 1e-6, "softmax backward");
  }
});

Deno.test("wasm GELU and exp keep NaN, saturate at ±large, and agree near 0", () => {
  const x = f32([NaN, -1e30, -20, -1e-30, 0, 1e-30, 20, 1e30, Infinity, -Infinity]);
  const y = arena.alloc(x.length);
  k.geluForward(y, x, x.length);
  assert(Number.isNaN(y[0]));
  assertEquals(y.slice(1, 8), Float32Array.of(-0, -0, -1e-30 / 2, 0, 1e-30 / 2, 20, 1e30));
  assertEquals(y[8], Infinity);
  assert(y[9] === 0 || Number.isNaN(y[9])); // −∞·σ(−∞): 0 or NaN, as torch's −∞·0
});

Deno.test("the exported kernels are the TypeScript references, wherever the arrays live", () => {
  // arrays in an arena do not change which kernel runs: only createKernels reaches wasm
  const x = f32([1, 2, 3, 4.5, 10, 10, 10, 14]);
  const [a, m, r] = [arena.alloc(8), arena.alloc(2), arena.alloc(2)];
  const [b, m2, r2] = [new Float32Array(8), new Float32Array(2), new Float32Array(2)];
  layerNormForward(a, m, r, x, null, null, 2, 4);
  layerNormForward(b, m2, r2, Float32Array.from(x), null, null, 2, 4);
  assertEquals(a, b);
  const y = arena.alloc(8);
  k.layerNormForward(y, m, r, x, null, null, 2, 4);
  for (let i = 0; i < 8; i++) assert(Math.abs(y[i] - b[i]) < 1e-6);
});

Deno.test("the module's exports are checked against its generated bindings at instantiation", () => {
  const exports = { ...arena.exports } as unknown as Record<string, unknown>;
  checkExports(exports); // the real module: every export there, every arity right
  const names = Object.keys(KERNEL_ARITY);
  assert(names.includes("layerNormRows") && names.includes("normStats") && names.length > 15);
  const missing = { ...exports };
  delete missing.normStats;
  assertThrows(() => checkExports(missing), Error, "lacks its export normStats");
  const wrong = { ...exports, gemm: (a: number) => a };
  assertThrows(() => checkExports(wrong), Error, "gemm takes 1 arguments, its bindings say 15");
});

Deno.test("the arena grows on demand and says clearly when 4 GiB would not hold it", () => {
  const a = new Arena({ bytes: 0 });
  const before = a.memory.buffer.byteLength;
  const big = a.alloc(1 << 20); // 4 MiB: grows
  assert(a.memory.buffer.byteLength > before && big.length === 1 << 20);
  assertEquals(Arena.of(big), a);
  assertThrows(() => a.allocBytes(2 ** 32), RangeError, "4096 MiB");
  assertThrows(() => a.allocBytes(-1), RangeError);
  assertThrows(() => new Arena({ bytes: 2 ** 33 }), RangeError, "4 GiB");
});

Deno.test("wasm probe direction equals probeRow bit for bit (tails, huge token indices)", () => {
  for (
    const [C, first] of [[1, 0], [7, 5], [64, 2 ** 40 - 3], [13, 123456789], [40, 9], [768, 1]]
  ) {
    const N = 5, R = arena.alloc(N * C), ref = new Float32Array(N * C);
    k.probeFill(R, 42, first, N, C);
    for (let t = 0; t < N; t++) probeRow(ref, t * C, 42, first + t, C);
    assertEquals(R, ref, `C=${C} first=${first}`);
  }
  // unit variance and zero mean over many draws
  const n = 1 << 16, R = arena.alloc(n);
  k.probeFill(R, 7, 0, 1, n);
  let m = 0, v = 0;
  for (const r of R) m += r / n;
  for (const r of R) v += (r - m) ** 2 / n;
  assert(Math.abs(m) < 0.02 && Math.abs(v - 1) < 0.02, `mean ${m}, variance ${v}`);
});

Deno.test("wasm row and gradient statistics agree with float64 sums", () => {
  for (const C of [3, 8, 37, 768]) {
    const N = 4, F = 13;
    const x = f32(randn(N * C, C, 3, 1e3)), dy = f32(randn(N * C, 1)), dx = f32(randn(N * C, 2));
    const st = arena.allocF64(N * F);
    k.rowStats(st, x, N, C, F, 0);
    k.gradStats(st, x, dy, dx, N, C, F, 8, 0.5);
    for (let n = 0; n < N; n++) {
      const row = (a: Float32Array) => Array.from(a.subarray(n * C, (n + 1) * C));
      const xs = row(x), g = row(dy), d = row(dx);
      const s = xs.reduce((a, b) => a + b, 0), mean = s / C;
      const m2 = xs.reduce((a, b) => a + (b - mean) ** 2, 0);
      const near = (a: number, b: number, what: string) =>
        assert(
          Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)),
          `C=${C} row ${n} ${what}: ${a} vs ${b}`,
        );
      near(st[n * F], s, "sum");
      near(st[n * F + 1], m2, "M2");
      assertEquals(st[n * F + 2], Math.min(...xs));
      assertEquals(st[n * F + 3], Math.max(...xs));
      near(st[n * F + 8], g.reduce((a, b) => a + b * b, 0), "dy²");
      assertEquals(st[n * F + 9], Math.max(...g.map(Math.abs)));
      near(st[n * F + 10], d.reduce((a, b) => a + b * b, 0), "dx²");
      assertEquals(st[n * F + 11], Math.max(...d.map(Math.abs)));
      near(st[n * F + 12], 0.5 * xs.reduce((a, b, i) => a + b * g[i], 0), "loss");
    }
  }
});

Deno.test("wasm row minimum and maximum skip NaN elements, as the TypeScript path does", () => {
  for (const C of [3, 8, 37, 768]) {
    const x = f32(randn(2 * C, C, 5, 1));
    // row 0: NaN first, in the middle and last; row 1: all NaN but one
    for (const c of [0, C >> 1, C - 1]) x[c] = NaN;
    for (let c = 0; c < C; c++) if (c !== 1 % C) x[C + c] = NaN;
    const st = arena.allocF64(2 * 4);
    k.rowStats(st, x, 2, C, 4, 0);
    for (let n = 0; n < 2; n++) {
      const xs = Array.from(x.subarray(n * C, (n + 1) * C)).filter((v) => !Number.isNaN(v));
      assert(Number.isNaN(st[n * 4]), `C=${C} row ${n}: the sum carries the NaN`);
      assertEquals(st[n * 4 + 2], Math.min(...xs), `C=${C} row ${n} minimum`);
      assertEquals(st[n * 4 + 3], Math.max(...xs), `C=${C} row ${n} maximum`);
    }
  }
});

Deno.test("wasm normStats: LayerNorm, probe backward and every statistic per row, against float64", () => {
  const F = 13;
  for (const C of [3, 8, 13, 37, 768]) {
    for (const affine of [false, true]) {
      const N = 5, eps = 1e-5, seed = 11, first = 2 ** 40 - 2;
      const xs = randn(N * C, C, 2, 0.5);
      for (let c = 0; c < C; c++) xs[C + c] = 1e4 + (c % 2 ? 0.1 : -0.1); // offset ≫ spread
      for (let c = 0; c < C; c++) xs[2 * C + c] = c === 1 ? 30 : 0.01 * c; // one outlier
      const x = f32(xs), y = arena.alloc(N * C), st = arena.allocF64(N * F);
      const w = affine ? f32(randn(C, 5, 0.3, 1)) : null, b = affine ? f32(randn(C, 6, 2)) : null;
      k.normStats(y, x, w, b, seed, first, N, C, eps, false, st, F, false);
      // the outputs are the LayerNorm kernel's, bit for bit
      const y2 = arena.alloc(N * C);
      k.layerNormForward(y2, arena.alloc(N), arena.alloc(N), x, w, b, N, C, eps);
      assertEquals(y, y2, `C=${C} affine=${affine}: outputs`);
      const R = new Float64Array(C);
      for (let n = 0; n < N; n++) {
        const at = (a: ArrayLike<number>) => Array.from({ length: C }, (_, c) => a[n * C + c]);
        const xr = at(x), yr = at(y), s = st.subarray(n * F, n * F + F);
        probeRow(R, 0, seed, first + n, C);
        const sum = (a: number[]) => a.reduce((p, q) => p + q, 0);
        const m2 = (a: number[]) => sum(a.map((v) => (v - sum(a) / C) ** 2));
        const near = (got: number, want: number, tol: number, what: string) =>
          assert(
            Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)),
            `C=${C} affine=${affine} row ${n} ${what}: ${got} vs ${want}`,
          );
        // a sum's rounding is relative to the sum of its terms' magnitudes (float32 lanes)
        const abs = (a: number[]) => sum(a.map(Math.abs));
        near(s[0], sum(xr), 1e-6 * abs(xr), "input Σ");
        near(s[1], m2(xr), 1e-6, "input M2");
        assertEquals([s[2], s[3]], [Math.min(...xr), Math.max(...xr)]);
        near(s[4], sum(yr), 1e-6 * abs(yr), "output Σ");
        near(s[5], m2(yr), 1e-6, "output M2");
        assertEquals([s[6], s[7]], [Math.min(...yr), Math.max(...yr)]);
        near(s[8], sum(Array.from(R, (v) => v * v)), 1e-6, "‖R‖²");
        assertEquals(s[9], Math.max(...Array.from(R, Math.abs)));
        const yR = yr.map((v, c) => v * R[c]);
        near(s[12], sum(yR), 1e-6 * abs(yR), "loss");
        // dx in float64: r·(g − mean g − x̂·mean(g·x̂)), g = R·w, x̂ = (x − mean)·r
        const mean = sum(xr) / C, r = 1 / Math.sqrt(m2(xr) / C + eps);
        const xh = xr.map((v) => (v - mean) * r), g = xh.map((_, c) => R[c] * (w ? w[c] : 1));
        const ga = sum(g) / C, gb = sum(g.map((v, c) => v * xh[c])) / C;
        const dx = g.map((v, c) => r * (v - ga - xh[c] * gb));
        const dx2 = sum(dx.map((v) => v * v)), dmax = Math.max(...dx.map(Math.abs));
        near(s[10], dx2, 1e-4, "‖dx‖²");
        near(s[11], dmax, 1e-4 * dmax, "max|dx|");
      }
    }
  }
});

Deno.test("wasm normStats: RMSNorm rows equal the separate kernels; NaN rows do not spread", () => {
  const F = 13, C = 37, N = 4, eps = 1e-6;
  const x = f32(randn(N * C, 9, 1.5, 0.2)), w = f32(randn(C, 10, 0.2, 1));
  x[2 * C + 5] = NaN;
  const y = arena.alloc(N * C), st = arena.allocF64(N * F);
  k.normStats(y, x, w, null, 3, 100, N, C, eps, true, st, F, false);
  const y2 = arena.alloc(N * C), rstd = arena.alloc(N), R = arena.alloc(N * C);
  const dx = arena.alloc(N * C), st2 = arena.allocF64(N * F);
  k.rowStats(st2, x, N, C, F, 0);
  k.rmsNormForward(y2, rstd, x, w, N, C, eps);
  k.rowStats(st2, y2, N, C, F, 4);
  k.probeFill(R, 3, 100, N, C);
  k.rmsNormBackward(dx, null, R, x, w, rstd, N, C);
  k.gradStats(st2, y2, R, dx, N, C, F, 8, 1);
  assertEquals(y, y2);
  assertEquals(st, st2);
  // LayerNorm: the NaN row's sums are NaN, its neighbours' are not
  k.normStats(y, x, null, null, 3, 100, N, C, eps, false, st, F, false);
  for (let n = 0; n < N; n++) {
    for (const f of [0, 4, 10, 12]) {
      assertEquals(Number.isNaN(st[n * F + f]), n === 2, `row ${n} field ${f}`);
    }
  }
});

Deno.test("probe direction: ±1 (Rademacher), mean 0, channels and tokens uncorrelated", () => {
  const C = 1000, T = 200, R = new Float64Array(T * C);
  for (let t = 0; t < T; t++) probeRow(R, t * C, 5, t, C);
  assert(R.every((v) => v === 1 || v === -1));
  const m = R.reduce((a, v) => a + v, 0) / R.length;
  assert(Math.abs(m) < 0.01, `mean ${m}`);
  // neighbouring channels, channels a word apart (32), and the same channel of the next token
  for (
    const [what, d] of [["lag 1", 1], ["lag 4", 4], ["lag 32", 32], ["next token", C]] as const
  ) {
    let s = 0, n = 0;
    for (let i = 0; i + d < R.length; i++) {
      if (d < C && (i % C) + d >= C) continue; // within a row
      s += R[i] * R[i + d];
      n++;
    }
    assert(Math.abs(s / n) < 0.01, `${what} correlation ${s / n}`);
  }
});

Deno.test("wasm normStats in place equals out of place; stop leaves the first bad row as it was", () => {
  const F = 13, C = 37, N = 6, eps = 1e-5;
  const xs = randn(N * C, 21, 1.5, 0.3);
  for (const [rms, affine] of [[false, false], [false, true], [true, false], [true, true]]) {
    const w = affine ? f32(randn(C, 22, 0.2, 1)) : null,
      b = affine && !rms ? f32(randn(C, 23)) : null;
    const x = f32(xs), y = arena.alloc(N * C), st = arena.allocF64(N * F);
    assertEquals(k.normStats(y, x, w, b, 4, 9, N, C, eps, rms, st, F, false), N);
    const z = f32(xs), st2 = arena.allocF64(N * F);
    assertEquals(k.normStats(z, z, w, b, 4, 9, N, C, eps, rms, st2, F, false), N);
    assertEquals(z, y, `rms=${rms} affine=${affine}: outputs`);
    assertEquals(st2, st, `rms=${rms} affine=${affine}: statistics`);
    // a NaN in row 3: with stop the rows before it are done and it is left untouched
    const v = f32(xs);
    v[3 * C + 7] = NaN;
    const before = v.slice(3 * C, 4 * C);
    assertEquals(k.normStats(v, v, w, b, 4, 9, N, C, eps, rms, st2, F, true), 3);
    assertEquals(v.subarray(0, 3 * C), y.subarray(0, 3 * C));
    assertEquals(v.subarray(3 * C, 4 * C), before);
    // finite values whose sums overflow are no reason to stop
    const big = f32(Array.from({ length: N * C }, (_, i) => (i % 2 ? 3e38 : -3e38)));
    assertEquals(k.normStats(big, big, w, b, 4, 9, N, C, eps, rms, st2, F, true), N);
  }
});

Deno.test("wasm normRows: in place equals layerNormForward/rmsNormForward; stop leaves the bad row", () => {
  const C = 37, N = 5, eps = 1e-5;
  const xs = randn(N * C, 31, 2, -1);
  for (const rms of [false, true]) {
    const w = f32(randn(C, 32, 0.3, 1)), b = rms ? null : f32(randn(C, 33));
    const want = arena.alloc(N * C), m = arena.alloc(N), r = arena.alloc(N);
    if (rms) k.rmsNormForward(want, r, f32(xs), w, N, C, eps);
    else k.layerNormForward(want, m, r, f32(xs), w, b, N, C, eps);
    const z = f32(xs);
    assertEquals(k.normRows(z, m, r, z, w, b, N, C, eps, rms, true), N);
    assertEquals(z, want, `rms=${rms}`);
    const v = f32(xs);
    v[2 * C + 30] = -Infinity;
    const row = v.slice(2 * C, 3 * C);
    assertEquals(k.normRows(v, m, r, v, w, b, N, C, eps, rms, true), 2);
    assertEquals(v.subarray(2 * C, 3 * C), row);
    assertEquals(v.subarray(0, 2 * C), want.subarray(0, 2 * C));
    // without stop the row is normalized (to non-finite values) and the batch goes on
    assertEquals(k.normRows(v, m, r, v, w, b, N, C, eps, rms, false), N);
    // finite values whose float32 sums overflow are no reason to stop
    const big = f32(Array.from({ length: N * C }, (_, i) => (i % 3 ? 3e38 : -3e38)));
    assertEquals(k.normRows(big, m, r, big, w, b, N, C, eps, rms, true), N);
  }
});
