/**
 * Flag helpers for the commands: numbers and choices checked with messages
 * that say what was expected.
 *
 * @module
 */
import { isDenied, PermissionError, UsageError } from "../io/errors.ts";

/**
 * The error for a file a command could not open: Deno's refusal → exit 77 naming
 * `--allow-<access>=<path>`, anything else → 64 with the system's message. `label` opens the
 * message (the flag and the path, or the path alone).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const e = fileError(new Deno.errors.NotCapable("no"), "--stats s.ndjson", "s.ndjson", "write");
 * assert(e.message === "--stats s.ndjson: run with --allow-write=s.ndjson");
 * ```
 */
export function fileError(
  e: unknown,
  label: string,
  path: string,
  access: "read" | "write",
): Error {
  if (isDenied(e)) return new PermissionError(`${label}: run with --allow-${access}=${path}`);
  return new UsageError(`${label}: ${(e as Error).message}`);
}

/**
 * Opens `path` for writing (created, or truncated), failing as `fileError` says.
 *
 * @example
 * ```ts ignore
 * const file = createFile("out.npy", "--output out.npy");
 * ```
 */
export function createFile(path: string, label = path): Deno.FsFile {
  try {
    return Deno.openSync(path, { write: true, create: true, truncate: true });
  } catch (e) {
    throw fileError(e, label, path, "write");
  }
}

/**
 * A whole number flag ≥ `min`, or `fallback` when absent.
 *
 * @example
 * ```ts
 * import { assert, assertThrows } from "@std/assert";
 * assert(intFlag({ n: "4" }, "n", 1) === 4);
 * assertThrows(() => intFlag({ n: "x" }, "n", 1));
 * ```
 */
export function intFlag(
  f: Record<string, unknown>,
  name: string,
  fallback: number | undefined,
  min = 1,
): number {
  const v = f[name];
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || String(v).trim() === "") {
    throw new UsageError(`--${name} must be a whole number ≥ ${min}, got '${v}'`);
  }
  return n;
}

/**
 * An optional whole number flag.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(optIntFlag({}, "dim") === undefined && optIntFlag({ dim: "8" }, "dim") === 8);
 * ```
 */
export function optIntFlag(f: Record<string, unknown>, name: string, min = 1): number | undefined {
  return f[name] === undefined ? undefined : intFlag(f, name, undefined, min);
}

/**
 * A positive real flag.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(numFlag({ eps: "1e-6" }, "eps", 1e-5) === 1e-6);
 * ```
 */
export function numFlag(f: Record<string, unknown>, name: string, fallback: number): number {
  const v = f[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || String(v).trim() === "") {
    throw new UsageError(`--${name} must be a positive number, got '${v}'`);
  }
  return n;
}

/**
 * A flag that takes one of `choices`.
 *
 * @example
 * ```ts
 * import { assert, assertThrows } from "@std/assert";
 * assert(choiceFlag({ norm: "rms" }, "norm", ["layer", "rms"], "layer") === "rms");
 * assertThrows(() => choiceFlag({ norm: "x" }, "norm", ["layer", "rms"], "layer"));
 * ```
 */
export function choiceFlag<T extends string>(
  f: Record<string, unknown>,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const v = f[name];
  if (v === undefined) return fallback;
  if (!choices.includes(v as T)) {
    throw new UsageError(`--${name} must be one of ${choices.join(", ")}; got '${v}'`);
  }
  return v as T;
}

/**
 * A seed flag: any whole number (default 0).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(seedFlag({ seed: "7" }) === 7 && seedFlag({}) === 0);
 * ```
 */
export function seedFlag(f: Record<string, unknown>): number {
  return intFlag(f, "seed", 0, 0);
}

/**
 * Refuses flags the command does not know (parseArgs `unknown` hook).
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * assertThrows(() => refuseUnknown("normalize")("--nrom"));
 * ```
 */
export function refuseUnknown(cmd: string): (arg: string) => boolean {
  return (arg: string) => {
    if (arg.startsWith("-")) {
      throw new UsageError(`unknown option ${arg} (see: lnstream ${cmd} --help)`);
    }
    return true;
  };
}

/**
 * Joins `--name -` into `--name=-` for the given options: parseArgs would
 * otherwise read a lone `-` (stdin/stderr by convention) as an argument.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * assertEquals(dashValues(["--stats", "-", "-q"], ["stats"]), ["--stats=-", "-q"]);
 * ```
 */
export function dashValues(args: string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i + 1] === "-" && names.some((n) => args[i] === `--${n}`)) {
      out.push(`${args[i]}=-`);
      i++;
    } else out.push(args[i]);
  }
  return out;
}
