/**
 * What `normalize` and `run` share: stdin in, stdout out, the stats file,
 * progress, and turning faults into exit codes.
 *
 * @module
 */
import type { Format } from "../io/batch.ts";
import { EXIT_CODES, IoError, UsageError } from "../io/errors.ts";
import type { BatchRecord, Summary } from "../pipeline/collect.ts";
import type { Lnstream, StreamOptions } from "../pipeline/pipeline.ts";
import { choiceFlag, createFile, fileError } from "./args.ts";
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
  FILE                        read FILE (needs --allow-read=FILE) instead of stdin
  -o, --output FILE           write FILE (needs --allow-write=FILE) instead of stdout
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
  --stats FILE                write NDJSON records (one per batch + a summary); '-' = stderr
  --quiet                     no human summary on stderr
  --progress                  progress on stderr even when it is not a terminal

Exit codes:
${EXIT_CODES.map(([c, what]) => `  ${String(c).padEnd(4)}${what}`).join("\n")}`;

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

/** A flag's number, parsed (not range-checked: the library does that once). */
function numberFlag(f: Record<string, unknown>, name: string): number | undefined {
  const v = f[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (String(v).trim() === "" || Number.isNaN(n)) {
    throw new UsageError(`--${name} must be a number, got '${v}'`);
  }
  return n;
}

/** stdout as a sink; a closed pipe (`| head`) ends the run quietly. */
class ClosedOutput extends Error {}

/**
 * stdout as a sink. Chunks are whole batches of rows, written to the end once begun: on SIGINT
 * or SIGTERM the process exits (130 or 143) between chunks, so binary output ends on a row
 * boundary. Returns the sink and a function that removes the signal handlers.
 */
function stdoutSink(
  path: string | undefined,
  giveBack: (chunk: Uint8Array) => void,
): { sink: WritableStream<Uint8Array>; release(): void } {
  let file = path === undefined ? null : createFile(path, `--output ${path}`);
  const out = file ?? Deno.stdout, name = path ?? "stdout";
  let writing = false, exitCode = 0;
  const onSignal = (code: number) => () => {
    exitCode = code;
    if (!writing) Deno.exit(code);
  };
  const handlers: [Deno.Signal, () => void][] = [["SIGINT", onSignal(130)], [
    "SIGTERM",
    onSignal(143),
  ]];
  for (const [sig, h] of handlers) {
    try {
      Deno.addSignalListener(sig, h);
    } catch {
      // a platform without this signal
    }
  }
  const sink = new WritableStream<Uint8Array>({
    async write(chunk) {
      writing = true;
      try {
        let off = 0;
        while (off < chunk.length) off += await out.write(chunk.subarray(off));
        giveBack(chunk); // written: the pipeline may reuse its memory
      } catch (e) {
        if (e instanceof Deno.errors.BrokenPipe) throw new ClosedOutput();
        throw new IoError(`cannot write ${name}: ${(e as Error).message}`);
      } finally {
        writing = false;
      }
      if (exitCode !== 0) Deno.exit(exitCode);
    },
  });
  return {
    sink,
    release() {
      file?.close();
      file = null;
      for (const [sig, h] of handlers) {
        try {
          Deno.removeSignalListener(sig, h);
        } catch {
          // not added
        }
      }
    },
  };
}

/**
 * Where NDJSON records go: a file, stderr ('-'), or nowhere; `flag` names the option in
 * messages (`stats` for `--stats`, `log` for train's `--log`).
 */
export function statsWriter(
  target: unknown,
  flag = "stats",
): { write(rec: object): void; close(): void } {
  if (target === undefined) return { write() {}, close() {} };
  const enc = new TextEncoder();
  if (target === "-") {
    return {
      write: (r) => Deno.stderr.writeSync(enc.encode(JSON.stringify(r) + "\n")),
      close() {},
    };
  }
  const file = createFile(String(target), `--${flag} ${target}`);
  return {
    write(r) {
      const b = enc.encode(JSON.stringify(r) + "\n");
      let off = 0;
      while (off < b.length) off += file.writeSync(b.subarray(off));
    },
    close: () => file.close(),
  };
}

/**
 * Progress on stderr: on a terminal a line rewritten in place every 250 ms; elsewhere (with
 * `--progress`) a full line every 2 s. Tokens, rate, share done and time left when known.
 */
export function progress(terminal: boolean, asked: boolean, unit = "tokens") {
  if (!terminal && !asked) return null;
  const t0 = performance.now(), every = terminal ? 250 : 2000;
  let last = 0;
  const enc = new TextEncoder();
  return (tokens: number, total: number | undefined, end = false) => {
    const now = performance.now();
    if (!end && now - last < every) return;
    last = now;
    const secs = Math.max((now - t0) / 1000, 1e-9), rate = tokens / secs;
    const pct = total ? `  ${(100 * tokens / total).toFixed(1)}%` : "";
    const eta = total && tokens > 0 && !end
      ? `  ETA ${fmtSeconds(((total - tokens) / tokens) * secs)}`
      : "";
    const per = unit === "tokens" ? "tok/s" : `${unit}/s`;
    const text = `${tokens}${total ? `/${total}` : ""} ${unit}  ${
      fmtRate(rate)
    } ${per}${pct}${eta}`;
    const line = terminal ? `\r${text}   ${end ? "\n" : ""}` : `${text}\n`;
    Deno.stderr.writeSync(enc.encode(line));
  };
}

/** A duration for a person: `12.3 s`, `4 min 5 s`. */
export function fmtSeconds(s: number): string {
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function fmtRate(r: number): string {
  return r >= 1e6
    ? `${(r / 1e6).toFixed(2)}M`
    : r >= 1e3
    ? `${(r / 1e3).toFixed(1)}k`
    : r.toFixed(0);
}

/**
 * Runs a pipeline from stdin to stdout with the shared flags; returns the exit
 * code. `report` prints the human summary.
 */
export async function runCommand(
  f: Record<string, unknown>,
  start: (opts: Partial<StreamOptions>) => Lnstream,
  report: (s: Summary) => string,
): Promise<number> {
  const stats = statsWriter(f.stats);
  // NDJSON statistics on stderr (--stats -) never share it with progress or the human summary
  const statsOnStderr = f.stats === "-";
  const show = statsOnStderr ? null : progress(Deno.stderr.isTerminal(), Boolean(f.progress));
  let tokens = 0;
  try {
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
    const stdout = stdoutSink(f.output === undefined ? undefined : String(f.output), giveBack);
    try {
      await readable.pipeTo(stdout.sink);
    } catch (e) {
      if (!(e instanceof ClosedOutput)) throw e;
      closed = true;
    } finally {
      stdout.release();
    }
    if (closed) {
      // a closed stdout ends quietly; the stats file still ends with a summary of what was done
      const partial = await done.catch(() => null);
      if (partial) stats.write(partial);
      return 0;
    }
    const summary = await done;
    show?.(tokens, undefined, true);
    stats.write(summary);
    if (!f.quiet && !statsOnStderr) console.error(report(summary));
    return 0;
  } finally {
    stats.close();
  }
}

/**
 * The command's input: the file named by its one positional argument, else stdin.
 */
export function inputReader(
  f: { _: (string | number)[] },
  cmd: string,
): (view: Uint8Array) => Promise<number | null> {
  if (f._.length > 1) {
    throw new UsageError(`${cmd} reads one input; unexpected argument '${f._[1]}'`);
  }
  if (f._.length === 0) return stdinReader();
  const path = String(f._[0]);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UsageError(`${path}: no such file`);
    throw fileError(e, path, path, "read");
  }
  return async (view) => {
    try {
      const n = await file.read(view);
      if (n === null) file.close();
      return n;
    } catch (e) {
      throw new IoError(`cannot read ${path}: ${(e as Error).message}`);
    }
  };
}

/**
 * stdin as a `ByteReader`: reads straight into the caller's view; a failure (stdin is a
 * directory, a device error) is an `IoError` (exit 74).
 */
export function stdinReader(): (view: Uint8Array) => Promise<number | null> {
  return async (view) => {
    try {
      return await Deno.stdin.read(view);
    } catch (e) {
      throw new IoError(`cannot read stdin: ${(e as Error).message}`);
    }
  };
}
