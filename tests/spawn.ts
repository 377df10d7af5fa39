// Test helpers: run `deno run <perms> mod.ts <args>` with bytes on stdin; what the CLI tests share.
import { assert, assertEquals, assertStringIncludes } from "./std_assert.ts";
import { Rng } from "../lib/model/rng.ts";
const ROOT = new URL("../", import.meta.url);
export const ROOT_PATH = decodeURIComponent(ROOT.pathname).replace(/\/$/, "");

export interface Ran {
  code: number;
  stdout: Uint8Array;
  stderr: string;
  text: string;
}

/** A run killed by `lnstream`'s time limit: a hang, reported as a failure. */
export class Hang extends Error {}

/**
 * Runs the CLI with least privilege: read access to the project only (none with the pseudo
 * flag `--no-read`), plus `perms`. A run
 * that outlives `timeoutMs` (default 60 s) is killed and throws `Hang`.
 */
export async function lnstream(
  args: string[],
  stdin: Uint8Array | string = new Uint8Array(0),
  perms: string[] = [],
  timeoutMs = 60_000,
): Promise<Ran> {
  const signal = AbortSignal.timeout(timeoutMs);
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...(perms.includes("--no-read") ? [] : [`--allow-read=${ROOT_PATH}`]),
      ...perms.filter((p) => p !== "--no-read"),
      "mod.ts",
      ...args,
    ],
    cwd: ROOT_PATH,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal,
  });
  const child = cmd.spawn();
  const w = child.stdin.getWriter();
  const bytes = typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin;
  const writing = w.write(bytes).then(() => w.close()).catch(() => {});
  const out = await child.output();
  await writing;
  if (signal.aborted) throw new Hang(`lnstream ${args.join(" ")}: no end in ${timeoutMs} ms`);
  return {
    code: out.code,
    stdout: out.stdout,
    stderr: new TextDecoder().decode(out.stderr),
    text: new TextDecoder().decode(out.stdout),
  };
}

/**
 * `deno run --quiet <perms> mod.ts <args>` from the project's folder under GNU time, which
 * prints the peak RSS of the process (all its threads) on stderr; read it with `peakRss`.
 */
export function underTime(
  perms: string[],
  args: string[],
  o: Omit<Deno.CommandOptions, "args" | "cwd"> = {},
): Deno.Command {
  return new Deno.Command("/usr/bin/time", {
    ...o,
    args: ["-f", "MAXRSS %M", Deno.execPath(), "run", "--quiet", ...perms, "mod.ts", ...args],
    cwd: ROOT_PATH,
  });
}

/** The peak RSS in bytes that `underTime`'s GNU time printed in `stderr` (NaN if none). */
export function peakRss(stderr: string): number {
  return Number(/MAXRSS (\d+)/.exec(stderr)?.[1]) * 1024;
}

/** A .npy file's bytes for float32 data of `shape`. */
export function npyBytes(data: Float32Array, shape: number[], header?: string): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ");
  let dict = header ?? `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  dict += " ".repeat((64 - ((10 + dict.length + 1) % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + dict.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, dict.length & 0xff, dict.length >> 8]);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + dict.length);
  return out;
}

/** The float32 data of a .npy produced by lnstream (v1 header). */
export function npyData(b: Uint8Array): { shape: number[]; data: Float32Array } {
  const len = b[8] | (b[9] << 8);
  const text = new TextDecoder("latin1").decode(b.subarray(10, 10 + len));
  const shape = /\(([^)]*)\)/.exec(text)![1].split(",").map((s) => s.trim()).filter(Boolean)
    .map(Number);
  const data = new Float32Array(b.slice(10 + len).buffer);
  return { shape, data };
}

/** Stats records without their timing (the only part that differs between runs). */
export function untimed(ndjson: string): unknown[] {
  return ndjson.trim().split("\n").filter(Boolean).map((l) => {
    const r = JSON.parse(l);
    delete r.timing;
    return r;
  });
}

/** N tokens of C channels drawn from N(0, 1) with `seed`. */
export function normals(N: number, C: number, seed = 1): Float32Array {
  const x = new Float32Array(N * C);
  new Rng(seed).fillNormal(x);
  return x;
}

/** The exit code, a single stderr line without a stack, and the words it must hold. */
export function oneLine(r: { code: number; stderr: string }, code: number, has: string): void {
  assertEquals(r.code, code, r.stderr);
  assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert(!/\n\s+at /.test(r.stderr) && !r.stderr.includes("Uncaught"), r.stderr);
  assertStringIncludes(r.stderr, has);
}

/** A small training text (20 kB of tiny Shakespeare). */
export const TRAIN_DATA = `${ROOT_PATH}/tests/fixtures/train/shakespeare_20k.txt`;

/** A tiny model for train tests: flags of the model and its batches only. */
export const TINY_MODEL = [
  "--layers",
  "1",
  "--heads",
  "2",
  "--dim",
  "16",
  "--block",
  "16",
  "--batch",
  "4",
];
