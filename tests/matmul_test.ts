import { assertEquals } from "./std_assert.ts";
import { gemmNT, matmulBackward, matmulForward } from "../lib/kernels/matmul.ts";
import { assertClose, dot, numericGrad, randn } from "./golden.ts";

/** The textbook triple loop, for reference. */
function naive(
  inp: Float64Array,
  w: Float64Array,
  b: Float64Array | null,
  N: number,
  Ci: number,
  Co: number,
) {
  const out = new Float64Array(N * Co);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < Co; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < Ci; i++) s += inp[n * Ci + i] * w[i * Co + o];
      out[n * Co + o] = s;
    }
  }
  return out;
}

Deno.test("matmulForward equals the triple loop for odd shapes", () => {
  for (const [N, Ci, Co] of [[1, 1, 1], [3, 5, 7], [2, 4, 8], [5, 3, 6], [7, 9, 5]]) {
    const x = randn(N * Ci, N), w = randn(Ci * Co, Ci), b = randn(Co, Co);
    const out = new Float64Array(N * Co);
    matmulForward(out, x, w, b, N, Ci, Co);
    assertClose(out, naive(x, w, b, N, Ci, Co), 1e-15, `${N}x${Ci}x${Co}`);
    matmulForward(out, x, w, null, N, Ci, Co);
    assertClose(out, naive(x, w, null, N, Ci, Co), 1e-15, `${N}x${Ci}x${Co} no bias`);
  }
});

Deno.test("matmulForward in float32 agrees with float64 to float32 rounding", () => {
  const N = 9, Ci = 33, Co = 17;
  const x = randn(N * Ci, 1), w = randn(Ci * Co, 2), b = randn(Co, 3);
  const out = new Float32Array(N * Co);
  const x32 = Float32Array.from(x), w32 = Float32Array.from(w), b32 = Float32Array.from(b);
  matmulForward(out, x32, w32, b32, N, Ci, Co);
  const ref = naive(
    Float64Array.from(x32),
    Float64Array.from(w32),
    Float64Array.from(b32),
    N,
    Ci,
    Co,
  );
  assertEquals(Array.from(out), Array.from(ref, Math.fround)); // float64 sums, one rounding
});

Deno.test("matmulBackward equals central finite differences and accumulates", () => {
  const N = 3, Ci = 5, Co = 6;
  const x = randn(N * Ci, 7), w = randn(Ci * Co, 8), b = randn(Co, 9), R = randn(N * Co, 10);
  const out = new Float64Array(N * Co);
  const loss = () => {
    matmulForward(out, x, w, b, N, Ci, Co);
    return dot(out, R);
  };
  const dx = new Float64Array(N * Ci), dw = new Float64Array(Ci * Co), db = new Float64Array(Co);
  matmulBackward(dx, dw, db, R, x, w, N, Ci, Co);
  assertClose(dx, numericGrad(loss, x), 1e-8, "dinp");
  assertClose(dw, numericGrad(loss, w), 1e-8, "dweight");
  assertClose(db, numericGrad(loss, b), 1e-8, "dbias");
  const dw2 = Float64Array.from(dw);
  matmulBackward(null, dw2, null, R, x, w, N, Ci, Co);
  assertClose(dw2, dw.map((v) => 2 * v), 1e-15, "accumulated dweight");
});

Deno.test("gemmNT accumulates and adds bias", () => {
  const A = randn(6, 1), B = randn(6, 2), out = Float64Array.of(1, 2, 3, 4);
  gemmNT(out, A, B, 2, 2, 3, Float64Array.of(10, 20), true);
  const want = [0, 1, 2, 3].map((i) => {
    const m = i >> 1, n = i & 1;
    return (i + 1) + (n ? 20 : 10) +
      dot(A.subarray(3 * m, 3 * m + 3), B.subarray(3 * n, 3 * n + 3));
  });
  assertClose(out, want, 1e-15, "gemmNT");
});
