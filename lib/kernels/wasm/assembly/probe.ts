// @ts-nocheck: AssemblyScript, whose types and builtins (usize, v128, …) TypeScript does not know
// lnstream's float32 kernels in WebAssembly SIMD (AssemblyScript): the probe direction.

// the pipeline's per-token work: the probe direction and per-row statistics

/** The counter-based hash, four lanes at once, inlined. */
export class Hash {
  @inline
  static mix4(h0: v128): v128 {
    let h = v128.xor(h0, i32x4.shr_u(h0, 16));
    h = i32x4.mul(h, i32x4.splat(0x85ebca6b));
    h = v128.xor(h, i32x4.shr_u(h, 13));
    h = i32x4.mul(h, i32x4.splat(0xc2b2ae35));
    return v128.xor(h, i32x4.shr_u(h, 16));
  }
}

function mix32(h0: u32): u32 {
  let h = h0 ^ (h0 >>> 16);
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  return h ^ (h >>> 16);
}

// R [N,C] = the probe direction of global tokens first … first+N−1, bit for bit as
// lib/model/rng.ts probeRow: R_c = −1 where bit c & 31 of the hash of word j = c >> 5 is set,
// else +1 (Rademacher: mean 0, variance 1, ‖R‖² = C). keys [N] u32: each token's probeKey,
// computed by the caller.
export function probeFill(out: usize, keys: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    probeRowFill(out + ((<usize> n * <usize> C) << 2), load<u32>(keys + (<usize> n << 2)), C);
  }
}

// one row of probeFill: 32 channels per hash, four lanes' bits tested per vector
export function probeRowFill(row: usize, key: u32, C: i32): void {
  const pos = f32x4.splat(1), neg = f32x4.splat(-1), zero = i32x4.splat(0);
  const b0 = i32x4(1, 2, 4, 8);
  let c = 0;
  for (let j = 0; c + 32 <= C; j++) {
    const w = i32x4.splat(<i32> mix32(key ^ (<u32> (j + 1) * 0x9e3779b9)));
    const p = row + (<usize> c << 2);
    // lanes test bits 4v … 4v+3 of the word: a set bit makes the channel −1
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, b0), zero)));
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 4)), zero)), 16);
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 8)), zero)), 32);
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 12)), zero)), 48);
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 16)), zero)), 64);
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 20)), zero)), 80);
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 24)), zero)), 96);
    v128.store(p, v128.bitselect(neg, pos, i32x4.ne(v128.and(w, i32x4.shl(b0, 28)), zero)), 112);
    c += 32;
  }
  if (c < C) {
    const h = mix32(key ^ (<u32> ((c >> 5) + 1) * 0x9e3779b9));
    for (; c < C; c++) {
      store<f32>(row + (<usize> c << 2), (h >>> (c & 31)) & 1 ? <f32> -1 : <f32> 1);
    }
  }
}
