// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): matrix products (gemm).

import { V } from "./common.ts";

// matrix product: C (+)= alpha · A @ B (+ bias), any strides, packed panels and a 4×8 FMA tile

const MR = 4;
const NR = 8;
const KC = 256;
const MC = 64;
const NC = 512;

/** Bytes of packing scratch `gemm` needs. */
export function gemmScratchBytes(): i32 {
  return (MC * KC + KC * NC) << 2;
}

// Ap [mc/MR][kc][MR] from A(i, k) = A[i·rs + k·cs], rows past m zero
function packA(ap: usize, A: usize, rs: i32, cs: i32, m: i32, kc: i32): void {
  for (let i0 = 0; i0 < m; i0 += MR) {
    const rows = min(MR, m - i0);
    if (rows == MR && rs == 1) {
      for (let k = 0; k < kc; k++) {
        const p = A + ((<usize> i0 + <usize> k * <usize> cs) << 2);
        v128.store(ap, v128.load(p));
        ap += MR << 2;
      }
    } else if (rows == MR) {
      const r0 = A + ((<usize> i0 * <usize> rs) << 2),
        step = <usize> rs << 2,
        cstep = <usize> cs << 2;
      for (let k = 0; k < kc; k++) {
        const p = r0 + <usize> k * cstep;
        store<f32>(ap, V.f32at(p));
        store<f32>(ap, V.f32at(p + step), 4);
        store<f32>(ap, V.f32at(p + 2 * step), 8);
        store<f32>(ap, V.f32at(p + 3 * step), 12);
        ap += MR << 2;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        for (let i = 0; i < MR; i++) {
          const v: f32 = i < rows
            ? V.f32at(A + ((<usize> (i0 + i) * <usize> rs + <usize> k * <usize> cs) << 2))
            : 0;
          store<f32>(ap + (<usize> i << 2), v);
        }
        ap += MR << 2;
      }
    }
  }
}

// Bp [nc/NR][kc][NR] from B(k, j) = B[k·rs + j·cs], columns past n zero
function packB(bp: usize, B: usize, rs: i32, cs: i32, kc: i32, n: i32): void {
  for (let j0 = 0; j0 < n; j0 += NR) {
    const cols = min(NR, n - j0);
    if (cols == NR && cs == 1) {
      for (let k = 0; k < kc; k++) {
        const p = B + ((<usize> k * <usize> rs + <usize> j0) << 2);
        v128.store(bp, v128.load(p));
        v128.store(bp, v128.load(p, 16), 16);
        bp += NR << 2;
      }
    } else {
      for (let k = 0; k < kc; k++) {
        for (let j = 0; j < NR; j++) {
          const v: f32 = j < cols
            ? V.f32at(B + ((<usize> k * <usize> rs + <usize> (j0 + j) * <usize> cs) << 2))
            : 0;
          store<f32>(bp + (<usize> j << 2), v);
        }
        bp += NR << 2;
      }
    }
  }
}

/** Register-tile helpers, inlined. */
export class Tile {
  @inline
  static lane4(v: v128, j: i32): f32 {
    return j == 0
      ? f32x4.extract_lane(v, 0)
      : j == 1
      ? f32x4.extract_lane(v, 1)
      : j == 2
      ? f32x4.extract_lane(v, 2)
      : f32x4.extract_lane(v, 3);
  }

  @inline
  static tileRow(p: usize, a: v128, b: v128, al: v128, first: bool, bv0: v128, bv1: v128): void {
    if (first) {
      v128.store(p, f32x4.add(f32x4.mul(a, al), bv0));
      v128.store(p, f32x4.add(f32x4.mul(b, al), bv1), 16);
    } else {
      v128.store(p, f32x4.add(v128.load(p), f32x4.mul(a, al)));
      v128.store(p, f32x4.add(v128.load(p, 16), f32x4.mul(b, al)), 16);
    }
  }

  // one MR×NR tile over kc: C tile = alpha·acc (+ bias) when first, else C tile += alpha·acc.
  // A's four values at k are loaded as one vector and broadcast by shuffles: in this V8 that is
}

// much faster than v128.load32_splat (51 against 38 GFLOP/s for the bare loop).
function micro(
  kc: i32,
  ap: usize,
  bp: usize,
  Cp: usize,
  ldc: i32,
  m: i32,
  n: i32,
  alpha: f32,
  first: bool,
  bias: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp), b1 = v128.load(bp, 16);
    const av = v128.load(ap);
    let a = i32x4.shuffle(av, av, 0, 0, 0, 0);
    c00 = f32x4.relaxed_madd(a, b0, c00);
    c01 = f32x4.relaxed_madd(a, b1, c01);
    a = i32x4.shuffle(av, av, 1, 1, 1, 1);
    c10 = f32x4.relaxed_madd(a, b0, c10);
    c11 = f32x4.relaxed_madd(a, b1, c11);
    a = i32x4.shuffle(av, av, 2, 2, 2, 2);
    c20 = f32x4.relaxed_madd(a, b0, c20);
    c21 = f32x4.relaxed_madd(a, b1, c21);
    a = i32x4.shuffle(av, av, 3, 3, 3, 3);
    c30 = f32x4.relaxed_madd(a, b0, c30);
    c31 = f32x4.relaxed_madd(a, b1, c31);
    ap += MR << 2;
    bp += NR << 2;
  }
  const al = f32x4.splat(alpha);
  const ld = <usize> ldc << 2;
  if (m == MR && n == NR) {
    let bv0 = f32x4.splat(0), bv1 = f32x4.splat(0);
    if (first && bias) {
      bv0 = v128.load(bias);
      bv1 = v128.load(bias, 16);
    }
    Tile.tileRow(Cp, c00, c01, al, first, bv0, bv1);
    Tile.tileRow(Cp + ld, c10, c11, al, first, bv0, bv1);
    Tile.tileRow(Cp + 2 * ld, c20, c21, al, first, bv0, bv1);
    Tile.tileRow(Cp + 3 * ld, c30, c31, al, first, bv0, bv1);
    return;
  }
  // an edge tile: only the m×n corner is written
  for (let i = 0; i < m; i++) {
    const v0 = i == 0 ? c00 : i == 1 ? c10 : i == 2 ? c20 : c30;
    const v1 = i == 0 ? c01 : i == 1 ? c11 : i == 2 ? c21 : c31;
    const row = Cp + <usize> i * ld;
    for (let j = 0; j < n; j++) {
      const lane = j < 4 ? Tile.lane4(v0, j) : Tile.lane4(v1, j - 4);
      const o = row + (<usize> j << 2);
      let v = alpha * lane;
      if (first) {
        if (bias) v += V.f32at(bias + (<usize> j << 2));
      } else v += V.f32at(o);
      store<f32>(o, v);
    }
  }
}

// C[i·ldc + j] (+)= alpha · Σ_k A(i,k)·B(k,j) (+ bias[j]) for i < M, j < N.
// A(i,k) = A[i·ars + k·acs]; B(k,j) = B[k·brs + j·bcs]; bias (0 = none) only when not acc;
// scratch: gemmScratchBytes() bytes. With K = 0 and acc = 0, C = bias (or 0).
export function gemm(
  M: i32,
  N: i32,
  K: i32,
  alpha: f32,
  A: usize,
  ars: i32,
  acs: i32,
  B: usize,
  brs: i32,
  bcs: i32,
  C: usize,
  ldc: i32,
  bias: usize,
  acc: i32,
  scratch: usize,
): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (acc) return;
    for (let i = 0; i < M; i++) {
      const row = C + ((<usize> i * <usize> ldc) << 2);
      if (bias) memory.copy(row, bias, <usize> N << 2);
      else memory.fill(row, 0, <usize> N << 2);
    }
    return;
  }
  const ap = scratch, bp = scratch + ((MC * KC) << 2);
  for (let jc = 0; jc < N; jc += NC) {
    const nc = min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      const first = pc == 0 && !acc;
      packB(bp, B + ((<usize> pc * <usize> brs + <usize> jc * <usize> bcs) << 2), brs, bcs, kc, nc);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = min(MC, M - ic);
        packA(
          ap,
          A + ((<usize> ic * <usize> ars + <usize> pc * <usize> acs) << 2),
          ars,
          acs,
          mc,
          kc,
        );
        for (let jr = 0; jr < nc; jr += NR) {
          const bpj = bp + ((<usize> jr * <usize> kc) << 2);
          const biasj = bias ? bias + ((<usize> (jc + jr)) << 2) : 0;
          for (let ir = 0; ir < mc; ir += MR) {
            micro(
              kc,
              ap + ((<usize> ir * <usize> kc) << 2),
              bpj,
              C + ((<usize> (ic + ir) * <usize> ldc + <usize> (jc + jr)) << 2),
              ldc,
              min(MR, mc - ir),
              min(NR, nc - jr),
              alpha,
              first,
              biasj,
            );
          }
        }
      }
    }
  }
}
