/**
 * Error kinds the command line maps to exit codes (sysexits): bad usage 64, bad input data 65,
 * an internal or worker failure 70 (lnstream's own bugs only), an I/O failure 74, a missing
 * permission 77. `EXIT_CODES` is the table `--help` and README print.
 *
 * @module
 */

/**
 * The exit codes, in order, with what each means.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(EXIT_CODES.some(([code]) => code === 74));
 * ```
 */
export const EXIT_CODES: readonly (readonly [number, string])[] = [
  [0, "ok (a closed stdout, as with | head, ends quietly)"],
  [64, "bad usage: an option, a combination, or a size past a limit"],
  [65, "bad input data, named by line, row or byte, after every row before it is written"],
  [70, "an internal failure (a bug in lnstream: please report it)"],
  [
    74,
    "an I/O failure: an input or output could not be read or written (a directory, a full disk)",
  ],
  [77, "a permission is missing (the message says which flag to add)"],
];

/**
 * Bad arguments or an impossible combination of options (exit 64). A `RangeError`: a library
 * caller catches every bad option value as one, as from `new GPT(…)`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const e = new UsageError("--dim is required");
 * assert(e.exitCode === 64 && e instanceof RangeError);
 * ```
 */
export class UsageError extends RangeError {
  /** 64 */
  readonly exitCode = 64;
  /** A message that tells the user what to change. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * A bad option value (exit 64): `field` is the option's name in the API (`workers`,
 * `outFormat`, …); the message begins with it. (The command line says the flag instead.)
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const e = new OptionError("outFormat", "must be npy, ndjson or raw, got \"x\"");
 * assert(e.message.startsWith("outFormat ") && e.exitCode === 64 && e.field === "outFormat");
 * ```
 */
export class OptionError extends UsageError {
  /** the option's field */
  readonly field: string;
  /** `field` and what is wrong with its value */
  constructor(field: string, problem: string) {
    super(`${field} ${problem}`);
    this.name = "OptionError";
    this.field = field;
  }
}

/**
 * Malformed input data (exit 65); the message names the line, row or byte.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(new DataError("line 3: expected 4 numbers, got 5").exitCode === 65);
 * ```
 */
export class DataError extends Error {
  /** 65 */
  readonly exitCode = 65;
  /** A message naming where the data went wrong. */
  constructor(message: string) {
    super(message);
    this.name = "DataError";
  }
}

/**
 * Reading stdin or writing stdout failed for a reason other than a closed pipe (exit 74).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(new IoError("cannot write stdout: No space left on device").exitCode === 74);
 * ```
 */
export class IoError extends Error {
  /** 74 */
  readonly exitCode = 74;
  /** A message naming the stream and the system's reason. */
  constructor(message: string) {
    super(message);
    this.name = "IoError";
  }
}

/**
 * A permission lnstream needs was not granted (exit 77); the message names the flag.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(new PermissionError("run with --allow-read=DIR").exitCode === 77);
 * ```
 */
export class PermissionError extends Error {
  /** 77 */
  readonly exitCode = 77;
  /** A message naming the flag to add. */
  constructor(message: string) {
    super(message);
    this.name = "PermissionError";
  }
}

/**
 * Whether `e` is Deno's refusal of a permission (`NotCapable`, or `PermissionDenied` from the
 * system).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(isDenied(new Deno.errors.NotCapable("no")) && !isDenied(new Error("x")));
 * ```
 */
export function isDenied(e: unknown): boolean {
  return e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied;
}
