/**
 * The Deno std functions lnstream uses, with their types. `deno.json` maps `@std/...` to the
 * npm repackaging `deno-std`, which ships JavaScript only: imported directly, every std
 * function would be `any` and a wrong call would type-check. Re-exported here under the
 * signatures of JSR's `@std` packages, so a wrong call fails `deno check` — and when JSR is
 * reachable, swapping the import map is the only change (these declarations then just
 * restate the real types). `tests/std_test.ts` proves the types are there.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const f = parseArgs(["--n", "3", "x"], { string: ["n"] });
 * assert(f.n === "3" && f._[0] === "x");
 * ```
 *
 * @module
 */
import { parseArgs as parseArgsJs } from "@std/cli/parse-args";
// one function a module (not the packages' mod.js, whose many modules take ~20 ms to load
// at every start of the command line); the path functions of this platform's kind
import { basename as posixBasename } from "@std/path/posix/basename";
import { dirname as posixDirname } from "@std/path/posix/dirname";
import { join as posixJoin } from "@std/path/posix/join";
import { resolve as posixResolve } from "@std/path/posix/resolve";
import { basename as windowsBasename } from "@std/path/windows/basename";
import { dirname as windowsDirname } from "@std/path/windows/dirname";
import { join as windowsJoin } from "@std/path/windows/join";
import { resolve as windowsResolve } from "@std/path/windows/resolve";
import { levenshteinDistance as levenshteinJs } from "@std/text/levenshtein-distance";
import { concatReadableStreams as concatJs } from "@std/streams/concat-readable-streams";
import { TextLineStream as TextLineStreamJs } from "@std/streams/text-line-stream";

const windows = Deno.build.os === "windows";
const basenameJs = windows ? windowsBasename : posixBasename;
const dirnameJs = windows ? windowsDirname : posixDirname;
const joinJs = windows ? windowsJoin : posixJoin;
const resolveJs = windows ? windowsResolve : posixResolve;

/** Options of `parseArgs` (the subset lnstream uses). */
export interface ParseOptions {
  /** flags that take a string value */
  string?: readonly string[];
  /** flags that are booleans */
  boolean?: readonly string[];
  /** short names: `{ h: "help" }` */
  alias?: Record<string, string | readonly string[]>;
  /** stop parsing at the first non-flag argument */
  stopEarly?: boolean;
  /** called for an unknown flag; returning false drops it */
  unknown?: (arg: string, key?: string, value?: unknown) => unknown;
}

/** What `parseArgs` returns: flag values by name, and the positional arguments in `_`. */
export interface Args {
  /** positional arguments */
  _: (string | number)[];
  /** `--` and after, when asked for */
  "--"?: string[];
  /** every flag, by name */
  [flag: string]: unknown;
}

/**
 * `@std/cli`'s `parseArgs`, typed.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(parseArgs(["-h"], { boolean: ["help"], alias: { h: "help" } }).help === true);
 * ```
 */
export const parseArgs: (args: string[], options?: ParseOptions) => Args = parseArgsJs;

/**
 * `@std/streams`' `TextLineStream`: text in, one chunk per line out (`allowCR` splits on a
 * lone `\r` too).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const lines = await Array.fromAsync(ReadableStream.from(["a\nb"]).pipeThrough(new TextLineStream()));
 * assert(lines.length === 2 && lines[1] === "b");
 * ```
 */
export const TextLineStream: new (options?: { allowCR?: boolean }) => TransformStream<
  string,
  string
> = TextLineStreamJs;

/**
 * `@std/streams`' `concatReadableStreams`: the streams one after another.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const all = await Array.fromAsync(concatReadableStreams(ReadableStream.from([1]), ReadableStream.from([2])));
 * assert(all.length === 2 && all[1] === 2);
 * ```
 */
export const concatReadableStreams: <T>(...streams: ReadableStream<T>[]) => ReadableStream<T> =
  concatJs;

/**
 * `@std/path`'s `dirname`: the folder part of a path (`"."` for a bare name).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(dirname("a/b.npy") === "a" && dirname("b.npy") === ".");
 * ```
 */
export const dirname: (path: string) => string = dirnameJs;

/**
 * `@std/path`'s `basename`: the last part of a path.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(basename("a/b.npy") === "b.npy");
 * ```
 */
export const basename: (path: string, suffix?: string) => string = basenameJs;

/**
 * `@std/path`'s `join`: the parts joined and normalized.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(join("a", "../b", "c.npy") === "b/c.npy");
 * ```
 */
export const join: (...paths: string[]) => string = joinJs;

/**
 * `@std/path`'s `resolve`: an absolute, normalized path (relative parts against the current
 * folder).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(resolve("/a/b", "../c") === "/a/c");
 * ```
 */
export const resolve: (...paths: string[]) => string = resolveJs;

/**
 * `@std/text`'s `levenshteinDistance`: the edit distance of two strings.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(levenshteinDistance("nrom", "norm") === 2);
 * ```
 */
export const levenshteinDistance: (a: string, b: string) => number = levenshteinJs;
