/**
 * `gen`: synthetic, GPT-like token embeddings — a spread of per-token scales
 * (log-normal), small per-token offsets and a few large outlier channels with
 * a fixed sign, as seen in real transformer hidden states — so LayerNorm has
 * something to do. Deterministic from `--seed`.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { UsageError } from "../io/errors.ts";
import { npyHeader } from "../io/npy.ts";
import { tokenToJson } from "../io/encode.ts";
import type { Format } from "../io/batch.ts";
import { Rng } from "../model/rng.ts";
import { choiceFlag, intFlag, optIntFlag, refuseUnknown, seedFlag } from "./args.ts";

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

/** `gen --help`. */
export const GEN_HELP =
  `Usage: deno run mod.ts gen [--tokens N] [--dim C] [--seed S] [--format F] [--seq T] > out

Writes synthetic GPT-like token embeddings: per-token scales spread over about
a decade (log-normal), small per-token offsets, and a few outlier channels of
magnitude 10–30 with a fixed sign. Same seed, same bytes.

  --tokens N                  tokens (default: 4096)
  --dim C                     channels (default: 64)
  --seed S                    seed (default: 0)
  --format npy|ndjson|raw     output format (default: npy)
  --seq T                     sequences of T tokens: npy shape [N/T, T, C], one NDJSON line per sequence

Examples:
  deno run mod.ts gen --tokens 100000 --dim 768 > x.npy
  deno run mod.ts gen --tokens 8 --dim 4 --format ndjson`;

/** Runs `gen`; returns the exit code. */
export async function gen(args: string[]): Promise<number> {
  const f = parseArgs(args, {
    string: ["tokens", "dim", "seed", "format", "seq"],
    boolean: ["help"],
    alias: { h: "help" },
    unknown: refuseUnknown("gen"),
  });
  if (f.help) {
    console.log(GEN_HELP);
    return 0;
  }
  const stream = genStream({
    tokens: intFlag(f, "tokens", 4096, 0),
    dim: intFlag(f, "dim", 64),
    seed: seedFlag(f),
    format: choiceFlag(f, "format", ["npy", "ndjson", "raw"] as const, "npy"),
    seq: optIntFlag(f, "seq"),
  });
  try {
    for await (const chunk of stream) {
      let off = 0;
      while (off < chunk.length) off += await Deno.stdout.write(chunk.subarray(off));
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
  }
  return 0;
}
