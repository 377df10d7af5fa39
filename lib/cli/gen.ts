/**
 * `gen`: synthetic, GPT-like token embeddings on stdout or `-o FILE` (see `genStream` in
 * lib/io/gen.ts).
 *
 * @module
 */
import { genStream } from "../io/gen.ts";
import { checkFiles, OutputClosed, OutputFile } from "../io/files.ts";
import { UsageError } from "../io/errors.ts";
import { tokenFits } from "../pipeline/pool.ts";
import { choiceFlag, intFlag, optIntFlag, seedFlag } from "./args.ts";
import { parseCommand } from "./command.ts";

/** `gen --help`. */
export const GEN_HELP =
  `Usage: deno run mod.ts gen [--tokens N] [--dim C] [--seed S] [--format F] [--seq T] [-o FILE]

Writes synthetic GPT-like token embeddings: per-token scales spread over about
a decade (log-normal), small per-token offsets, and a few outlier channels of
magnitude 10–30 with a fixed sign. Same seed, same bytes.

  --tokens N                  tokens (default: 4096)
  --dim C                     channels (default: 64; at most what normalize accepts in a
                              batch: 256 MiB per token of input, output and statistics)
  --seed S                    seed (default: 0)
  --format npy|ndjson|raw     output format (default: npy)
  --seq T                     sequences of T tokens: npy shape [N/T, T, C], one NDJSON line per sequence
  -o, --output FILE           write FILE instead of stdout (- = stdout), through a temporary
                              file renamed into place when complete (needs --allow-read and
                              --allow-write for its folder)

Examples:
  deno run mod.ts gen --tokens 100000 --dim 768 > x.npy
  deno run --allow-read=data --allow-write=data mod.ts gen --tokens 4096 --dim 64 -o data/x.npy
  deno run mod.ts gen --tokens 8 --dim 4 --format ndjson`;

/** Runs `gen`; returns the exit code. */
export async function gen(args: string[]): Promise<number> {
  const f = parseCommand(args, {
    name: "gen",
    strings: ["tokens", "dim", "seed", "format", "seq", "output"],
    alias: { o: "output" },
    help: GEN_HELP,
  });
  if (f === null) return 0;
  const dim = intFlag(f, "dim", 64);
  if (!tokenFits(dim)) {
    throw new UsageError(
      `--dim ${dim}: a token that wide passes the 256 MiB a batch may hold (normalize and run ` +
        `would refuse it)`,
    );
  }
  const stream = genStream({
    tokens: intFlag(f, "tokens", 4096, 0),
    dim,
    seed: seedFlag(f),
    format: choiceFlag(f, "format", ["npy", "ndjson", "raw"] as const, "npy"),
    seq: optIntFlag(f, "seq"),
  });
  const target = { flag: "-o", path: f.output === undefined ? "-" : String(f.output) };
  checkFiles([], [target]);
  const out = OutputFile.create(target);
  try {
    for await (const chunk of stream) await out.write(chunk);
  } catch (e) {
    if (e instanceof OutputClosed) return 0; // | head: ends quietly
    throw e;
  }
  out.commit();
  return 0;
}
