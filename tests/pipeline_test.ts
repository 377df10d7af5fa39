// normalizeStream's output modes: borrowed chunks (views of the slots, given back) and
// `statistics: false` (outputs only) give the bytes of the default mode, and keep refusing
// non-finite rows.
import { assert, assertEquals, assertRejects } from "./std_assert.ts";
import { normalizeStream, runStream } from "../lib/pipeline/pipeline.ts";
import { Rng } from "../lib/model/rng.ts";
import { npyBytes } from "./spawn.ts";
import { flagMessage } from "../lib/cli/args.ts";

const C = 64, N = 5000;
const x = new Float32Array(N * C);
new Rng(3).fillNormal(x, 2, 1);
const npy = npyBytes(x, [N, C]);

async function collect(
  o: Parameters<typeof normalizeStream>[1],
  giveBack: "after-copy" | "never" = "after-copy",
  bytes = npy,
) {
  const s = normalizeStream(ReadableStream.from([bytes]), { batch: 100, workers: 2, ...o });
  const parts: Uint8Array[] = [];
  for await (const chunk of s.readable) {
    parts.push(chunk.slice()); // what a sink does: the bytes leave before the chunk goes back
    if (giveBack === "after-copy") s.giveBack(chunk);
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o2 = 0;
  for (const p of parts) out.set(p, (o2 += p.length) - p.length);
  return { out, summary: await s.done };
}

Deno.test("normalizeStream: borrowed chunks give the copied output, byte for byte, through 50 slot reuses", async () => {
  const copied = await collect({});
  const borrowed = await collect({ borrow: true });
  assertEquals(borrowed.out, copied.out);
  assertEquals(borrowed.summary.output, copied.summary.output);
  // the chunks really are views of the pipeline's shared memory
  const s = normalizeStream(ReadableStream.from([npy]), { batch: 100, workers: 1, borrow: true });
  const reader = s.readable.getReader();
  await reader.read(); // the npy header: a copy
  const { value } = await reader.read();
  assert(value!.buffer instanceof SharedArrayBuffer);
  s.giveBack(value!);
  await reader.cancel();
});

Deno.test("normalizeStream: a consumer that never gives borrowed chunks back stalls, it does not corrupt", async () => {
  const s = normalizeStream(ReadableStream.from([npy]), { batch: 100, workers: 1, borrow: true });
  const reader = s.readable.getReader();
  // one worker: 4 slots (a batch computing, one more in flight, one being read, one written);
  // a batch of 100 × 64 floats is one chunk, after the .npy header (a chunk of its own)
  const slots = 4;
  const seen: Uint8Array[] = [], copies: Uint8Array[] = [];
  for (let i = 0; i < 1 + slots; i++) {
    const r = await reader.read();
    assert(!r.done);
    seen.push(r.value);
    copies.push(r.value.slice());
  }
  // every slot is lent: the next chunk does not come (however long we wait) ...
  const next = reader.read();
  const waited = await Promise.race([
    next,
    new Promise((r) => setTimeout(() => r("waiting"), 300)),
  ]);
  assertEquals(waited, "waiting");
  // ... and nothing lent was overwritten meanwhile
  seen.forEach((c, i) => assertEquals(c, copies[i]));
  // one chunk given back frees its slot: the stream moves on
  s.giveBack(seen[1]);
  const r = await next;
  assert(!r.done && r.value.length === 100 * C * 4);
  await reader.cancel();
  await s.done.catch(() => {});
});

Deno.test("normalizeStream: statistics off gives the same bytes; the summary's moments are of no tokens", async () => {
  const full = await collect({});
  for (const norm of ["layer", "rms"] as const) {
    const a = await collect({ norm });
    const b = await collect({ norm, statistics: false });
    assertEquals(b.out, a.out, norm);
    assertEquals(b.summary.tokens_out, N);
    assertEquals(b.summary.output.count, 0);
  }
  assert(full.summary.output.count === N * C);
});

Deno.test("normalizeStream: statistics off still refuses a non-finite row, named, after the rows before it", async () => {
  for (const norm of ["layer", "rms"] as const) {
    for (const bad of [Infinity, -Infinity, NaN]) {
      const y = x.slice();
      y[1234 * C + 17] = bad;
      const s = normalizeStream(ReadableStream.from([npyBytes(y, [N, C])]), {
        batch: 100,
        workers: 2,
        norm,
        statistics: false,
      });
      const out = new Uint8Array(await new Response(s.readable).arrayBuffer());
      const e = await assertRejects(() => s.done);
      assert((e as Error).message.includes("row 1234, channel 17"), (e as Error).message);
      assertEquals((out.length - 128) / (4 * C), 1234, "every row before it was written");
    }
  }
  // finite values whose sum overflows float32 are no fault
  const big = x.slice();
  big.fill(3e38, 0, C);
  const s = normalizeStream(ReadableStream.from([npyBytes(big, [N, C])]), {
    statistics: false,
    workers: 1,
  });
  await new Response(s.readable).arrayBuffer();
  assertEquals((await s.done).tokens_out, N);
});

Deno.test("an input stream that errors midway rejects done with its error; the workers end", async () => {
  const enc = new TextEncoder();
  for (const start of [normalizeStream, runStream] as const) {
    let pulls = 0;
    const input = new ReadableStream<Uint8Array>({
      pull(c) {
        if (pulls++ < 3) c.enqueue(enc.encode("[1, 2, 3, 4]\n".repeat(500)));
        else c.error(new Error("the disk went away"));
      },
    });
    const s = start(input, { workers: 2, heads: 2, layers: 1 } as never);
    const out = new Response(s.readable).arrayBuffer().then(() => "done", (e) => e.message);
    await assertRejects(() => s.done, Error, "the disk went away");
    assertEquals(await out, "the disk went away");
  }
  // the test's own sanitizers check that no worker or timer outlives it
});

Deno.test("library errors name options, not flags; the command line says the flags", async () => {
  const text = (s: string) => ReadableStream.from([new TextEncoder().encode(s)]);
  const failures: [string, () => Promise<unknown>][] = [
    ["nonfinite", () => ended(normalizeStream(text("[1, NaN]\n"), { workers: 1 }))],
    ["nonfinite (NDJSON)", () => ended(normalizeStream(text("[1, Infinity]\n"), { workers: 1 }))],
    ["dim", () => ended(normalizeStream(text("[1, 2]\n"), { workers: 1, dim: 3 }))],
    ["field", () => ended(normalizeStream(text('{"x": [1, 2]}\n'), { workers: 1 }))],
    ["batch", () => ended(normalizeStream(text("[1, 2]\n"), { workers: 1, batch: 1e8 }))],
    ["raw without dim", () => ended(normalizeStream(text("\x01\x02"), { format: "raw" }))],
    ["outFormat", () => ended(normalizeStream(text("[1, 2]\n"), { outFormat: "npy" }))],
    ["arena", () => ended(runStream(npyBytesStream(), { workers: 1, batch: 4096, seq: 4096 }))],
    ["workers", () => Promise.resolve().then(() => normalizeStream(text(""), { workers: 0 }))],
  ];
  for (const [name, fail] of failures) {
    const e = await assertRejects(fail);
    const msg = (e as Error).message;
    assertEquals((e as { exitCode?: number }).exitCode! >= 64, true, `${name}: ${msg}`);
    assert(!/--(?!allow-)[a-z]/.test(msg), `${name} names a flag: ${msg}`);
    // and the command line's one translation says the flags
    const cli = flagMessage(e as Error);
    assert(!cli.includes("`"), `${name}: ${cli}`);
  }
});

/** A stream read to its end (or its failure), then its summary. */
async function ended(s: { readable: ReadableStream<Uint8Array>; done: Promise<unknown> }) {
  await new Response(s.readable).arrayBuffer().catch(() => {});
  return await s.done;
}

function npyBytesStream() {
  const C = 4096, t = new Float32Array(4 * C);
  return ReadableStream.from([npyBytes(t, [4, C])]);
}

Deno.test("normalizeStream and runStream take no options at all", async () => {
  const text = (s: string) => ReadableStream.from([new TextEncoder().encode(s)]);
  const n = normalizeStream(text("[1, 2, 3]\n"));
  assertEquals(await new Response(n.readable).text(), "[-1.2247357,0,1.2247357]\n");
  assertEquals((await n.done).tokens_out, 1);
  const r = runStream(text("[1, 2, 3, 4]\n".repeat(3)));
  await new Response(r.readable).arrayBuffer();
  assertEquals((await r.done).tokens_out, 3);
});

Deno.test("NDJSON without a token for 64 MiB is refused (C unknown), not kept in memory; with format and dim it streams", async () => {
  const chunk = new TextEncoder().encode("[]\n".repeat(1 << 18)); // 768 KiB of lines without tokens
  const lines = (n: number, tail = "") =>
    ReadableStream.from((function* () {
      for (let i = 0; i < n; i++) yield chunk;
      if (tail) yield new TextEncoder().encode(tail);
    })());
  const s = normalizeStream(lines(90, "[1, 2, 3]\n"), { workers: 1 });
  const closed = new Response(s.readable).arrayBuffer().catch(() => null);
  const e = await assertRejects(() => s.done);
  assert((e as Error).message.includes("no token in the first 64 MiB"), (e as Error).message);
  assert(flagMessage(e as Error).includes("--format ndjson with --dim C"), flagMessage(e as Error));
  await closed;
  // C given: the same lines stream through, `[]` for `[]`
  const t = normalizeStream(lines(90, "[1, 2, 3]\n"), { workers: 1, format: "ndjson", dim: 3 });
  let bytes = 0;
  for await (const c of t.readable) bytes += c.length;
  assertEquals(bytes, 90 * chunk.length + "[-1.2247357,0,1.2247357]\n".length);
  assertEquals((await t.done).tokens_out, 1);
});
