/**
 * `split`: one input → N shard files of whole tokens (whole sequences for `[B, T, C]` `.npy` and
 * NDJSON sequence lines), each with the `--offset` of its first token, so the shards can run
 * anywhere (GNU parallel, Spark `RDD.pipe`, a Kubernetes indexed job) and `stats merge` gives
 * the summary of one run over the whole input. The input is checked first, as `normalize` would
 * check it; the shards appear together only once all are written.
 *
 * @module
 */
import { DataError, UsageError } from "../io/errors.ts";
import { checkFiles, type FileArg, OutputFile, printOut, scratchFile } from "../io/files.ts";
import { isBlankLine, lineChunks, LineCursor } from "../io/lines.ts";
import { parseLine } from "../io/ndjson.ts";
import { npyHeader } from "../io/npy.ts";
import type { ByteReader, Format } from "../io/batch.ts";
import { scanInput } from "../pipeline/scan.ts";
import { dirname } from "../std/mod.ts";
import { choiceFlag, intFlag, optIntFlag } from "./args.ts";
import { parseCommand } from "./command.ts";
import { inputReader, stdinReader } from "./stream.ts";

/** `split --help`. */
export const SPLIT_HELP =
  `Usage: deno run --allow-read=FILE,DIR --allow-write=DIR mod.ts split FILE|- --shards N --out DIR/NAME

Cuts the input (.npy, NDJSON or raw float32 with --dim; - = stdin, kept in a scratch file in
DIR while it is read twice) into N shards of about equal token counts, never inside a token or
a sequence, written as NAME-0.EXT … NAME-(N-1).EXT in the input's own format (an .npy keeps
its dtype; NDJSON lines are copied byte for byte). stdout gets one line per shard,
tab-separated: its path, the global index of its first token (its --offset) and its token
count — a list GNU parallel reads with --colsep '\\t'.

The input is checked first as normalize checks it (header, sizes, lines, non-finite values):
bad data is exit 65 and no shard is written. Shards are cut at whole batches of --batch
tokens where each shard holds one or more, so the shards' batches add up to one run's and
'stats merge' of their statistics equals that run's summary, batches included.

  --shards N                  shards (default: the number of cores)
  --out DIR/NAME              where the shards go (the folder must exist); no shard may be
                              the input
  --batch N                   tokens per batch of the command that will run the shards
                              (default: 2048, normalize's; run: its --batch × --seq)
  --dim C                     channels of raw float32 input
  --format npy|ndjson|raw     input format (default: sniffed, as normalize does)
  --field NAME                NDJSON object field with the embedding (default: embedding)
  --nonfinite error|pass      NaN/Infinity in the input: refuse (default, exit 65) or keep

Example (three shards in parallel, statistics merged exactly):
  deno run --allow-read=x.npy,shards --allow-write=shards mod.ts split x.npy --shards 3 --out shards/x > shards/list
  parallel --colsep '\\t' deno run --allow-read=.,shards --allow-write=shards mod.ts normalize {1} \\
    -o {1}.out --offset {2} --quiet --stats {1}.stats :::: shards/list
  deno run --allow-read=shards mod.ts stats merge shards/x-*.stats`;

/** Runs `split`; returns the exit code. */
export async function split(args: string[]): Promise<number> {
  const f = parseCommand(args, {
    name: "split",
    strings: ["shards", "out", "dim", "field", "batch", "format", "nonfinite"],
    positionals: 1,
    help: SPLIT_HELP,
  });
  if (f === null) return 0;
  if (f._.length !== 1) throw new UsageError("split needs one input: FILE, or - for stdin");
  if (f.out === undefined) throw new UsageError("split needs --out DIR/NAME for the shards");
  const out = String(f.out);
  const shards = intFlag(f, "shards", navigator.hardwareConcurrency || 1);
  const batch = intFlag(f, "batch", 2048);
  const dim = optIntFlag(f, "dim");
  const format = f.format === undefined
    ? undefined
    : choiceFlag(f, "format", ["npy", "ndjson", "raw"] as const, "npy");
  const nonfinite = choiceFlag(f, "nonfinite", ["error", "pass"] as const, "error");
  const field = f.field === undefined ? undefined : String(f.field);
  const given = String(f._[0]);
  // every name a shard could take, checked against the input before anything is written
  const names = (ext: string) =>
    Array.from(
      { length: shards },
      (_, k): FileArg => ({ flag: "--out", path: `${out}-${k}.${ext}` }),
    );
  const input: FileArg = { flag: "FILE", path: given };
  checkFiles([input], ["npy", "ndjson", "raw"].flatMap(names));
  // stdin is read twice: first kept in a scratch file beside the shards
  let path = given, scratch: { path: string; remove(): void } | null = null;
  if (given === "-") {
    scratch = scratchFile(dirname(out), "--out");
    await keep(stdinReader(), scratch.path);
    path = scratch.path;
  }
  try {
    // pass 1: the input checked whole, as normalize reads it
    let total = 0;
    const info = await scanInput(inputReader(path), { dim, field, format, nonfinite }, (b) => {
      total += b.tokens;
      return true;
    }, 4096);
    if (info.format === null || total === 0) throw new DataError(`${given}: no tokens to split`);
    const ext = info.format as Format;
    const T = info.shape?.length === 3 ? info.shape[1] : 1;
    // shards of whole batches when each holds at least one (T-token sequences stay whole)
    let quota = Math.ceil(total / shards);
    if (quota >= batch) quota = Math.ceil(quota / batch) * batch;
    if (T > 1) quota = Math.ceil(quota / T) * T;
    const files: OutputFile[] = [];
    const listed: string[] = [];
    const open = (k: number) => {
      const file = OutputFile.create(names(ext)[k]);
      files.push(file);
      return file;
    };
    if (info.format === "ndjson") {
      // pass 2: whole lines, byte for byte, into shards of ≈ quota tokens
      let k = 0, inShard = 0, first = 0;
      let cur = open(0);
      const lines = inputStream(inputReader(path)).pipeThrough(lineChunks());
      for await (const c of lines) {
        const line = new LineCursor(c);
        let from = 0; // the bytes of the lines not yet written
        while (line.next()) {
          const n = tokensIn(c.bytes.subarray(line.start, line.end), field ?? "embedding");
          if (inShard > 0 && inShard + n > quota && k < shards - 1) {
            await cur.write(c.bytes.subarray(from, line.start));
            from = line.start;
            listed.push(`${names(ext)[k].path}\t${first}\t${inShard}`);
            first += inShard;
            inShard = 0;
            cur = open(++k);
          }
          inShard += n;
        }
        await cur.write(c.bytes.subarray(from));
      }
      listed.push(`${names(ext)[k].path}\t${first}\t${inShard}`);
    } else {
      // binary: rows (or [T, C] sequences) copied byte for byte after a fitting header
      const rowBytes = info.C * info.itemSize;
      const read = inputReader(path);
      await skip(read, info.dataOffset);
      for (let k = 0, at = 0; k < shards && at < total; k++) {
        const n = Math.min(quota, total - at);
        const cur = open(k);
        if (info.format === "npy") {
          await cur.write(npyHeader([n / T, ...info.shape!.slice(1)], info.dtype));
        }
        await copy(read, cur, n * rowBytes);
        listed.push(`${names(ext)[k].path}\t${at}\t${n}`);
        at += n;
      }
    }
    if (listed.length < shards) {
      console.error(
        `split: ${listed.length} shard(s), not ${shards}: shards are whole batches of ${batch} ` +
          `tokens (--batch) and whole lines or sequences`,
      );
    }
    // the list first: a run that cannot say where its shards are leaves none
    printOut(listed.join("\n"));
    for (const file of files) file.commit();
    return 0;
  } finally {
    scratch?.remove();
  }
}

const text = new TextDecoder();

/** The tokens a line holds (pass 1 proved it is a valid line). */
function tokensIn(line: Uint8Array, field: string): number {
  if (isBlankLine(line, 0, line.length)) return 0;
  const v = parseLine(text.decode(line));
  const inner = v !== null && typeof v === "object" && !Array.isArray(v)
    ? (v as Record<string, unknown>)[field]
    : v;
  if (!Array.isArray(inner) || inner.length === 0) return 0;
  return Array.isArray(inner[0]) ? inner.length : 1;
}

/** The bytes of `read` as a stream (each chunk its own memory). */
function inputStream(read: ByteReader): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const buf = new Uint8Array(1 << 16);
      const n = await read(buf);
      if (n === null) ctrl.close();
      else ctrl.enqueue(buf.subarray(0, n));
    },
  });
}

/** Keeps all of `read` in the file at `path`. */
async function keep(read: ByteReader, path: string) {
  const file = await Deno.open(path, { write: true });
  try {
    const buf = new Uint8Array(1 << 20);
    for (let n = await read(buf); n !== null; n = await read(buf)) {
      let off = 0;
      while (off < n) off += await file.write(buf.subarray(off, n));
    }
  } finally {
    file.close();
  }
}

async function skip(read: ByteReader, n: number) {
  const buf = new Uint8Array(Math.min(n, 1 << 16) || 1);
  while (n > 0) {
    const got = await read(buf.subarray(0, Math.min(n, buf.length)));
    if (got === null) break;
    n -= got;
  }
}

/** Copies `n` bytes (pass 1 proved they are there). */
async function copy(read: ByteReader, to: OutputFile, n: number) {
  const buf = new Uint8Array(1 << 20);
  while (n > 0) {
    const got = await read(buf.subarray(0, Math.min(n, buf.length)));
    if (got === null) throw new DataError(`the input changed while it was split`);
    await to.write(buf.subarray(0, got));
    n -= got;
  }
}
