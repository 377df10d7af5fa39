/**
 * Synthetic, GPT-like token embeddings — a spread of per-token scales (log-normal), small
 * per-token offsets and a few large outlier channels with a fixed sign, as seen in real
 * transformer hidden states — so LayerNorm has something to do. Deterministic from the seed.
 *
 * @module
 */
import { OptionError } from "./errors.ts";
import { npyHeader } from "./npy.ts";
import { tokenToJson } from "./encode.ts";
import type { Format } from "./batch.ts";
import { Rng } from "../model/rng.ts";

/** Options of `genStream`. */
export interface GenOptions {
  /** tokens to write */
  tokens: number;
  /** channels */
  dim: number;
  /** seed (default 0) */
  seed?: number;
  /** npy (default), ndjson or raw */
  format?: Format;
  /** group tokens in sequences of T: npy shape [N/T, T, C], NDJSON a sequence per line */
  seq?: number;
}

/**
 * A byte stream of synthetic embeddings.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const text = await new Response(genStream({ tokens: 3, dim: 4, format: "ndjson" })).text();
 * assert(text.trim().split("\n").length === 3 && JSON.parse(text.split("\n")[0]).length === 4);
 * ```
 */
export function genStream(o: GenOptions): ReadableStream<Uint8Array> {
  const { tokens: N, dim: C } = o, format = o.format ?? "npy", T = o.seq ?? 0;
  if (!Number.isInteger(N) || N < 0 || N > Number.MAX_SAFE_INTEGER) {
    throw new OptionError("tokens", `must be a whole number from 0 to 2^53 − 1, got ${N}`);
  }
  // a token's floats in float64 (the outlier channels) within the 256 MiB a batch may hold
  if (!Number.isInteger(C) || C < 1 || C * 8 > 256 * 2 ** 20) {
    throw new OptionError("dim", `must be a whole number from 1 to ${2 ** 25}, got ${C}`);
  }
  if (T > 0 && N % T !== 0) {
    throw new OptionError("tokens", `${N} is not a multiple of \`seq\` ${T}`);
  }
  const rng = new Rng(o.seed ?? 0);
  const outlier = new Float64Array(C);
  const k = Math.max(1, Math.round(C / 100));
  for (let j = 0; j < k; j++) {
    outlier[rng.int(C)] = (rng.uniform() < 0.5 ? -1 : 1) * (10 + 20 * rng.uniform());
  }
  const per = Math.max(1, Math.floor(16384 / C)); // ≤ 64 KiB of floats per chunk
  const chunk = new Float32Array(per * C);
  let t = 0, headerDone = false;
  const enc = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (!headerDone) {
        headerDone = true;
        if (format === "npy") {
          ctrl.enqueue(npyHeader(T > 0 ? [N / T, T, C] : [N, C]));
          return;
        }
      }
      if (t >= N) return ctrl.close();
      const n = Math.min(per, N - t);
      for (let i = 0; i < n; i++) {
        const scale = Math.exp(0.75 * rng.normal()), shift = 0.2 * rng.normal();
        for (let c = 0; c < C; c++) {
          chunk[i * C + c] = shift + scale * (rng.normal() + outlier[c]);
        }
      }
      if (format === "ndjson") {
        for (let i = 0; i < n; i++) {
          const g = t + i, open = T === 0 || g % T === 0 ? "" : ",";
          // a wide token's text in pieces of ≤ 16384 numbers (a string has a length limit)
          for (let c = 0; c < C; c += 16384) {
            const m = Math.min(16384, C - c);
            let s = tokenToJson(chunk, i * C + c, m).slice(1, -1);
            if (c === 0) s = `${open}${T > 0 && g % T === 0 ? "[" : ""}[` + s;
            else s = "," + s;
            if (c + m === C) {
              s += "]" + (T === 0 || g % T === T - 1 ? (T > 0 ? "]" : "") + "\n" : "");
            }
            ctrl.enqueue(enc.encode(s));
          }
        }
      } else {
        ctrl.enqueue(new Uint8Array(chunk.buffer.slice(0, n * C * 4)));
      }
      t += n;
    },
  });
}
