/**
 * Synthetic, GPT-like token embeddings — a spread of per-token scales (log-normal), small
 * per-token offsets and a few large outlier channels with a fixed sign, as seen in real
 * transformer hidden states — so LayerNorm has something to do. Deterministic from the seed.
 *
 * @module
 */
import { UsageError } from "./errors.ts";
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
  if (T > 0 && N % T !== 0) throw new UsageError(`--tokens ${N} is not a multiple of --seq ${T}`);
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
        let s = "";
        for (let i = 0; i < n; i++) {
          const row = tokenToJson(chunk, i * C, C);
          const g = t + i;
          if (T === 0) s += row + "\n";
          else s += (g % T === 0 ? "[" : ",") + row + (g % T === T - 1 ? "]\n" : "");
        }
        ctrl.enqueue(enc.encode(s));
      } else {
        ctrl.enqueue(new Uint8Array(chunk.buffer.slice(0, n * C * 4)));
      }
      t += n;
    },
  });
}
