/**
 * How every command reads its arguments, one rule for all: a flag that takes a value takes the
 * next argument whatever it looks like (`--eps -1e-5`, `--stats -`), or its `=` form; an
 * unknown flag is an error with a did-you-mean; a flag given twice must repeat its value (two
 * different values are an error, not a silent "last wins"); extra positional arguments are
 * errors; `--help` prints the command's help ending with the exit-code table, `--version`
 * (`-V`) prints `lnstream <version>`. The parsed flags come from `@std/cli`'s `parseArgs`.
 *
 * @module
 */
import { type Args, levenshteinDistance, parseArgs } from "../std/mod.ts";
import { EXIT_CODES, UsageError } from "../io/errors.ts";
import { printOut } from "../io/files.ts";
import { VERSION } from "../version.ts";

/** What a command accepts. */
export interface CommandSpec {
  /** the command's name, as typed (`normalize`, `stats merge`) */
  name: string;
  /** flags that take a value */
  strings?: readonly string[];
  /** flags without a value */
  booleans?: readonly string[];
  /** one-letter names: `{ o: "output" }` (`-h` is `--help` and `-V` `--version` for all) */
  alias?: Record<string, string>;
  /** the most positional arguments (default 0) */
  positionals?: number;
  /** the command's `--help` text; the exit-code table is added at its end */
  help: string;
}

/**
 * The exit-code table every `--help` ends with.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(exitCodeTable().startsWith("Exit codes:") && exitCodeTable().includes("  74  "));
 * ```
 */
export function exitCodeTable(): string {
  return `Exit codes:\n${EXIT_CODES.map(([c, w]) => `  ${String(c).padEnd(4)}${w}`).join("\n")}`;
}

/**
 * The closest of `known` to `typed` when it is close enough to be a slip (else null).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(didYouMean("nrom", ["norm", "eps"]) === "norm" && didYouMean("zzzz", ["norm"]) === null);
 * ```
 */
export function didYouMean(typed: string, known: readonly string[]): string | null {
  let best: string | null = null, dist = Infinity;
  for (const k of known) {
    const d = levenshteinDistance(typed, k);
    if (d < dist) [best, dist] = [k, d];
  }
  return best !== null && dist <= Math.max(2, Math.floor(best.length / 3)) ? best : null;
}

/**
 * Parses a command's arguments by the module's rules. Returns null when `--help` or
 * `--version` was printed (exit 0); throws a `UsageError` (exit 64) for anything wrong.
 *
 * @example
 * ```ts
 * import { assert, assertThrows } from "@std/assert";
 * const spec = { name: "normalize", strings: ["eps", "stats"], booleans: ["quiet"], positionals: 1, help: "" };
 * const f = parseCommand(["--eps", "-1e-5", "--stats", "-", "x.npy"], spec)!;
 * assert(f.eps === "-1e-5" && f.stats === "-" && f._[0] === "x.npy" && f.quiet === false);
 * assertThrows(() => parseCommand(["--esp", "1"], spec), Error, "did you mean --eps");
 * assertThrows(() => parseCommand(["--eps", "1", "--eps", "2"], spec), Error, "twice");
 * assertThrows(() => parseCommand(["a", "b"], spec), Error, "unexpected argument 'b'");
 * ```
 */
export function parseCommand(args: readonly string[], spec: CommandSpec): Args | null {
  const strings = new Set(spec.strings ?? []);
  const booleans = new Set([...(spec.booleans ?? []), "help", "version"]);
  const alias: Record<string, string> = { h: "help", V: "version", ...spec.alias };
  const see = `see: lnstream ${spec.name} --help`;
  const given = new Map<string, string>();
  const joined: string[] = [];
  const positional: string[] = [];
  const set = (name: string, value: string) => {
    const before = given.get(name);
    if (before !== undefined && before !== value) {
      throw new UsageError(
        `--${name} is given twice ('${before}', then '${value}'): give it once`,
      );
    }
    given.set(name, value);
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (a === "-" || !a.startsWith("-")) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const raw = a.startsWith("--")
      ? a.slice(2, eq < 0 ? undefined : eq)
      : a.slice(1, eq < 0 ? undefined : eq);
    const name = a.startsWith("--") ? raw : alias[raw];
    if (name === undefined || (!strings.has(name) && !booleans.has(name))) {
      const known = [...strings, ...booleans];
      const guess = a.startsWith("--") ? didYouMean(raw, known) : null;
      throw new UsageError(
        `unknown option ${a.slice(0, eq < 0 ? undefined : eq)}` +
          (guess ? ` (did you mean --${guess}?)` : "") + `; ${see}`,
      );
    }
    if (strings.has(name)) {
      let value: string;
      if (eq >= 0) value = a.slice(eq + 1);
      else if (i + 1 < args.length) value = args[++i];
      else throw new UsageError(`${a} needs a value; ${see}`);
      set(name, value);
      joined.push(`--${name}=${value}`);
    } else {
      const value = eq < 0 ? "true" : a.slice(eq + 1);
      if (value !== "true" && value !== "false") {
        throw new UsageError(`${a.slice(0, eq)} takes no value (it is on or off); ${see}`);
      }
      set(name, value);
      joined.push(`--${name}=${value}`);
    }
  }
  if (given.get("help") === "true") {
    printOut(`${spec.help}\n\n${exitCodeTable()}`);
    return null;
  }
  if (given.get("version") === "true") {
    printOut(`lnstream ${VERSION}`);
    return null;
  }
  const max = spec.positionals ?? 0;
  if (positional.length > max) {
    throw new UsageError(
      `unexpected argument '${positional[max]}'` +
        (max === 0 ? ` (${spec.name} takes options only)` : "") + `; ${see}`,
    );
  }
  // every flag is in its `--name=value` form: parseArgs reads nothing ambiguous
  return parseArgs([...joined, "--", ...positional], {
    string: [...strings],
    boolean: [...booleans],
  });
}
