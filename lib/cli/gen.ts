/**
 * `gen`: synthetic, GPT-like token embeddings on stdout (see `genStream` in lib/io/gen.ts).
 *
 * @module
 */
import { parseArgs } from "../std/mod.ts";
import { genStream } from "../io/gen.ts";
import { choiceFlag, intFlag, optIntFlag, refuseUnknown, seedFlag } from "./args.ts";

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
