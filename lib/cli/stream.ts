/**
 * What `normalize` and `run` share: stdin in, stdout out, the stats file,
 * progress, and turning faults into exit codes.
 *
 * @module
 */
import type { ByteReader, Format } from "../io/batch.ts";
import { IoError, UsageError } from "../io/errors.ts";
import { checkFiles, type FileArg, OutputClosed, OutputFile } from "../io/files.ts";
import type { BatchRecord, Summary } from "../pipeline/collect.ts";
import type { Lnstream } from "../pipeline/pipeline.ts";
import type { StreamOptions } from "../pipeline/options.ts";
import { choiceFlag, fileError, numberFlag } from "./args.ts";
import { onStopSignal } from "./signals.ts";
import { progress } from "./progress.ts";
import type { Backend } from "../kernels/backend.ts";

/** Flags every streaming command takes (for parseArgs). */
export const STREAM_STRINGS = [
  "format",
  "out-format",
  "dim",
  "field",
  "batch",
  "workers",
  "stats",
  "nonfinite",
  "seed",
  "offset",
  "backend",
  "blas-lib",
  "output",
] as const;

/** Help text for --backend and --blas-lib (normalize, run, compare). */
export const BACKEND_HELP =
  `  --backend wasm|blas|ts      kernels: WebAssembly SIMD (default); blas = wasm with the matrix
                              products in the system OpenBLAS (needs --allow-ffi and Debian's
                              libopenblas0-pthread); ts = the TypeScript reference
  --blas-lib PATH             OpenBLAS library for --backend blas (default: searched in the
                              usual library folders, e.g. /usr/lib/x86_64-linux-gnu)`;

/** --backend and --blas-lib from parsed flags. */
export function backendOptions(f: Record<string, unknown>): { backend: Backend; blasLib?: string } {
  const backend = choiceFlag(f, "backend", ["wasm", "blas", "ts"] as const, "wasm");
  if (f["blas-lib"] !== undefined && backend !== "blas") {
    throw new UsageError("--blas-lib goes with --backend blas");
  }
  return f["blas-lib"] === undefined ? { backend } : { backend, blasLib: String(f["blas-lib"]) };
}

/** Help text for the shared flags. */
export const STREAM_HELP = `Input and output:
  FILE                        read FILE (needs --allow-read=FILE) instead of stdin; - = stdin
  -o, --output FILE           write FILE instead of stdout (- = stdout): through a temporary
                              file in its folder, renamed into place once complete, so a
                              failed run leaves the previous file as it was (needs
                              --allow-read and --allow-write for its folder); never one
                              of the inputs
  --format npy|ndjson|raw     input format (default: .npy magic → npy; else with --dim → raw;
                              else, past a BOM and blanks, '[' or '{' → NDJSON)
  --out-format npy|ndjson|raw output format (default: the input's)
  --dim C                     channels; required for raw float32 input (and implies it)
  --field NAME                NDJSON object field with the embedding (default: embedding)
  --nonfinite error|pass      NaN/Infinity input: refuse (default, exit 65) or pass through
Work:
${BACKEND_HELP}
  --workers N                 worker threads (default: the cores; normalize --quiet without
                              --stats, one fewer: its main thread's reading and writing are
                              then the work). normalize's default starts one and adds the
                              others only to a stream still running after 250 ms; a given
                              --workers N starts all N at once
  --offset N                  global index of the first token, when this is a shard of a
                              larger stream (the probe R is drawn per global token)
Statistics:
  --stats FILE                write NDJSON records (one per batch + a summary); '-' = stderr;
                              written as -o is
  --quiet                     no human summary on stderr
  --progress                  progress on stderr even when it is not a terminal`;

/** Common options from parsed flags. */
export function streamOptions(f: Record<string, unknown>): StreamOptions {
  // values are only parsed here: the stream functions check them once (resolveStreamOptions)
  // and the CLI turns their field names back into flags
  const str = (name: string) => (f[name] === undefined ? undefined : String(f[name]));
  return {
    format: str("format") as Format | undefined,
    outFormat: str("out-format") as Format | undefined,
    dim: numberFlag(f, "dim"),
    field: str("field"),
    batch: numberFlag(f, "batch"),
    workers: numberFlag(f, "workers"),
    nonfinite: str("nonfinite") as "error" | "pass" | undefined,
    offset: numberFlag(f, "offset"),
    backend: str("backend") as Backend | undefined,
    blasLib: str("blas-lib"),
  };
}

/**
 * The output as a sink: stdout, or the `-o` file (written through a temporary file and renamed
 * into place by `commit`). Chunks are whole batches of rows, written to the end once begun: on
 * SIGINT or SIGTERM the process exits (130 or 143) between chunks, so binary output on stdout
 * ends on a row boundary, and an `-o` file is left as it was. Returns the sink and a function
 * that removes the signal handlers.
 */
function outputSink(
  out: OutputFile,
  giveBack: (chunk: Uint8Array) => void,
): { sink: WritableStream<Uint8Array>; release(): void } {
  let writing = false, exitCode = 0;
  const giveSignalBack = onStopSignal((code) => {
    exitCode = code;
    if (!writing) Deno.exit(code);
  });
  const sink = new WritableStream<Uint8Array>({
    async write(chunk) {
      writing = true;
      try {
        await out.write(chunk);
        giveBack(chunk); // written: the pipeline may reuse its memory
      } finally {
        writing = false;
      }
      if (exitCode !== 0) Deno.exit(exitCode);
    },
  });
  return { sink, release: giveSignalBack };
}

/** Where NDJSON records go (`statsWriter`). */
export interface RecordWriter {
  /** writes one record as a line */
  write(rec: object): void;
  /** completes the file (renamed into place) */
  commit(): void;
}

/**
 * Where NDJSON records go: a file (through the one safe writer), stderr (`-`), or nowhere; the
 * file is opened by the caller's `OutputFile` list, after `checkFiles`.
 */
export function statsWriter(out: OutputFile | null): RecordWriter {
  if (out === null) return { write() {}, commit() {} };
  const enc = new TextEncoder();
  return {
    write: (r) => out.writeSync(enc.encode(JSON.stringify(r) + "\n")),
    commit: () => out.commit(),
  };
}

/**
 * A file flag's target as a `FileArg`, or null when absent. `-` is stderr for the record files
 * (`--stats -`, `--log -`), stdout for the others (`dash: "stdout"`).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(recordFile({ stats: "-" }, "stats")!.path === "/dev/stderr");
 * assert(recordFile({ svg: "-" }, "svg", "stdout")!.path === "-");
 * ```
 */
export function recordFile(
  f: Record<string, unknown>,
  flag: string,
  dash: "stderr" | "stdout" = "stderr",
): FileArg | null {
  const v = f[flag];
  if (v === undefined) return null;
  const path = v === "-" ? (dash === "stderr" ? "/dev/stderr" : "-") : String(v);
  return { flag: `--${flag}`, path };
}

/**
 * The outputs of a streaming command (`-o`, `--stats`), checked against its `inputs` and each
 * other before anything is opened for writing.
 */
export function checkStreamFiles(
  f: Record<string, unknown>,
  inputs: FileArg[],
): { outArg: FileArg; statsArg: FileArg | null } {
  const outArg: FileArg = { flag: "-o", path: f.output === undefined ? "-" : String(f.output) };
  const statsArg = recordFile(f, "stats");
  checkFiles(inputs, statsArg ? [outArg, statsArg] : [outArg]);
  return { outArg, statsArg };
}

/**
 * Runs a pipeline from the input to the output with the shared flags; returns the exit code.
 * `inputs` are every file the command reads (checked against the outputs before anything is
 * opened for writing); `report` prints the human summary.
 */
export async function runCommand(
  f: Record<string, unknown>,
  inputs: FileArg[],
  start: (opts: Partial<StreamOptions>) => Lnstream,
  report: (s: Summary) => string,
): Promise<number> {
  const { outArg, statsArg } = checkStreamFiles(f, inputs);
  const output = OutputFile.create(outArg);
  const stats = statsWriter(statsArg && OutputFile.create(statsArg));
  // NDJSON statistics on stderr (--stats -) never share it with progress or the human summary
  const statsOnStderr = f.stats === "-";
  const show = statsOnStderr ? null : progress(Deno.stderr.isTerminal(), Boolean(f.progress));
  let tokens = 0;
  const { readable, done, giveBack } = start({
    // output chunks are views of the slots, given back once written: no copy of the output
    borrow: true,
    onRecord: (r: BatchRecord) => stats.write(r),
    onProgress: show
      ? (n, total) => {
        tokens = n;
        show(n, total);
      }
      : undefined,
  });
  let closed = false;
  const sink = outputSink(output, giveBack);
  try {
    await readable.pipeTo(sink.sink);
  } catch (e) {
    if (!(e instanceof OutputClosed)) throw e;
    closed = true;
  } finally {
    sink.release();
  }
  if (closed) {
    // a closed stdout ends quietly; the stats file still ends with a summary of what was done
    const partial = await done.catch(() => null);
    if (partial) stats.write(partial);
    stats.commit();
    return 0;
  }
  const summary = await done;
  show?.(tokens, undefined, true);
  stats.write(summary);
  output.commit();
  stats.commit();
  if (!f.quiet && !statsOnStderr) console.error(report(summary));
  return 0;
}

/**
 * A command's input: the file at `path`, or stdin for `-`. A file that cannot be opened is
 * exit 77 (permission, naming `--allow-read`) or 64; one that cannot be read (a directory) 74.
 */
export function inputReader(path: string, label = path): ByteReader {
  if (path === "-") return stdinReader();
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UsageError(`${label}: no such file`);
    throw fileError(e, label, path, "read");
  }
  let ended = false;
  return async (view) => {
    if (ended) return null; // read to its end (and closed) already
    try {
      const n = await file.read(view);
      if (n === null) {
        ended = true;
        file.close();
      }
      return n;
    } catch (e) {
      throw new IoError(`cannot read ${label}: ${(e as Error).message}`);
    }
  };
}

/**
 * All the bytes of FILE, or of stdin for `-`, through `inputReader`; a file's failures are
 * named by `label` (the flag and its path, say).
 */
export async function readAll(path: string, label = path): Promise<Uint8Array> {
  const read = inputReader(path, label), parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const buf = new Uint8Array(n < 1 << 20 ? 1 << 16 : 1 << 20);
    const got = await read(buf);
    if (got === null) break;
    parts.push(buf.subarray(0, got));
    n += got;
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * stdin as a `ByteReader`: reads straight into the caller's view; a failure (stdin is a
 * directory, a device error) is an `IoError` (exit 74).
 */
export function stdinReader(): ByteReader {
  return async (view) => {
    try {
      return await Deno.stdin.read(view);
    } catch (e) {
      throw new IoError(`cannot read stdin: ${(e as Error).message}`);
    }
  };
}
