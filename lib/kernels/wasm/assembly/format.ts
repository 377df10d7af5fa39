// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly (AssemblyScript): rows of float32 as NDJSON text,
// each value the shortest decimal that reads back as the same float32 — byte for byte what
// `f32ToString` (lib/io/encode.ts) writes.
//
// f32ToString takes x.toPrecision(p) for p = 6, 7, 8 — the p-digit decimal nearest x, ties
// away from zero — and keeps the first that reads back (through a float64) as x, else p = 9;
// then JavaScript's number-to-string layout. Here the same: x·10^(8−e) is computed exactly
// (a 128-bit product), which gives every p-digit rounding at once; each candidate is read
// back by one float64 operation on exact operands (correctly rounded, as parsing is). Values
// outside [1e-13, 1e15) (and subnormals) are left to the TypeScript printer: the row's index
// is returned.

/** 5^k for 0 ≤ k ≤ 22 (exact in 52 bits). */
function pow5(k: i32): u64 {
  switch (k) {
    case 0:
      return 1;
    case 1:
      return 5;
    case 2:
      return 25;
    case 3:
      return 125;
    case 4:
      return 625;
    case 5:
      return 3125;
    case 6:
      return 15625;
    case 7:
      return 78125;
    case 8:
      return 390625;
    case 9:
      return 1953125;
    case 10:
      return 9765625;
    case 11:
      return 48828125;
    case 12:
      return 244140625;
    case 13:
      return 1220703125;
    case 14:
      return 6103515625;
    case 15:
      return 30517578125;
    case 16:
      return 152587890625;
    case 17:
      return 762939453125;
    case 18:
      return 3814697265625;
    case 19:
      return 19073486328125;
    case 20:
      return 95367431640625;
    case 21:
      return 476837158203125;
    default:
      return 2384185791015625;
  }
}

/** 10^k for 0 ≤ k ≤ 22, exact as a float64. */
function pow10(k: i32): f64 {
  switch (k) {
    case 0:
      return 1e0;
    case 1:
      return 1e1;
    case 2:
      return 1e2;
    case 3:
      return 1e3;
    case 4:
      return 1e4;
    case 5:
      return 1e5;
    case 6:
      return 1e6;
    case 7:
      return 1e7;
    case 8:
      return 1e8;
    case 9:
      return 1e9;
    case 10:
      return 1e10;
    case 11:
      return 1e11;
    case 12:
      return 1e12;
    case 13:
      return 1e13;
    case 14:
      return 1e14;
    case 15:
      return 1e15;
    case 16:
      return 1e16;
    case 17:
      return 1e17;
    case 18:
      return 1e18;
    case 19:
      return 1e19;
    case 20:
      return 1e20;
    case 21:
      return 1e21;
    default:
      return 1e22;
  }
}

/** 10^k for 0 ≤ k ≤ 9. */
function pow10u(k: i32): u64 {
  switch (k) {
    case 0:
      return 1;
    case 1:
      return 10;
    case 2:
      return 100;
    case 3:
      return 1000;
    case 4:
      return 10000;
    case 5:
      return 100000;
    case 6:
      return 1000000;
    case 7:
      return 10000000;
    case 8:
      return 100000000;
    default:
      return 1000000000;
  }
}

/** Inlined helpers. */
class Text {
  /** Writes byte c at p; returns p + 1. */
  @inline
  static put(p: usize, c: i32): usize {
    store<u8>(p, <u8> c);
    return p + 1;
  }

  /** Whether the candidate n·10^sc reads back as float32 a (one correctly rounded f64 step). */
  @inline
  static readsBack(n: u32, sc: i32, a: f64): bool {
    const back = sc >= 0 ? <f64> n * pow10(sc) : <f64> n / pow10(-sc);
    return <f32> back == <f32> a;
  }
}

function formatF32(p: usize, x: f32): usize {
  const bits = reinterpret<u32>(x);
  const neg = (bits >> 31) != 0;
  const exp = <i32> ((bits >> 23) & 0xff);
  const frac = bits & 0x7fffff;
  if (exp == 0xff) {
    if (frac != 0) return Text.put(Text.put(Text.put(p, 78), 97), 78); // NaN
    if (neg) p = Text.put(p, 45);
    // Infinity
    p = Text.put(Text.put(Text.put(Text.put(p, 73), 110), 102), 105);
    return Text.put(Text.put(Text.put(Text.put(p, 110), 105), 116), 121);
  }
  if (exp == 0 && frac == 0) return Text.put(p, 48); // ±0 → "0", as String(-0)
  const a = <f64> abs(x);
  if (!(a >= 1e-13 && a < 1e15)) return 0;
  // a = M·2^E exactly
  const M: u64 = <u64> (frac | 0x800000);
  const E = exp - 150;
  // e = ⌊log10 a⌋, from the binary exponent, corrected below
  let e = <i32> Math.floor(<f64> (exp - 127) * 0.30102999566398120);
  let I: u64 = 0, half = false;
  for (;;) {
    const K = 8 - e;
    if (K >= 0) {
      // M·5^K·2^(E+K) as a 128-bit (hi, lo) product, then shifted
      const f = pow5(K);
      const a0 = M * (f & 0xffffffff), a1 = M * (f >> 32);
      const lo = a0 + (a1 << 32);
      const hi = (a1 >> 32) + (lo < a0 ? 1 : 0);
      const t = E + K;
      if (t >= 0) {
        I = lo << <u64> t; // small: I ≈ 10^8 (no bits in hi)
        half = false;
      } else {
        const s = -t;
        if (s >= 64) {
          I = hi >> <u64> (s - 64);
          half = s == 64 ? (lo >> 63) != 0 : ((hi >> <u64> (s - 65)) & 1) != 0;
        } else {
          I = (lo >> <u64> s) | (s == 0 ? 0 : hi << <u64> (64 - s));
          half = ((lo >> <u64> (s - 1)) & 1) != 0;
        }
      }
    } else {
      // a ≥ 10^9 > 2^24, so E ≥ 0 and a is a whole number
      const A = M << <u64> E, D = pow10u(-K);
      I = A / D;
      half = (A % D) * 2 >= D;
    }
    if (I >= 1000000000) e++;
    else if (I < 100000000) e--;
    else break;
  }
  // the p-digit roundings (ties away from zero; 10^p is 10^(p−1) one decade up); the first of
  // p = 6, 7, 8 that reads back, else p = 9. A candidate closer to x that does not read back
  // means no farther one does (the values that read back as x form an interval around it,
  // symmetric but for powers of two): so try 8 first, then 7, then 6, except at powers of two.
  const I32 = <u32> I;
  let n = I32 + (half ? 1 : 0), ep = e;
  const n8 = (I32 + 5) / 10, n7 = (I32 + 50) / 100, n6 = (I32 + 500) / 1000;
  const e8 = n8 == 100000000 ? e + 1 : e, e7 = n7 == 10000000 ? e + 1 : e;
  const e6 = n6 == 1000000 ? e + 1 : e;
  const m8 = n8 == 100000000 ? 10000000 : n8, m7 = n7 == 10000000 ? 1000000 : n7;
  const m6 = n6 == 1000000 ? 100000 : n6;
  if (frac == 0) {
    // a power of two: in the order f32ToString tries
    if (Text.readsBack(m6, e6 - 5, a)) {
      n = m6 * 1000;
      ep = e6;
    } else if (Text.readsBack(m7, e7 - 6, a)) {
      n = m7 * 100;
      ep = e7;
    } else if (Text.readsBack(m8, e8 - 7, a)) {
      n = m8 * 10;
      ep = e8;
    }
  } else if (Text.readsBack(m8, e8 - 7, a)) {
    n = m8 * 10;
    ep = e8;
    if (Text.readsBack(m7, e7 - 6, a)) {
      n = m7 * 100;
      ep = e7;
      if (Text.readsBack(m6, e6 - 5, a)) {
        n = m6 * 1000;
        ep = e6;
      }
    }
  }
  if (n == 1000000000) {
    n = 100000000;
    ep = e + 1;
  }
  // the nine digits of n (the chosen p digits, scaled to nine): the first, then eight as bytes of one u64 (two 4-digit
  // halves, split into 2-digit and then 1-digit lanes by multiply-shift divisions)
  const D = n;
  const d0 = D / 100000000, R = D % 100000000;
  let X: u64 = <u64> (R / 10000) | (<u64> (R % 10000) << 32);
  const h2 = ((X * 10486) >> 20) & 0x0000007f0000007f;
  X = h2 | ((X - 100 * h2) << 16);
  const h1 = ((X * 103) >> 10) & 0x000f000f000f000f;
  X = h1 | ((X - 10 * h1) << 8);
  // k significant digits: the trailing zeros are the top bytes of X that are 0
  const k = X == 0 ? 1 : 9 - (<i32> clz(X) >> 3);
  X += 0x3030303030303030;
  const c0 = <u8> (48 + d0);
  // JavaScript's layout, with nE the exponent of value = 0.d0d1… × 10^nE
  const nE = ep + 1;
  if (neg) p = Text.put(p, 45);
  if (k <= nE) {
    // a whole number (nE ≤ 15 here): its digits, then zeros
    store<u8>(p, c0);
    store<u64>(p + 1, X);
    store<u64>(p + 9, 0x3030303030303030);
    return p + <usize> nE;
  }
  if (0 < nE) {
    // nE digits, a point, the rest (nE ≤ 8)
    store<u8>(p, c0);
    store<u64>(p + 1, X);
    store<u64>(p + 1 + <usize> nE, X >> (<u64> (nE - 1) << 3));
    store<u8>(p + <usize> nE, 46);
    return p + <usize> (k + 1);
  }
  if (-6 < nE) {
    // 0.000ddd
    store<u64>(p, 0x3030303030302e30); // "0." and zeros
    p += 2 + <usize> (-nE);
    store<u8>(p, c0);
    store<u64>(p + 1, X);
    return p + <usize> k;
  }
  // d[.ddd]e-x (here 1e-13 ≤ |x| < 1e-6)
  store<u8>(p, c0);
  if (k > 1) {
    store<u8>(p + 1, 46);
    store<u64>(p + 2, X);
    p += <usize> (k + 1);
  } else p += 1;
  const ax = 1 - nE;
  p = Text.put(Text.put(p, 101), 45);
  if (ax >= 10) p = Text.put(p, 48 + ax / 10);
  return Text.put(p, 48 + ax % 10);
}

// text: rows N×C (x) as NDJSON token lines "[x0,x1,…]\n" written from dst; ends[r] = the byte
// offset (from dst) where row r's line ends. Returns N, or the first row holding a value left
// to the TypeScript printer (rows before it written; the caller prints it and goes on).
export function formatRows(dst: usize, x: usize, N: i32, C: i32, ends: usize, from: i32): i32 {
  let p = dst + (from > 0 ? <usize> load<u32>(ends + (<usize> (from - 1) << 2)) : 0);
  for (let r = from; r < N; r++) {
    const row = x + (<usize> r * <usize> C << 2);
    let q = Text.put(p, 91);
    for (let c = 0; c < C; c++) {
      if (c > 0) q = Text.put(q, 44);
      const end = formatF32(q, load<f32>(row + (<usize> c << 2)));
      if (end == 0) return r;
      q = end;
    }
    q = Text.put(Text.put(q, 93), 10);
    store<u32>(ends + (<usize> r << 2), <u32> (q - dst));
    p = q;
  }
  return N;
}
