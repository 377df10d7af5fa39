/**
 * The lnstream command line: `deno run mod.ts <command> [options]`.
 *
 * @module
 */
import { compare } from "./compare.ts";
import { gen } from "./gen.ts";
import { normalize } from "./normalize.ts";
import { run } from "./run.ts";
import { stats } from "./stats.ts";
import { split } from "./split.ts";
import { train } from "./train.ts";
import { trace } from "./trace.ts";
import { embed } from "./embed.ts";
import { isDenied } from "../io/errors.ts";
import { OutputClosed, printOut, removeTemporaries } from "../io/files.ts";
import { VERSION } from "../version.ts";
import { flagMessage } from "./args.ts";
import { didYouMean, exitCodeTable } from "./command.ts";
import { listenForSignals } from "./signals.ts";

const USAGE = "usage: deno run --allow-read=<lnstream dir> mod.ts <command> [options]\n" +
  "commands: normalize, run, compare, gen, stats merge, split, train, trace, embed " +
  "(see: lnstream --help, lnstream <command> --help)";

const HELP = `lnstream ${VERSION} — LayerNorm and GPT-2 blocks you can watch

Usage: deno run --allow-read=<lnstream dir> mod.ts <command> [options]

Commands:
  normalize   per-token LayerNorm / RMSNorm (or BatchNorm) of a token stream, with
              probe-gradient statistics
  run         a stack of GPT-2 blocks (any placement and norm, or a real model's with
              --model) over a token stream, with per-layer gradient norms
  compare     pre-LN vs post-LN (and the zoo) gradient norms by layer, depth and init
  gen         synthetic GPT-like token embeddings (npy, ndjson, raw)
  stats merge merge stats files of separate runs exactly
  split       cut a file into shards of whole tokens, each with its --offset
  train       train a character-level GPT (tiny Shakespeare built in), pre-LN or post-LN,
              on worker threads; --grid trains both with and without warm-up
  trace       text through a real model (GPT-2 safetensors, a trained checkpoint):
              per-layer activations, LayerNorm's claims checked, gradients
  embed       text → a model's input embeddings (npy or NDJSON), for normalize and run

Data streams in on stdin (npy, NDJSON or raw float32, sniffed) and out on stdout in
the same format; statistics go to --stats FILE (NDJSON) and a summary to stderr.
Workers are loaded from lnstream's own files: --allow-read for its directory is
the only permission stdin → stdout needs. Every file lnstream writes is written to
a temporary file in its folder and renamed into place once complete (so writing
one needs --allow-read and --allow-write for its folder), and no output may be one
of the inputs.

Every option that takes a value takes the next argument (--eps -1e-5 is a value),
or --name=value; an option given twice must repeat its value.

  -h, --help      this help; 'deno run mod.ts <command> --help' explains each command
  -V, --version   lnstream's version

${exitCodeTable()}`;

const COMMANDS: Record<string, (a: string[]) => Promise<number>> = {
  normalize,
  run,
  compare,
  gen,
  stats,
  split,
  train,
  trace,
  embed,
};

/**
 * Runs the CLI with `args`; returns the process exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await main(["normalize", "--help"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd === undefined) {
    console.error(USAGE);
    return 64;
  }
  const stopListening = listenForSignals();
  try {
    if (cmd === "--help" || cmd === "-h" || cmd === "help") {
      printOut(HELP);
      return 0;
    }
    if (cmd === "--version" || cmd === "-V") {
      printOut(`lnstream ${VERSION}`);
      return 0;
    }
    const fn = COMMANDS[cmd];
    if (!fn) {
      const guess = didYouMean(cmd, Object.keys(COMMANDS));
      console.error(
        `lnstream: unknown ${cmd.startsWith("-") ? "option" : "command"} '${cmd}'` +
          (guess ? ` (did you mean '${guess}'?)` : "") + "; see: lnstream --help",
      );
      return 64;
    }
    return await fn(rest);
  } catch (e) {
    // a closed stdout (| head) ends quietly
    if (e instanceof OutputClosed) return 0;
    const code = (e as { exitCode?: number }).exitCode;
    const who = COMMANDS[cmd] ? `lnstream ${cmd}` : "lnstream";
    if (code === 64 || code === 65 || code === 70 || code === 74 || code === 77) {
      // the library names options; say the flags
      console.error(`${who}: ${flagMessage(e as Error)}`);
      return code;
    }
    if (isDenied(e)) {
      console.error(`${who}: ${(e as Error).message}`);
      return 77;
    }
    console.error(`${who}: internal error: ${(e as Error)?.stack ?? e}`);
    return 70;
  } finally {
    // a failed run leaves every file it would have written as it was
    removeTemporaries();
    stopListening();
  }
}
