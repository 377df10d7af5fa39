// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): shared helpers and the
// constant table.
//
// Built by `deno task build:wasm` (from index.ts) into ../kernels.generated.ts; the plain
// TypeScript kernels in lib/kernels/ are the reference these must agree with. Every pointer is
// a byte offset into the imported shared memory (the arena); every shape is in elements.
// Nothing here allocates: the caller passes scratch. Statistics (row means and variances,
// column sums of gradients) are accumulated in float64 lanes so they stay exact on adversarial
// rows; the bulk arithmetic is f32x4, and matrix products use a fused multiply-add. Helpers
// meant to be inlined are static methods with @inline (a decorator TypeScript tools accept).

// Vector constants live in a table in the arena's header (bytes 64–1023), written by `init`
// when an instance starts. Written inline, V8 would rebuild each v128 constant on every loop
// iteration (the optimizer folds constants held in locals back into their uses), which made
// exp-heavy loops 3× slower.
export const CT: usize = 64;
export const C_HI = 0, C_LO = 1, C_LOG2E = 2, C_LN2HI = 3, C_LN2LO = 4;
export const C_P0 = 5, C_P1 = 6, C_P2 = 7, C_P3 = 8, C_P4 = 9, C_P5 = 10;
export const C_ONE = 11, C_BIAS = 12, C_GK = 13, C_GA = 14, C_GA3 = 15, C_INF = 16, C_CUT = 17;
export const C_TCLAMP = 18, C_TTINY = 19, C_TA1 = 20, C_TA3 = 21, C_TA5 = 22, C_TA7 = 23;
export const C_TA9 = 24, C_TA11 = 25, C_TA13 = 26, C_TB0 = 27, C_TB2 = 28, C_TB4 = 29, C_TB6 = 30;
export const C_COUNT = 31;
export const GK: f32 = 0.7978845608028654; // √(2/π), GELU's constant
export const GA: f32 = 0.044715; // GELU's cubic coefficient

/** Lane helpers, inlined. */
export class V {
  @inline
  static f32at(p: usize): f32 {
    return load<f32>(p);
  }

  @inline
  static hsum64(a: v128): f64 {
    return f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
  }

  @inline
  static hiHalf(v: v128): v128 {
    return v128.shuffle<f32>(v, v, 2, 3, 0, 1);
  }

  // a vector of the constant table
  @inline
  static K(i: i32): v128 {
    return v128.load(CT + (<usize> i << 4));
  }

  // e^x lane-wise (Cephes expf: |error| ≲ 2 ulp); NaN stays NaN, large x saturates.
  @inline
  static exp4(x0: v128): v128 {
    const x = f32x4.pmax(f32x4.pmin(x0, V.K(C_HI)), V.K(C_LO)); // one instruction each; NaN stays
    const fx = f32x4.nearest(f32x4.mul(x, V.K(C_LOG2E)));
    let r = f32x4.sub(x, f32x4.mul(fx, V.K(C_LN2HI)));
    r = f32x4.sub(r, f32x4.mul(fx, V.K(C_LN2LO)));
    let p = V.K(C_P0);
    p = f32x4.add(f32x4.mul(p, r), V.K(C_P1));
    p = f32x4.add(f32x4.mul(p, r), V.K(C_P2));
    p = f32x4.add(f32x4.mul(p, r), V.K(C_P3));
    p = f32x4.add(f32x4.mul(p, r), V.K(C_P4));
    p = f32x4.add(f32x4.mul(p, r), V.K(C_P5));
    p = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(p, r), r), r), V.K(C_ONE));
    const n = i32x4.relaxed_trunc_f32x4_s(fx); // fx is a whole number in [−126, 127]
    const pow2 = i32x4.shl(i32x4.add(n, V.K(C_BIAS)), 23);
    return f32x4.mul(p, pow2);
  }

  // tanh lane-wise: a rational approximation p(x)/q(x) on x clamped to ±7.905 (where tanh is 1
  // in float32), x itself below 4e-4 (Eigen's float tanh; ≲ 2 ulp against the float64 tanh,
  // checked in tests/dyt_test.ts); NaN stays NaN.
  @inline
  static tanh4(a: v128): v128 {
    const x = f32x4.pmax(f32x4.pmin(a, V.K(C_TCLAMP)), f32x4.neg(V.K(C_TCLAMP)));
    const x2 = f32x4.mul(x, x);
    let p = f32x4.add(f32x4.mul(x2, V.K(C_TA13)), V.K(C_TA11));
    p = f32x4.add(f32x4.mul(x2, p), V.K(C_TA9));
    p = f32x4.add(f32x4.mul(x2, p), V.K(C_TA7));
    p = f32x4.add(f32x4.mul(x2, p), V.K(C_TA5));
    p = f32x4.add(f32x4.mul(x2, p), V.K(C_TA3));
    p = f32x4.add(f32x4.mul(x2, p), V.K(C_TA1));
    p = f32x4.mul(x, p);
    let q = f32x4.add(f32x4.mul(x2, V.K(C_TB6)), V.K(C_TB4));
    q = f32x4.add(f32x4.mul(x2, q), V.K(C_TB2));
    q = f32x4.add(f32x4.mul(x2, q), V.K(C_TB0));
    return v128.bitselect(a, f32x4.div(p, q), f32x4.lt(f32x4.abs(a), V.K(C_TTINY)));
  }

  @inline
  static hmin(v: v128): f32 {
    return min(
      min(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)),
      min(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)),
    );
  }

  @inline
  static hmax(v: v128): f32 {
    return max(
      max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)),
      max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)),
    );
  }

  @inline
  static widen(acc: v128, v: v128): v128 {
    return f64x2.add(
      acc,
      f64x2.add(f64x2.promote_low_f32x4(v), f64x2.promote_low_f32x4(V.hiHalf(v))),
    );
  }
}

/** Writes the constant table (idempotent: every instance writes the same bytes). */
export function init(): void {
  setK(C_HI, 88.3762626647949);
  setK(C_LO, -86.6); // not ln(2^−126): results stay normal floats (subnormals cost ~100 cycles)
  setK(C_LOG2E, 1.44269504088896341);
  setK(C_LN2HI, 0.693359375);
  setK(C_LN2LO, -2.12194440e-4);
  setK(C_P0, 1.9875691500e-4);
  setK(C_P1, 1.3981999507e-3);
  setK(C_P2, 8.3334519073e-3);
  setK(C_P3, 4.1665795894e-2);
  setK(C_P4, 1.6666665459e-1);
  setK(C_P5, 5.0000001201e-1);
  setK(C_ONE, 1);
  v128.store(CT + (<usize> C_BIAS << 4), i32x4.splat(127));
  setK(C_GK, GK);
  setK(C_GA, GA);
  setK(C_GA3, 3 * GA);
  setK(C_INF, Infinity);
  setK(C_CUT, 86.6);
  setK(C_TCLAMP, 7.90531110763549805);
  setK(C_TTINY, 0.0004);
  setK(C_TA1, 4.89352455891786e-3);
  setK(C_TA3, 6.37261928875436e-4);
  setK(C_TA5, 1.48572235717979e-5);
  setK(C_TA7, 5.12229709037114e-8);
  setK(C_TA9, -8.60467152213735e-11);
  setK(C_TA11, 2.00018790482477e-13);
  setK(C_TA13, -2.76076847742355e-16);
  setK(C_TB0, 4.89352518554385e-3);
  setK(C_TB2, 2.268434632439e-3);
  setK(C_TB4, 1.18534705686654e-4);
  setK(C_TB6, 1.19825839466702e-6);
}

function setK(i: i32, v: f32): void {
  v128.store(CT + (<usize> i << 4), f32x4.splat(v));
}

/** Bytes from the start of the arena that the kernels use (the constant table's end). */
export function reservedBytes(): i32 {
  return <i32> CT + (C_COUNT << 4);
}

// tanh of one float
export function tanhScalar(x: f32): f32 {
  return f32x4.extract_lane(V.tanh4(f32x4.splat(x)), 0);
}

// e^x for one float
export function expScalar(x: f32): f32 {
  return f32x4.extract_lane(V.exp4(f32x4.splat(x)), 0);
}
