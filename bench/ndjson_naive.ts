// The naive NDJSON baseline of bench/ndjson_bench.ts: each line JSON.parse'd into a
// Float32Array and JSON.stringify'd back (as float64 decimals), nothing else — what a Deno user
// would write in a few lines. Lines in, lines out, on stdin and stdout.
import { TextLineStream } from "../lib/std/mod.ts";

const out = Deno.stdout.writable.getWriter();
const enc = new TextEncoder();
let lines: string[] = [];
const lineStream = Deno.stdin.readable
  .pipeThrough(new TextDecoderStream())
  .pipeThrough(new TextLineStream());
for await (const line of lineStream) {
  if (line === "") continue;
  lines.push(JSON.stringify(Array.from(Float32Array.from(JSON.parse(line)))));
  if (lines.length === 256) {
    await out.write(enc.encode(lines.join("\n") + "\n"));
    lines = [];
  }
}
if (lines.length > 0) await out.write(enc.encode(lines.join("\n") + "\n"));
await out.close();
