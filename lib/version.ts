/**
 * lnstream's version (`deno.json`'s `version`; a test keeps the two equal).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(/^\d+\.\d+\.\d+$/.test(VERSION));
 * ```
 *
 * @module
 */

/** The version `--version` prints. */
export const VERSION = "0.4.0";
