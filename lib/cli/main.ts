/**
 * The lnstream command line: `deno run mod.ts <command> [options]`.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { demo } from "./demo.ts";

const HELP = `lnstream — LayerNorm and GPT-2 blocks you can watch

Usage: deno run mod.ts <command> [options]

Commands:
  demo      LayerNorm on built-in data: what it does to each token's mean and std

Options:
  -h, --help  this help
`;

/**
 * Runs the CLI with `args` and returns the process exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await main(["demo"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const flags = parseArgs(args, { boolean: ["help"], alias: { h: "help" }, stopEarly: true });
  const [cmd, ...rest] = flags._.map(String);
  if (flags.help || cmd === undefined || cmd === "help") {
    console.log(HELP);
    return cmd === undefined && !flags.help ? 64 : 0;
  }
  switch (cmd) {
    case "demo":
      return await demo(rest);
    default:
      console.error(`lnstream: unknown command '${cmd}'\n\n${HELP}`);
      return 64;
  }
}
