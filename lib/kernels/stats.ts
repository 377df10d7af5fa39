/**
 * Per-token statistics: the one layout of a token's record (`TOKEN`, `TOKEN_FIELDS`) that the
 * kernels fill and the pipeline sums, and their TypeScript references — a row's moments
 * (`rowStats`), its gradient norms (`gradStats`), and a batch's exact sums (`batchSums`). The
 * WebAssembly backend computes the same records and sums (`createKernels("wasm", arena)`).
 *
 * @module
 */
import type { Floats } from "./types.ts";

/**
 * Where each statistic sits in a token's record of `TOKEN_FIELDS` float64 numbers. `IN` and
 * `OUT` start four fields each (Σx, Σ(x − mean)², min, max of the input and output row);
 * `DY_SQ` starts five: ‖∂L/∂y‖², max |∂L/∂y|, ‖∂L/∂x‖², max |∂L/∂x|, the token's loss.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(TOKEN.OUT === 4 && TOKEN.LOSS === TOKEN_FIELDS - 1);
 * ```
 */
export const TOKEN = {
  /** input Σx, M2, min, max */
  IN: 0,
  /** output Σx, M2, min, max */
  OUT: 4,
  /** ‖∂L/∂y‖² of the token (then max|∂L/∂y|, ‖∂L/∂x‖², max|∂L/∂x|, loss) */
  DY_SQ: 8,
  /** max |∂L/∂y| */
  DY_MAX: 9,
  /** ‖∂L/∂x‖² */
  DX_SQ: 10,
  /** max |∂L/∂x| */
  DX_MAX: 11,
  /** the token's share of the loss */
  LOSS: 12,
} as const;

/** Numbers in one token's statistics record. */
export const TOKEN_FIELDS = 13;

/**
 * Per row of x [N,C]: Σx, Σ(x − mean)² (two passes), min, max into
 * `stats[n·stride + field …]` (NaN elements are skipped by min and max).
 *
 * @param stats the records (float64, N × stride)
 * @param x the rows [N,C]
 * @param N rows
 * @param C channels
 * @param stride numbers per record (`TOKEN_FIELDS`)
 * @param field the record's first field written (`TOKEN.IN` or `TOKEN.OUT`)
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const st = new Float64Array(4);
 * rowStats(st, Float32Array.of(1, 3), 1, 2, 4, 0);
 * assertEquals(Array.from(st), [4, 2, 1, 3]);
 * ```
 */
export function rowStats(
  stats: Float64Array,
  x: Floats,
  N: number,
  C: number,
  stride: number,
  field: number,
): void {
  for (let t = 0; t < N; t++) {
    const o = t * C;
    let s = 0, mn = Infinity, mx = -Infinity;
    for (let c = 0; c < C; c++) {
      const v = x[o + c];
      s += v;
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    const m = s / C;
    let m2 = 0;
    for (let c = 0; c < C; c++) {
      const d = x[o + c] - m;
      m2 += d * d;
    }
    const f = t * stride + field;
    stats[f] = s;
    stats[f + 1] = m2;
    stats[f + 2] = mn;
    stats[f + 3] = mx;
  }
}

/**
 * Per row: ‖dy‖², max|dy|, ‖dx‖², max|dx| and scale·Σ y·dy into `stats[n·stride + field …]`.
 *
 * @param stats the records (float64, N × stride)
 * @param y the outputs [N,C]
 * @param dy ∂L/∂y [N,C]
 * @param dx ∂L/∂x [N,C]
 * @param N rows
 * @param C channels
 * @param stride numbers per record
 * @param field the record's first gradient field (`TOKEN.DY_SQ`)
 * @param scale of the loss Σ y·dy (½ for the l2 loss, whose dy is y)
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const st = new Float64Array(5);
 * gradStats(st, Float32Array.of(2), Float32Array.of(-1), Float32Array.of(3), 1, 1, 5, 0);
 * assertEquals(Array.from(st), [1, 1, 9, 3, -2]);
 * ```
 */
export function gradStats(
  stats: Float64Array,
  y: Floats,
  dy: Floats,
  dx: Floats,
  N: number,
  C: number,
  stride: number,
  field: number,
  scale = 1,
): void {
  for (let t = 0; t < N; t++) {
    let sy = 0, my = 0, sx = 0, mx = 0, loss = 0;
    for (let c = t * C; c < t * C + C; c++) {
      const a = dy[c], b = dx[c];
      sy += a * a;
      sx += b * b;
      loss += y[c] * a;
      const aa = a < 0 ? -a : a, bb = b < 0 ? -b : b;
      if (aa > my) my = aa;
      if (bb > mx) mx = bb;
    }
    const f = t * stride + field;
    stats[f] = sy;
    stats[f + 1] = my;
    stats[f + 2] = sx;
    stats[f + 3] = mx;
    stats[f + 4] = scale * loss;
  }
}

/** The sums of one group of moment fields (input or output) over a batch's tokens. */
export interface MomentSums {
  /** tokens whose four fields are finite (the others are left out) */
  tokens: number;
  /** numbers whose exact sum is Σ (each token's Σx) */
  s: number[];
  /** numbers whose exact sum is Σ (each token's Σx)²/C */
  q: number[];
  /** numbers whose exact sum is Σ (each token's M2) */
  m2: number[];
  /** the smallest element (Infinity for none) */
  lo: number;
  /** the largest (−Infinity for none) */
  hi: number;
}

/** The sums of a squared norm over a batch's tokens. */
export interface SquareSums {
  /** numbers whose exact sum is Σ ‖·‖² over the tokens kept */
  sq: number[];
  /** the largest |element| */
  max: number;
}

/** One batch's statistics as exact sums: what `Moments.addSums` and `NormAcc` take. */
export interface BatchSums {
  /** the input moments */
  inp: MomentSums;
  /** the output moments */
  out: MomentSums;
  /** ‖∂L/∂y‖² */
  dy: SquareSums;
  /** ‖∂L/∂x‖² */
  dx: SquareSums;
  /** numbers whose exact sum is the batch's loss */
  loss: number[];
}

/**
 * A batch's statistics from its N tokens' records: each statistic leaves out only the tokens
 * whose own fields are not finite. The TypeScript reference gives each token's numbers as they
 * are (their exact sums are the batch's); the WebAssembly backend sums them exactly first.
 *
 * @param stats the records (float64, N × stride, the layout of `TOKEN`)
 * @param N tokens
 * @param C channels (Σx²/C is the between-token part of the variance)
 * @param stride numbers per record (`TOKEN_FIELDS`)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const ts = new Float64Array(2 * TOKEN_FIELDS);
 * ts.set([4, 2, 1, 3], TOKEN.IN); // token 0: Σx 4, M2 2, min 1, max 3 (C = 2)
 * ts[TOKEN_FIELDS + TOKEN.IN] = NaN; // token 1: not finite
 * const b = batchSums(ts, 2, 2);
 * assert(b.inp.tokens === 1 && b.inp.q[0] === 8 && b.inp.lo === 1);
 * ```
 */
export function batchSums(
  stats: Float64Array,
  N: number,
  C: number,
  stride: number = TOKEN_FIELDS,
): BatchSums {
  const fin = (f: number, k: number) => {
    for (let i = f; i < f + k; i++) if (!Number.isFinite(stats[i])) return false;
    return true;
  };
  const group = (): MomentSums => ({
    tokens: 0,
    s: [],
    q: [],
    m2: [],
    lo: Infinity,
    hi: -Infinity,
  });
  const out: BatchSums = {
    inp: group(),
    out: group(),
    dy: { sq: [], max: 0 },
    dx: { sq: [], max: 0 },
    loss: [],
  };
  const { IN, OUT, DY_SQ, DY_MAX, DX_SQ, DX_MAX, LOSS } = TOKEN;
  for (let t = 0; t < N; t++) {
    const f = t * stride;
    for (const [at, g] of [[IN, out.inp], [OUT, out.out]] as const) {
      if (!fin(f + at, 4)) continue;
      const s = stats[f + at];
      g.tokens++;
      g.s.push(s);
      g.q.push((s * s) / C);
      g.m2.push(stats[f + at + 1]);
      if (stats[f + at + 2] < g.lo) g.lo = stats[f + at + 2];
      if (stats[f + at + 3] > g.hi) g.hi = stats[f + at + 3];
    }
    for (const [at, max, n] of [[DY_SQ, DY_MAX, out.dy], [DX_SQ, DX_MAX, out.dx]] as const) {
      if (!fin(f + at, 1) || !fin(f + max, 1)) continue;
      n.sq.push(stats[f + at]);
      if (stats[f + max] > n.max) n.max = stats[f + max];
    }
    if (fin(f + LOSS, 1)) out.loss.push(stats[f + LOSS]);
  }
  return out;
}
