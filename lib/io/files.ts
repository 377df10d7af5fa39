/**
 * The one way lnstream writes files. A regular file is written to a temporary file in its own
 * folder, flushed, and renamed over the target only once complete: a failed, interrupted or
 * killed run leaves what was there before (and, but for `kill -9`, no temporary behind). `-`,
 * `/dev/stdout` and `/dev/stderr` are the process's own streams; other devices and FIFOs are
 * written in place. Before anything is opened for writing, `checkFiles` refuses an output that
 * is the same file as an input or as another output (by path, `..`, symlink or hard link) and
 * one whose folder is missing or not writable.
 *
 * @module
 */
import { basename, dirname, join, resolve } from "../std/mod.ts";
import { IoError, isDenied, PermissionError, UsageError } from "./errors.ts";

/** A file a command reads or writes, and the flag that named it (`-o`, `--stats`, `FILE`). */
export interface FileArg {
  /** how the user named it: a flag (`--stats`) or `FILE` for a positional argument */
  flag: string;
  /** the path as given; `-` is stdin (inputs) or stdout (outputs) */
  path: string;
}

/** Paths that mean the process's own output streams (no permission needed, never renamed). */
const STREAMS: Record<string, "stdout" | "stderr"> = {
  "-": "stdout",
  "/dev/stdout": "stdout",
  "/dev/fd/1": "stdout",
  "/proc/self/fd/1": "stdout",
  "/dev/stderr": "stderr",
  "/dev/fd/2": "stderr",
  "/proc/self/fd/2": "stderr",
};
const STDIN_PATHS = new Set(["-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"]);

/** A closed pipe on an output (`| head`): the command ends quietly. */
export class OutputClosed extends Error {
  /** `what` names the output */
  constructor(what: string) {
    super(`${what} was closed`);
    this.name = "OutputClosed";
  }
}

/** What a path is, as far as this process may know. */
type Kind =
  | { kind: "stream"; stream: "stdout" | "stderr" }
  | { kind: "device" } // a device or FIFO: written in place
  | { kind: "file"; real: string }; // a regular file (or none yet): temporary + rename

const statOf = (path: string): Deno.FileInfo | null => {
  try {
    return Deno.statSync(path);
  } catch {
    return null; // missing, or not ours to see
  }
};

const canRead = (path: string) => Deno.permissions.querySync({ name: "read", path }).state;

/**
 * The identities of a path: its resolved path, and its device and inode when it exists and may
 * be seen (two names of one file share one of them).
 */
function identity(path: string): string[] {
  const st = statOf(path), ids = [`path ${realOrResolved(path)}`];
  if (st?.ino !== null && st?.ino !== undefined) ids.push(`inode ${st.dev}:${st.ino}`);
  return ids;
}

/** The path with its folder's symlinks resolved when that may be read, else made absolute. */
function realOrResolved(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch {
    // missing (or hidden): its folder may still resolve
  }
  try {
    return join(Deno.realPathSync(dirname(path)), basename(path));
  } catch {
    return resolve(path);
  }
}

/**
 * The identity of stdin or stdout when it is a regular file this process may see (Deno shows
 * what they are only to a process run with --allow-all), else none.
 */
function streamIdentity(which: "stdin" | "stdout"): string[] {
  const path = which === "stdin" ? "/dev/stdin" : "/dev/stdout";
  if (canRead(path) !== "granted") return [];
  const st = statOf(path);
  return st?.isFile && st.ino !== null ? [`inode ${st.dev}:${st.ino}`] : [];
}

function kindOf(arg: FileArg): Kind {
  const stream = STREAMS[arg.path];
  if (stream) return { kind: "stream", stream };
  if (arg.path.startsWith("/dev/")) return { kind: "device" };
  const st = statOf(arg.path);
  if (st?.isDirectory) {
    throw new IoError(`${label(arg)}: is a directory; name a file in it`);
  }
  if (st !== null && !st.isFile) return { kind: "device" };
  // follow a symlink to its file, so the link stays a link
  let real = arg.path;
  if (st !== null) {
    try {
      real = Deno.realPathSync(arg.path);
    } catch {
      // not ours to resolve: write at the path as given
    }
  }
  return { kind: "file", real };
}

const label = (a: FileArg) => (a.flag === "FILE" ? a.path : `${a.flag} ${a.path}`);
const what = (a: FileArg) =>
  STDIN_PATHS.has(a.path) ? "stdin" : a.flag === "FILE" ? `the input ${a.path}` : label(a);

/**
 * Checks a command's files before anything is opened for writing: every output must differ
 * from every input and from every other output (compared by device and inode where the file
 * exists, by resolved path where it does not), its folder must exist (else `IoError`, exit 74)
 * and be readable and writable (else `PermissionError` naming `--allow-read`/`--allow-write`
 * for the folder, 77: the temporary file lives there, and Deno renames only what it may read). `allow` lists `[input flag, output flag]` pairs that may name
 * one file (train's `--resume ck --save ck`: the checkpoint is read whole before it is
 * replaced). A clash is a `UsageError` (64) naming both flags.
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/a.npy`, "x");
 * const a = { flag: "FILE", path: `${dir}/a.npy` }, o = { flag: "-o", path: `${dir}/./a.npy` };
 * assertThrows(() => checkFiles([a], [o]), Error, "is the same file as the input");
 * checkFiles([a], [{ flag: "-o", path: `${dir}/b.npy` }]); // fine
 * ```
 */
export function checkFiles(
  inputs: readonly FileArg[],
  outputs: readonly FileArg[],
  allow: readonly (readonly [string, string])[] = [],
): void {
  const seen: { arg: FileArg; ids: string[]; input: boolean }[] = [];
  for (const arg of inputs) {
    const ids = STDIN_PATHS.has(arg.path) ? streamIdentity("stdin") : identity(arg.path);
    seen.push({ arg, ids, input: true });
  }
  let toStdout: FileArg | null = null;
  for (const arg of outputs) {
    const k = kindOf(arg);
    // two outputs on one stdout would interleave into neither format
    if (k.kind === "stream" && k.stream === "stdout") {
      if (toStdout !== null) {
        throw new UsageError(
          `${toStdout.flag} and ${arg.flag} both write to stdout: give one of them a file`,
        );
      }
      toStdout = arg;
    }
    let ids: string[];
    if (k.kind === "stream") ids = k.stream === "stdout" ? streamIdentity("stdout") : [];
    else ids = k.kind === "device" ? [] : identity(arg.path);
    if (k.kind === "file") checkFolder(arg, k.real);
    for (const s of seen) {
      const same = s.ids.some((id) => ids.includes(id));
      if (!same || allow.some(([i, o]) => s.input && s.arg.flag === i && arg.flag === o)) {
        continue;
      }
      const out = arg.path === "-" ? "stdout" : label(arg);
      throw new UsageError(
        `${out} is the same file as ${what(s.arg)}: writing it would destroy ` +
          `${s.input ? "the input" : "the other output"}; choose another file`,
      );
    }
    seen.push({ arg, ids, input: false });
  }
}

/** The folder of an output file must exist and be writable, for its temporary file. */
function checkFolder(arg: FileArg, real: string) {
  const dir = dirname(real);
  const st = statOf(dir);
  if (st !== null && !st.isDirectory) throw new IoError(`${label(arg)}: ${dir} is not a folder`);
  if (st === null && canRead(dir) === "granted") {
    throw new IoError(`${label(arg)}: no such folder ${dir}`);
  }
  // the temporary file is written, then renamed (which Deno lets only a reader of it do)
  const temp = tempName(real);
  const need = (name: "read" | "write", path: string) =>
    Deno.permissions.querySync({ name, path }).state !== "granted";
  const read = need("read", temp), write = need("write", temp) || need("write", real);
  if (read || write) {
    const flags = [read ? `--allow-read=${dir}` : "", write ? `--allow-write=${dir}` : ""];
    throw new PermissionError(
      `${label(arg)}: run with ${flags.filter(Boolean).join(" ")} (lnstream writes ` +
        `${basename(real)} through a temporary file in its folder, then renames it)`,
    );
  }
}

/** A temporary file's name beside `real` (hidden, marked as lnstream's, unique to the call). */
function tempName(real: string): string {
  const tag = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return join(dirname(real), `.${basename(real)}.${tag}.lnstream-tmp`);
}

/** Outputs not yet committed (and scratch files): removed when the process exits. */
const open = new Set<{ abort(): void }>();
let cleanupInstalled = false;

/**
 * Removes the temporary file of every output not yet committed (a failed run, a signal). Runs
 * by itself when the process exits through `Deno.exit`.
 *
 * @example
 * ```ts
 * removeTemporaries(); // nothing open: nothing to do
 * ```
 */
export function removeTemporaries(): void {
  for (const f of [...open]) f.abort();
}

/**
 * One output: a temporary file renamed over the target by `commit()` (a regular file), or the
 * target itself (a stream, a device, a FIFO). `abort()` removes the temporary file; the target
 * is as it was. Write errors are `IoError`s (exit 74) naming the flag; a closed pipe is
 * `OutputClosed`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const dir = Deno.makeTempDirSync(), path = `${dir}/s.ndjson`;
 * Deno.writeTextFileSync(path, "before");
 * const f = OutputFile.create({ flag: "--stats", path });
 * f.writeSync(new TextEncoder().encode("after"));
 * assert(Deno.readTextFileSync(path) === "before"); // not yet
 * f.commit();
 * assert(Deno.readTextFileSync(path) === "after");
 * ```
 */
export class OutputFile {
  /** how the user named it */
  readonly arg: FileArg;
  #file: Deno.FsFile | null;
  #out: { write(b: Uint8Array): Promise<number>; writeSync(b: Uint8Array): number };
  #temp: string | null;
  #real: string | null;
  #mode: number | null = null;
  #done = false;

  private constructor(arg: FileArg, k: Kind) {
    this.arg = arg;
    this.#temp = null;
    this.#real = null;
    if (k.kind === "stream") {
      this.#file = null;
      this.#out = k.stream === "stdout" ? Deno.stdout : Deno.stderr;
      return;
    }
    try {
      if (k.kind === "device") {
        this.#file = Deno.openSync(arg.path, { write: true });
      } else {
        this.#real = k.real;
        this.#mode = statOf(k.real)?.mode ?? null;
        this.#temp = tempName(k.real);
        this.#file = Deno.openSync(this.#temp, { write: true, createNew: true });
      }
    } catch (e) {
      throw openError(e, arg);
    }
    this.#out = this.#file;
    open.add(this);
    installCleanup();
  }

  /** Opens an output (after `checkFiles`): a temporary file for a regular file. */
  static create(arg: FileArg): OutputFile {
    return new OutputFile(arg, kindOf(arg));
  }

  /** Writes all of `bytes`. */
  async write(bytes: Uint8Array): Promise<void> {
    try {
      let off = 0;
      while (off < bytes.length) off += await this.#out.write(bytes.subarray(off));
    } catch (e) {
      throw this.#writeError(e);
    }
  }

  /** Writes all of `bytes`, synchronously. */
  writeSync(bytes: Uint8Array): void {
    try {
      let off = 0;
      while (off < bytes.length) off += this.#out.writeSync(bytes.subarray(off));
    } catch (e) {
      throw this.#writeError(e);
    }
  }

  #writeError(e: unknown): Error {
    if (e instanceof Deno.errors.BrokenPipe) return new OutputClosed(label(this.arg));
    const name = this.arg.path === "-" ? "stdout" : label(this.arg);
    return new IoError(`cannot write ${name}: ${(e as Error).message}`);
  }

  /**
   * Completes the output: a regular file is flushed to disk and renamed over its target (the
   * previous file, if any, is replaced in one step; its permission bits are kept).
   */
  commit(): void {
    if (this.#done) return;
    this.#done = true;
    open.delete(this);
    if (this.#file === null) return;
    try {
      if (this.#temp !== null) {
        this.#file.syncSync();
        if (this.#mode !== null) Deno.chmodSync(this.#temp, this.#mode & 0o7777);
      }
      this.#file.close();
      this.#file = null;
      if (this.#temp !== null) Deno.renameSync(this.#temp, this.#real!);
    } catch (e) {
      this.#removeTemp();
      throw new IoError(`cannot write ${label(this.arg)}: ${(e as Error).message}`);
    }
  }

  /** Gives the output up: its temporary file is removed, the target stays as it was. */
  abort(): void {
    if (this.#done) return;
    this.#done = true;
    open.delete(this);
    this.#removeTemp();
  }

  #removeTemp() {
    try {
      this.#file?.close();
    } catch {
      // closed already
    }
    this.#file = null;
    if (this.#temp === null) return;
    try {
      Deno.removeSync(this.#temp);
    } catch {
      // gone already
    }
  }
}

function openError(e: unknown, arg: FileArg): Error {
  if (isDenied(e)) {
    // Deno lets --allow-write open /dev/null only; other devices need --allow-all
    const device = arg.path.startsWith("/dev/") && arg.path !== "/dev/null";
    return new PermissionError(
      device
        ? `${label(arg)}: Deno writes to a device other than /dev/null only with --allow-all`
        : `${label(arg)}: run with --allow-write=${dirname(arg.path)}`,
    );
  }
  if (e instanceof Deno.errors.NotFound) {
    return new IoError(`${label(arg)}: no such folder ${dirname(arg.path)}`);
  }
  return new IoError(`cannot open ${label(arg)}: ${(e as Error).message}`);
}

/**
 * A scratch file in `dir` (hidden, marked as lnstream's), removed by `remove()` or when the
 * process exits: where `split` keeps stdin, which it reads twice.
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * const s = scratchFile(Deno.makeTempDirSync(), "--out");
 * Deno.writeTextFileSync(s.path, "x");
 * s.remove();
 * assertThrows(() => Deno.statSync(s.path)); // gone
 * ```
 */
export function scratchFile(dir: string, flag: string): { path: string; remove(): void } {
  const path = tempName(join(dir, "stdin"));
  try {
    Deno.writeFileSync(path, new Uint8Array(0), { createNew: true });
  } catch (e) {
    throw openError(e, { flag, path });
  }
  const entry = {
    path,
    abort() {
      open.delete(entry);
      try {
        Deno.removeSync(path);
      } catch {
        // gone already
      }
    },
    remove() {
      entry.abort();
    },
  };
  open.add(entry);
  installCleanup();
  return entry;
}

function installCleanup() {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  globalThis.addEventListener("unload", removeTemporaries);
}

/**
 * Prints `text` and a newline on stdout: a full disk is an `IoError` (exit 74), a closed pipe
 * `OutputClosed` (the command ends quietly), never a stack.
 *
 * @example
 * ```ts ignore
 * printOut("| layers | lr |");
 * ```
 */
export function printOut(text: string): void {
  OutputFile.create({ flag: "stdout", path: "-" }).writeSync(new TextEncoder().encode(text + "\n"));
}

/**
 * Writes a whole file the one safe way (a temporary file, then a rename): checkpoints, charts,
 * CSV.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const path = `${Deno.makeTempDirSync()}/chart.svg`;
 * writeFileSafely({ flag: "--svg", path }, "<svg/>");
 * assert(Deno.readTextFileSync(path) === "<svg/>");
 * ```
 */
export function writeFileSafely(arg: FileArg, data: Uint8Array | string): void {
  const f = OutputFile.create(arg);
  try {
    f.writeSync(typeof data === "string" ? new TextEncoder().encode(data) : data);
    f.commit();
  } catch (e) {
    f.abort();
    throw e;
  }
}
