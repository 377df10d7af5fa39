/**
 * The lnstream command line: `deno run mod.ts <command> [options]`.
 *
 * @module
 */
import { flagOf, OptionError } from "../pipeline/options.ts";
import { parseArgs } from "../std/mod.ts";
import { compare } from "./compare.ts";
import { gen } from "./gen.ts";
import { normalize } from "./normalize.ts";
import { run } from "./run.ts";
import { stats } from "./stats.ts";
import { split } from "./split.ts";
import { train } from "./train.ts";
import { EXIT_CODES, isDenied } from "../io/errors.ts";

const HELP = `lnstream — LayerNorm and GPT-2 blocks you can watch

Usage: deno run --allow-read=<lnstream dir> mod.ts <command> [options]

Commands:
  normalize   per-token LayerNorm / RMSNorm (or BatchNorm) of a token stream, with
              probe-gradient statistics
  run         a stack of GPT-2 blocks (pre-LN or post-LN) over a token stream, with
              per-layer gradient norms
  compare     pre-LN vs post-LN gradient norms by layer, depth and init (tables, JSON, SVG)
  gen         synthetic GPT-like token embeddings (npy, ndjson, raw)
  stats merge merge stats files of separate runs exactly
  split       cut a file into shards of whole tokens, each with its --offset
  train       train a character-level GPT (tiny Shakespeare built in), pre-LN or post-LN,
              on worker threads; --grid trains both with and without warm-up

Data streams in on stdin (npy, NDJSON or raw float32, sniffed) and out on stdout in
the same format; statistics go to --stats FILE (NDJSON) and a summary to stderr.
Workers are loaded from lnstream's own files: --allow-read for its directory is
the only permission stdin → stdout needs.

'deno run mod.ts <command> --help' explains each command, with examples.

Exit codes:
${EXIT_CODES.map(([c, what]) => `  ${String(c).padEnd(4)}${what}`).join("\n")}`;

/**
 * Runs the CLI with `args`; returns the process exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await main(["normalize", "--help"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const flags = parseArgs(args, { boolean: ["help"], alias: { h: "help" }, stopEarly: true });
  const [cmd, ...rest] = flags._.map(String);
  if (cmd === undefined || cmd === "help") {
    console.log(HELP);
    return cmd === undefined && !flags.help ? 64 : 0;
  }
  const commands: Record<string, (a: string[]) => Promise<number>> = {
    normalize,
    run,
    compare,
    gen,
    stats,
    split,
    train,
  };
  const fn = commands[cmd];
  if (!fn) {
    console.error(`lnstream: unknown command '${cmd}'\n\n${HELP}`);
    return 64;
  }
  try {
    return await fn(flags.help ? ["--help", ...rest] : rest);
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    if (code === 64 || code === 65 || code === 70 || code === 74 || code === 77) {
      // the library names option fields; say the flag
      const msg = e instanceof OptionError
        ? flagOf(e) + e.message.slice(e.field.length)
        : (e as Error).message;
      console.error(`lnstream ${cmd}: ${msg}`);
      return code;
    }
    if (isDenied(e)) {
      console.error(`lnstream ${cmd}: ${(e as Error).message}`);
      return 77;
    }
    console.error(`lnstream ${cmd}: internal error: ${(e as Error)?.stack ?? e}`);
    return 70;
  }
}
