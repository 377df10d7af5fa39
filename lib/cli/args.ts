/**
 * Flag helpers for the commands: numbers and choices checked with messages
 * that say what was expected.
 *
 * @module
 */
import { IoError, isDenied, PermissionError, UsageError } from "../io/errors.ts";
import { flagOf, OptionError } from "../pipeline/options.ts";

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
  // a folder where a file belongs is an I/O failure, as reading stdin from one is
  if (e instanceof Deno.errors.IsADirectory) return new IoError(`${label}: is a directory`);
  return new UsageError(`${label}: ${(e as Error).message}`);
}

/**
 * A flag's text as a number, read as a decimal (`1e-5`, `-3`, `.5`, `Infinity`): `Number`'s
 * other readings (`0x10`, `""`, `" 7 "`) are not numbers a person means; null then.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(decimal("1e-5") === 1e-5 && decimal("-3") === -3 && decimal("0x10") === null);
 * ```
 */
export function decimal(v: unknown): number | null {
  const s = String(v);
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?Infinity$|^NaN$/.test(s) ? Number(s) : null;
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
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = f[name];
  if (v === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const n = decimal(v);
  if (n === null || !Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`--${name} must be a whole number ${range}, got '${v}'`);
  }
  return n;
}

/**
 * A flag's number, parsed (not range-checked: the library checks its options once); a value
 * that is no decimal number is a usage error.
 *
 * @example
 * ```ts
 * import { assert, assertThrows } from "@std/assert";
 * assert(numberFlag({ lr: "3e-4" }, "lr") === 3e-4 && numberFlag({}, "lr") === undefined);
 * assertThrows(() => numberFlag({ lr: "fast" }, "lr"), Error, "--lr must be a number");
 * ```
 */
export function numberFlag(f: Record<string, unknown>, name: string): number | undefined {
  const v = f[name];
  if (v === undefined) return undefined;
  const n = decimal(v);
  if (n === null || Number.isNaN(n)) {
    throw new UsageError(`--${name} must be a number, got '${v}'`);
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
  const n = decimal(v);
  if (n === null || !Number.isFinite(n) || n <= 0) {
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

/** The largest seed: seeds are 32-bit (a larger one would repeat a smaller one's numbers). */
export const MAX_SEED = 2 ** 32 - 1;

/**
 * A seed flag: a whole number from 0 to 2^32 − 1 (default 0).
 *
 * @example
 * ```ts
 * import { assert, assertThrows } from "@std/assert";
 * assert(seedFlag({ seed: "7" }) === 7 && seedFlag({}) === 0);
 * assertThrows(() => seedFlag({ seed: "4294967296" }));
 * ```
 */
export function seedFlag(f: Record<string, unknown>, fallback = 0): number {
  return intFlag(f, "seed", fallback, 0, MAX_SEED);
}

/**
 * A library error as the command line says it: the library names options (an `OptionError`'s
 * field leads its message; other messages quote options as `` `name` `` or `` `name: value` ``),
 * the command line names flags. The one place the two vocabularies meet.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { OptionError } from "../pipeline/options.ts";
 * assert(flagMessage(new OptionError("blasLib", "is only for blas")) === "--blas-lib is only for blas");
 * assert(flagMessage(new Error("use a smaller `batch` or `backend: ts`")) === "use a smaller --batch or --backend ts");
 * ```
 */
export function flagMessage(e: Error): string {
  const msg = e instanceof OptionError ? flagOf(e) + e.message.slice(e.field.length) : e.message;
  return msg.replace(/`([a-z][A-Za-z0-9]*)(?:: ([^`]+))?`/g, (_m, name: string, value?: string) => {
    const flag = flagOf(name);
    return value === undefined ? flag : `${flag} ${value.replace(/^"(.*)"$/, "$1")}`;
  });
}
