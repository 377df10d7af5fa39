// The kernel contract, as a table: every op of every backend (ts, wasm, and blas where OpenBLAS
// loads) against the TypeScript reference computed in float64 on the same float32 inputs, on
// random shapes — odd sizes, sizes below and past the SIMD widths and the gemm's blocks.
import { assert, assertEquals } from "./std_assert.ts";
import { f32ToString, rowTextBytes } from "../lib/kernels/format.ts";
import { createKernels, type Kernels, tsKernels } from "../lib/kernels/backend.ts";
import { Arena } from "../lib/kernels/arena.ts";
import { TOKEN_FIELDS } from "../lib/kernels/stats.ts";
import { Rng } from "../lib/model/rng.ts";
import { F32_BACKENDS } from "./golden.ts";

type Arr = Float32Array | Float64Array;

/** The same inputs for the backend (float32 in its memory) and the reference (float64). */
class Pair {
  constructor(readonly k: Kernels, readonly rng: Rng) {}
  /** a random input: N(0, std²) around `mean` (rounded to float32 for both) */
  input(n: number, std = 1, mean = 0): [Float32Array, Float64Array] {
    const a = this.k.alloc(n);
    for (let i = 0; i < n; i++) a[i] = mean + std * this.rng.normal();
    return [a, Float64Array.from(a)];
  }
  /** zeroed outputs */
  zeros(n: number): [Float32Array, Float64Array] {
    return [this.k.alloc(n), new Float64Array(n)];
  }
}

/** max |a − r| ≤ tol · max(1, max |r|) over the first n (NaN where the reference has NaN). */
function close(a: Arr, r: Arr, tol: number, what: string) {
  let scale = 1, worst = 0;
  for (let i = 0; i < r.length; i++) if (Math.abs(r[i]) > scale) scale = Math.abs(r[i]);
  for (let i = 0; i < r.length; i++) {
    if (Number.isNaN(r[i])) {
      assert(Number.isNaN(a[i]), `${what}[${i}]: ${a[i]}, reference NaN`);
      continue;
    }
    worst = Math.max(worst, Math.abs(a[i] - r[i]));
  }
  assert(worst <= tol * scale, `${what}: max error ${worst} > ${tol} × ${scale}`);
}

/** One op: runs on (k, f32 arrays) and (tsKernels, f64 arrays), returns outputs to compare. */
type Op = {
  name: string;
  tol: number;
  run(p: Pair, shape: { N: number; C: number; T: number; H: number }): [Arr[], Arr[]];
};

const OPS: Op[] = [
  {
    name: "layerNorm forward and backward",
    tol: 2e-5,
    run(p, { N, C }) {
      const [x, X] = p.input(N * C, 2, 3), [w, W] = p.input(C, 0.5, 1), [b, B] = p.input(C);
      const [dy, DY] = p.input(N * C);
      const [y, Y] = p.zeros(N * C), [m, M] = p.zeros(N), [r, R] = p.zeros(N);
      const [dx, DX] = p.zeros(N * C), [dw, DW] = p.zeros(C), [db, DB] = p.zeros(C);
      p.k.layerNormForward(y, m, r, x, w, b, N, C, 1e-5);
      tsKernels.layerNormForward(Y, M, R, X, W, B, N, C, 1e-5);
      p.k.layerNormBackward(dx, dw, db, dy, x, w, m, r, N, C);
      tsKernels.layerNormBackward(DX, DW, DB, DY, X, W, M, R, N, C);
      return [[y, m, r, dx, dw, db], [Y, M, R, DX, DW, DB]];
    },
  },
  {
    name: "rmsNorm forward and backward",
    tol: 2e-5,
    run(p, { N, C }) {
      const [x, X] = p.input(N * C, 2), [w, W] = p.input(C, 0.5, 1), [dy, DY] = p.input(N * C);
      const [y, Y] = p.zeros(N * C), [r, R] = p.zeros(N);
      const [dx, DX] = p.zeros(N * C), [dw, DW] = p.zeros(C);
      p.k.rmsNormForward(y, r, x, w, N, C);
      tsKernels.rmsNormForward(Y, R, X, W, N, C);
      p.k.rmsNormBackward(dx, dw, dy, x, w, r, N, C);
      tsKernels.rmsNormBackward(DX, DW, DY, X, W, R, N, C);
      return [[y, r, dx, dw], [Y, R, DX, DW]];
    },
  },
  {
    name: "dyt forward and backward",
    tol: 2e-5,
    run(p, { N, C }) {
      const [x, X] = p.input(N * C, 3), [w, W] = p.input(C, 0.5, 1), [b, B] = p.input(C);
      const [a, A] = p.input(1, 0.2, 0.6), [dy, DY] = p.input(N * C);
      const [y, Y] = p.zeros(N * C), [dx, DX] = p.zeros(N * C), [da, DA] = p.zeros(1);
      const [dw, DW] = p.zeros(C), [db, DB] = p.zeros(C);
      p.k.dytForward(y, x, a, w, b, N, C);
      tsKernels.dytForward(Y, X, A, W, B, N, C);
      p.k.dytBackward(dx, da, dw, db, dy, x, a, w, N, C);
      tsKernels.dytBackward(DX, DA, DW, DB, DY, X, A, W, N, C);
      // and without weight and bias
      const [y2, Y2] = p.zeros(N * C), [dx2, DX2] = p.zeros(N * C);
      p.k.dytForward(y2, x, a, null, null, N, C);
      tsKernels.dytForward(Y2, X, A, null, null, N, C);
      p.k.dytBackward(dx2, null, null, null, dy, x, a, null, N, C);
      tsKernels.dytBackward(DX2, null, null, null, DY, X, A, null, N, C);
      return [[y, dx, da, dw, db, y2, dx2], [Y, DX, DA, DW, DB, Y2, DX2]];
    },
  },
  {
    name: "qkNorm forward and backward",
    tol: 2e-5,
    run(p, { N, C, H }) {
      const hC = H * Math.max(1, C % 7), n = N * 3 * hC;
      const [x, X] = p.input(n, 2, 0.5), [dy, DY] = p.input(n);
      const [y, Y] = p.zeros(n), [r, R] = p.zeros(N * 2 * H), [dx, DX] = p.zeros(n);
      p.k.qkNormForward(y, r, x, N, hC, H, 1e-5);
      tsKernels.qkNormForward(Y, R, X, N, hC, H, 1e-5);
      p.k.qkNormBackward(dx, dy, x, r, N, hC, H);
      tsKernels.qkNormBackward(DX, DY, X, R, N, hC, H);
      return [[y, r, dx], [Y, R, DX]];
    },
  },
  {
    name: "scaleAdd and scale",
    tol: 1e-6,
    run(p, { N, C }) {
      const n = N * C, [a, A] = p.input(n), [b, B] = p.input(n);
      const [s, S] = p.zeros(n), [t, T] = p.zeros(n);
      p.k.scaleAdd(s, a, 1.6817928305074292, b, n);
      tsKernels.scaleAdd(S, A, 1.6817928305074292, B, n);
      p.k.scale(t, a, 0.40824829046386296, n);
      tsKernels.scale(T, A, 0.40824829046386296, n);
      return [[s, t], [S, T]];
    },
  },
  {
    name: "batchNorm forward and backward",
    tol: 2e-5,
    run(p, { N, C }) {
      const [x, X] = p.input(N * C, 2, 1), [w, W] = p.input(C, 0.5, 1), [b, B] = p.input(C);
      const [dy, DY] = p.input(N * C);
      const [y, Y] = p.zeros(N * C), [m, M] = p.zeros(C), [r, R] = p.zeros(C);
      const [dx, DX] = p.zeros(N * C), [dw, DW] = p.zeros(C), [db, DB] = p.zeros(C);
      p.k.batchNormForward(y, m, r, x, w, b, N, C);
      tsKernels.batchNormForward(Y, M, R, X, W, B, N, C);
      p.k.batchNormBackward(dx, dw, db, dy, x, w, m, r, N, C);
      tsKernels.batchNormBackward(DX, DW, DB, DY, X, W, M, R, N, C);
      return [[y, dx, dw, db], [Y, DX, DW, DB]];
    },
  },
  {
    name: "gelu forward and backward",
    tol: 1e-5,
    run(p, { N, C }) {
      const n = N * C, [x, X] = p.input(n, 3), [dy, DY] = p.input(n);
      const [y, Y] = p.zeros(n), [dx, DX] = p.zeros(n);
      p.k.geluForward(y, x, n);
      tsKernels.geluForward(Y, X, n);
      p.k.geluBackward(dx, x, dy, n);
      tsKernels.geluBackward(DX, X, DY, n);
      return [[y, dx], [Y, DX]];
    },
  },
  {
    name: "matmul forward and backward",
    tol: 1e-5,
    run(p, { N, C, T }) {
      const [x, X] = p.input(N * C), [w, W] = p.input(C * T, 0.1), [b, B] = p.input(T);
      const [dy, DY] = p.input(N * T);
      const [y, Y] = p.zeros(N * T), [dx, DX] = p.zeros(N * C);
      const [dw, DW] = p.zeros(C * T), [db, DB] = p.zeros(T);
      p.k.matmulForward(y, x, w, b, N, C, T);
      tsKernels.matmulForward(Y, X, W, B, N, C, T);
      p.k.matmulBackward(dx, dw, db, dy, x, w, N, C, T);
      tsKernels.matmulBackward(DX, DW, DB, DY, X, W, N, C, T);
      return [[y, dx, dw, db], [Y, DX, DW, DB]];
    },
  },
  {
    name: "softmax forward and backward",
    tol: 1e-5,
    run(p, { N, C }) {
      const len = Math.max(1, C - 1);
      const [x, X] = p.input(N * C, 3), [dy, DY] = p.input(N * C);
      const [y, Y] = p.zeros(N * C), [dx, DX] = p.zeros(N * C);
      p.k.softmaxForward(y, x, N, C, len);
      tsKernels.softmaxForward(Y, X, N, C, len);
      p.k.softmaxBackward(dx, dy, y, N, C, len);
      tsKernels.softmaxBackward(DX, DY, Y, N, C, len);
      return [[y, dx], [Y, DX]];
    },
  },
  {
    name: "attention forward and backward (causal and not)",
    tol: 2e-5,
    run(p, { N, C, T, H }) {
      const B = Math.max(1, N % 3), hC = H * Math.max(1, C % 5);
      const outs: Arr[] = [], refs: Arr[] = [];
      for (const causal of [true, false]) {
        const [qkv, QKV] = p.input(B * T * 3 * hC), [dy, DY] = p.input(B * T * hC);
        const [y, Y] = p.zeros(B * T * hC), [att, ATT] = p.zeros(B * H * T * T);
        const [dq, DQ] = p.zeros(B * T * 3 * hC);
        p.k.attentionForward(y, att, qkv, B, T, hC, H, causal);
        tsKernels.attentionForward(Y, ATT, QKV, B, T, hC, H, causal);
        p.k.attentionBackward(dq, dy, qkv, att, B, T, hC, H, causal);
        tsKernels.attentionBackward(DQ, DY, QKV, ATT, B, T, hC, H, causal);
        outs.push(y, att, dq);
        refs.push(Y, ATT, DQ);
      }
      return [outs, refs];
    },
  },
  {
    name: "adamw",
    tol: 1e-6,
    run(p, { N, C }) {
      const n = N * C, [g, G] = p.input(n), [w, W] = p.input(n, 0.02);
      const [m, M] = p.input(n, 0.01), [v, V] = p.input(n, 0.01);
      for (let i = 0; i < n; i++) v[i] = V[i] = Math.fround(Math.abs(V[i]));
      const o = { lr: 3e-3, t: 7, weightDecay: 0.1, gradScale: 0.5 };
      p.k.adamw(w, g, m, v, n, o);
      tsKernels.adamw(W, G, M, V, n, o);
      return [[w, m, v], [W, M, V]];
    },
  },
  {
    name: "add, sumSq, maxAbs",
    tol: 1e-6,
    run(p, { N, C }) {
      const n = N * C, [a, A] = p.input(n), [b, B] = p.input(n), [s, S] = p.zeros(n);
      p.k.add(s, a, b, n);
      tsKernels.add(S, A, B, n);
      const mine = Float64Array.of(p.k.sumSq(a, n), p.k.maxAbs(a, n));
      const ref = Float64Array.of(tsKernels.sumSq(A, n), tsKernels.maxAbs(A, n));
      return [[s, mine], [S, ref]];
    },
  },
  {
    name: "probeFill, rowStats, gradStats",
    tol: 1e-6,
    run(p, { N, C }) {
      const [x, X] = p.input(N * C, 3, 5), [dx, DX] = p.input(N * C);
      const [r, R] = p.zeros(N * C);
      p.k.probeFill(r, 11, 2 ** 40 + 3, N, C);
      tsKernels.probeFill(R, 11, 2 ** 40 + 3, N, C);
      const st = p.k.allocF64(N * TOKEN_FIELDS), ST = new Float64Array(N * TOKEN_FIELDS);
      p.k.rowStats(st, x, N, C, TOKEN_FIELDS, 0);
      tsKernels.rowStats(ST, X, N, C, TOKEN_FIELDS, 0);
      p.k.gradStats(st, x, r, dx, N, C, TOKEN_FIELDS, 8, 0.5);
      tsKernels.gradStats(ST, X, R, DX, N, C, TOKEN_FIELDS, 8, 0.5);
      return [[r, st], [R, ST]];
    },
  },
  {
    name: "normRows and normStats (LayerNorm and RMSNorm, affine or not), batchSums",
    tol: 2e-5,
    run(p, { N, C }) {
      const outs: Arr[] = [], refs: Arr[] = [];
      for (const rms of [false, true]) {
        for (const affine of [false, true]) {
          const [x, X] = p.input(N * C, 2, 1), [w, W] = p.input(C, 0.3, 1), [b, B] = p.input(C);
          const [ww, bb] = affine ? [w, rms ? null : b] : [null, null];
          const [WW, BB] = affine ? [W, rms ? null : B] : [null, null];
          const [y, Y] = p.zeros(N * C), [m, M] = p.zeros(N), [r, R] = p.zeros(N);
          p.k.normRows(y, m, r, x, ww, bb, N, C, 1e-5, rms, true);
          tsKernels.normRows(Y, M, R, X, WW, BB, N, C, 1e-5, rms, true);
          const st = p.k.allocF64(N * TOKEN_FIELDS), ST = new Float64Array(N * TOKEN_FIELDS);
          const [z, Z] = p.zeros(N * C);
          p.k.normStats(z, x, ww, bb, 5, 77, N, C, 1e-5, rms, st, TOKEN_FIELDS, true);
          tsKernels.normStats(Z, X, WW, BB, 5, 77, N, C, 1e-5, rms, ST, TOKEN_FIELDS, true);
          const sums = (k: Kernels, s: Float64Array) => {
            const b = k.batchSums(s, N, C, TOKEN_FIELDS);
            const t = (l: number[]) => l.reduce((a, v) => a + v, 0);
            return Float64Array.of(
              b.inp.tokens,
              t(b.inp.s),
              t(b.out.q),
              t(b.out.m2),
              t(b.dx.sq),
              b.dx.max,
              t(b.loss),
            );
          };
          outs.push(y, z, st, sums(p.k, st));
          refs.push(Y, Z, ST, sums(tsKernels, ST));
        }
      }
      return [outs, refs];
    },
  },
];

Deno.test("every op of every backend equals the TypeScript reference on random shapes", async (t) => {
  const rng = new Rng(2025);
  for (const backend of F32_BACKENDS) {
    for (const op of OPS) {
      await t.step(`${backend}: ${op.name}`, () => {
        for (let trial = 0; trial < 6; trial++) {
          // odd shapes, below and past the SIMD widths (4, 8) and the gemm's blocks (64, 256)
          const pick = (xs: number[]) => xs[Math.floor(rng.uniform() * xs.length)];
          const shape = {
            N: pick([1, 2, 3, 7, 33, 70]),
            C: pick([1, 3, 4, 8, 13, 64, 67]),
            T: pick([1, 5, 9, 17]),
            H: pick([1, 2, 3]),
          };
          const k = createKernels(backend, backend === "ts" ? null : new Arena());
          const [outs, refs] = op.run(new Pair(k, rng), shape);
          outs.forEach((o, i) =>
            close(o, refs[i], op.tol, `${op.name} ${JSON.stringify(shape)} #${i}`)
          );
        }
      });
    }
  }
});

Deno.test("formatRows writes exactly what f32ToString writes, on every backend", async (t) => {
  const rng = new Rng(7);
  const C = 97, N = 300;
  // a mix: normal values at several scales, every kind of bit pattern (NaN, ±Infinity, ±0,
  // subnormal, past 1e15 and below 1e-13 — the rows the WebAssembly printer hands back), and
  // the neighbours of powers of two and of ten (where the shortest decimal is hardest)
  const values = new Float32Array(N * C), bits = new Uint32Array(values.buffer);
  // even rows hold only what the WebAssembly printer writes itself; odd rows anything
  const inRange = (v: number) =>
    v === 0 || !Number.isFinite(v) || (Math.abs(v) >= 1e-13 && Math.abs(v) < 1e15);
  for (let i = 0; i < values.length; i++) {
    const kind = i % 5, even = Math.floor(i / C) % 2 === 0;
    do {
      if (kind === 0) values[i] = rng.normal() * 10 ** Math.floor(rng.uniform() * 8 - 4);
      else if (kind === 1) bits[i] = Math.floor(rng.uniform() * 2 ** 32);
      else if (kind === 2 || kind === 3) {
        const base = kind === 2
          ? 2 ** Math.floor(rng.uniform() * 92 - 44)
          : 10 ** Math.floor(rng.uniform() * 28 - 13);
        bits[i] = new Uint32Array(Float32Array.of(base).buffer)[0] + Math.floor(rng.uniform() * 5) -
          2;
      } else {
        const special = [0, -0, NaN, Infinity, -Infinity, 1e-13, 1e15, 0.1, 123456789];
        values[i] = special[Math.floor(rng.uniform() * special.length)];
      }
    } while (even && !inRange(values[i]));
  }
  const dec = new TextDecoder();
  let want = "";
  for (let r = 0; r < N; r++) {
    want += "[" + Array.from(values.subarray(r * C, (r + 1) * C), f32ToString).join(",") + "]\n";
  }
  for (const backend of F32_BACKENDS) {
    await t.step(backend, () => {
      const k = createKernels(backend, backend === "ts" ? null : new Arena());
      const x = k.alloc(N * C);
      x.set(values);
      const text = k.arena
        ? k.arena.allocU8(N * rowTextBytes(C))
        : new Uint8Array(N * rowTextBytes(C));
      const ends = k.arena ? k.arena.allocU32(N) : new Uint32Array(N);
      k.formatRows(text, x, N, C, ends);
      const got = dec.decode(text.subarray(0, ends[N - 1]));
      const line = (s: string, i: number) => s.split("\n")[i];
      for (let r = 0; r < N; r++) {
        assertEquals(line(got, r), line(want, r), `row ${r}`);
      }
      assertEquals(got, want);
    });
  }
});
