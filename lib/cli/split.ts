/**
 * `split`: one input file → N shard files of whole tokens (whole sequences for `[B, T, C]`
 * `.npy` and NDJSON sequence lines), each with the `--offset` of its first token, so the shards
 * can run anywhere (GNU parallel, Spark `RDD.pipe`, a Kubernetes indexed job) and `stats merge`
 * gives the summary of one run over the whole input.
 *
 * @module
 */
import { parseArgs } from "../std/mod.ts";
import { DataError, UsageError } from "../io/errors.ts";
import { openInput } from "../io/input.ts";
import { npyHeader } from "../io/npy.ts";
import { firstTokenLength, parseLine } from "../io/ndjson.ts";
import { createFile, fileError, intFlag, optIntFlag, refuseUnknown } from "./args.ts";

/** `split --help`. */
export const SPLIT_HELP =
  `Usage: deno run --allow-read=FILE --allow-write=DIR mod.ts split FILE --shards N --out DIR/NAME

Cuts FILE (.npy, NDJSON or raw float32 with --dim) into N shards of about equal token counts,
never inside a token or a sequence, written as NAME-0.EXT … NAME-(N-1).EXT in the input's own
format (an .npy keeps its dtype; NDJSON lines are copied byte for byte). stdout gets one line per
shard, tab-separated: its path, the global index of its first token (its --offset) and its token
count — a list GNU parallel reads with --colsep '\\t'.

  --shards N                  shards (default: the number of cores)
  --out DIR/NAME              where the shards go (the folder must exist)
  --dim C                     channels of raw float32 input
  --field NAME                NDJSON object field with the embedding (default: embedding)

Example (three shards in parallel, statistics merged exactly):
  deno run --allow-read=x.npy --allow-write=shards mod.ts split x.npy --shards 3 --out shards/x > shards/list
  parallel --colsep '\\t' deno run --allow-read=.,shards --allow-write=shards mod.ts normalize {1} \\
    -o {1}.out --offset {2} --quiet --stats {1}.stats :::: shards/list
  deno run --allow-read=shards mod.ts stats merge shards/x-*.stats`;

/** Runs `split`; returns the exit code. */
export async function split(args: string[]): Promise<number> {
  const f = parseArgs(args, {
    string: ["shards", "out", "dim", "field"],
    boolean: ["help"],
    alias: { h: "help" },
    unknown: refuseUnknown("split"),
  });
  if (f.help) {
    console.log(SPLIT_HELP);
    return 0;
  }
  if (f._.length !== 1) throw new UsageError("split needs one input FILE (it reads it twice)");
  if (f.out === undefined) throw new UsageError("split needs --out DIR/NAME for the shards");
  const path = String(f._[0]), out = String(f.out);
  const shards = intFlag(f, "shards", navigator.hardwareConcurrency || 1);
  const dim = optIntFlag(f, "dim");
  const open = () => {
    try {
      const file = Deno.openSync(path);
      return (v: Uint8Array) => file.read(v).then((n) => (n === null && file.close(), n));
    } catch (e) {
      throw fileError(e, path, path, "read");
    }
  };
  const info = await openInput(open(), { dim, field: f.field as string | undefined });
  if (info.format === null) throw new DataError(`${path}: empty input`);
  const create = (k: number, ext: string) => {
    const name = `${out}-${k}.${ext}`;
    return { name, file: createFile(name) };
  };
  const lines: string[] = [];
  if (info.format === "ndjson") {
    // pass 1: tokens per line; pass 2: whole lines into shards of ≈ total/N tokens
    const counts: number[] = [];
    for await (const line of textLines(open())) counts.push(tokensIn(line, f.field as string));
    const total = counts.reduce((a, b) => a + b, 0);
    const quota = Math.ceil(total / shards);
    let k = 0, inShard = 0, first = 0, i = 0;
    let cur = create(0, "ndjson");
    const enc = new TextEncoder();
    for await (const line of textLines(open())) {
      const n = counts[i++];
      if (inShard > 0 && inShard + n > quota && k < shards - 1) {
        cur.file.close();
        lines.push(`${cur.name}\t${first}\t${inShard}`);
        first += inShard;
        inShard = 0;
        cur = create(++k, "ndjson");
      }
      writeAll(cur.file, enc.encode(line + "\n"));
      inShard += n;
    }
    cur.file.close();
    lines.push(`${cur.name}\t${first}\t${inShard}`);
  } else {
    // binary: rows (or [T, C] sequences) copied byte for byte after a fitting header
    const fileBytes = Deno.statSync(path).size;
    const T = info.shape?.length === 3 ? info.shape[1] : 1;
    const rowBytes = info.C * info.itemSize * T;
    const rows = info.format === "npy"
      ? info.shape![0]
      : Math.floor((fileBytes - info.dataOffset) / rowBytes);
    if (info.format === "raw" && (fileBytes - info.dataOffset) % rowBytes !== 0) {
      throw new DataError(
        `${path}: ${fileBytes} bytes is not a whole number of ${rowBytes}-byte rows`,
      );
    }
    const read = open();
    await skip(read, info.dataOffset);
    const per = Math.ceil(rows / shards);
    for (let k = 0, at = 0; k < shards && at < rows; k++) {
      const n = Math.min(per, rows - at);
      const ext = info.format === "npy" ? "npy" : "raw";
      const cur = create(k, ext);
      if (info.format === "npy") {
        writeAll(cur.file, npyHeader([n, ...info.shape!.slice(1)], info.dtype));
      }
      await copy(read, cur.file, n * rowBytes, path);
      cur.file.close();
      lines.push(`${cur.name}\t${at * T}\t${n * T}`);
      at += n;
    }
  }
  console.log(lines.join("\n"));
  return 0;
}

function tokensIn(line: string, field = "embedding"): number {
  if (line.trim() === "") return 0;
  let v: unknown;
  try {
    v = parseLine(line);
  } catch {
    return 0; // the run over the shard reports it, by its line
  }
  const inner = v !== null && typeof v === "object" && !Array.isArray(v)
    ? (v as Record<string, unknown>)[field]
    : v;
  if (!Array.isArray(inner) || inner.length === 0) return 0;
  return Array.isArray(inner[0]) ? inner.length : (firstTokenLength(inner, field) ? 1 : 0);
}

async function* textLines(read: (v: Uint8Array) => Promise<number | null>) {
  const dec = new TextDecoder();
  let rest = "";
  const buf = new Uint8Array(1 << 16);
  for (;;) {
    const n = await read(buf);
    if (n === null) break;
    rest += dec.decode(buf.subarray(0, n), { stream: true });
    let nl;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl);
      rest = rest.slice(nl + 1);
    }
  }
  rest += dec.decode();
  if (rest !== "") yield rest;
}

async function skip(read: (v: Uint8Array) => Promise<number | null>, n: number) {
  const buf = new Uint8Array(Math.min(n, 1 << 16) || 1);
  while (n > 0) {
    const got = await read(buf.subarray(0, Math.min(n, buf.length)));
    if (got === null) break;
    n -= got;
  }
}

async function copy(
  read: (v: Uint8Array) => Promise<number | null>,
  to: Deno.FsFile,
  n: number,
  path: string,
) {
  const buf = new Uint8Array(1 << 20);
  while (n > 0) {
    const got = await read(buf.subarray(0, Math.min(n, buf.length)));
    if (got === null) throw new DataError(`${path}: truncated (${n} bytes missing)`);
    writeAll(to, buf.subarray(0, got));
    n -= got;
  }
}

function writeAll(f: Deno.FsFile, b: Uint8Array) {
  let off = 0;
  while (off < b.length) off += f.writeSync(b.subarray(off));
}
