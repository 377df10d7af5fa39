/**
 * Error kinds the command line maps to exit codes (sysexits): bad usage 64,
 * bad input data 65, an internal or worker failure 70.
 *
 * @module
 */

/**
 * Bad arguments or an impossible combination of options (exit 64).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(new UsageError("--dim is required").exitCode === 64);
 * ```
 */
export class UsageError extends Error {
  /** 64 */
  readonly exitCode = 64;
  /** A message that tells the user what to change. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
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
