// accumulate: the WebAssembly sums (a superaccumulator per column) give the very state the
// TypeScript sums give, for any values, including NaN, ±Infinity, huge and tiny magnitudes.
import { assertEquals } from "./std_assert.ts";
import fc from "./fast_check.ts";
import { Arena } from "../lib/kernels/arena.ts";
import { createKernels, tsKernels } from "../lib/kernels/backend.ts";
import { accumulate, StageRunner } from "../lib/pipeline/compute.ts";
import { slotLayout, TOKEN_FIELDS } from "../lib/pipeline/protocol.ts";
import { formatRows, rowTextBytes } from "../lib/kernels/format.ts";

const arena = new Arena();
const k = createKernels("wasm", arena);

Deno.test("accumulate in WebAssembly equals accumulate in TypeScript, bit for bit", () => {
  const value = fc.oneof(
    { weight: 6, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) },
    { weight: 2, arbitrary: fc.double({ min: -1e300, max: 1e300, noNaN: true }) },
    { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 5e-324, -0, 1e-310) },
  );
  fc.assert(
    fc.property(
      fc.array(fc.array(value, { minLength: TOKEN_FIELDS, maxLength: TOKEN_FIELDS }), {
        maxLength: 40,
      }),
      fc.constantFrom(1, 3, 768),
      (rows, C) => {
        const n = rows.length, ts = arena.allocF64(Math.max(1, n) * TOKEN_FIELDS);
        ts.set(rows.flat());
        const plain = Float64Array.from(ts);
        assertEquals(
          JSON.stringify(accumulate(ts, n, C, k)),
          JSON.stringify(accumulate(plain, n, C, tsKernels)),
        );
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("accumulate in WebAssembly: cancelling, negative and subnormal totals stay exact", () => {
  const rows = [
    [1e300, 0, 1, 2, -1e300, 0, -1, 1, 1e-320, 1, 5e-324, 2, -3],
    [-1e300, 0, 1, 2, 1e300, 0, -1, 1, 1e-320, 1, 5e-324, 2, 1e-300],
    [1, 0.5, 0, 1, -2.5, 3, -2, 0, 2 ** -1060, 0.5, 1e308, 1, -1e-300],
  ];
  const ts = arena.allocF64(3 * TOKEN_FIELDS);
  ts.set(rows.flat());
  const a = accumulate(ts, 3, 7, k), b = accumulate(Float64Array.from(ts), 3, 7, tsKernels);
  assertEquals(JSON.stringify(a), JSON.stringify(b));
  assertEquals(a.inp.s, [1]); // 1e300 − 1e300 + 1
  assertEquals(a.loss, [-3]); // the ±1e-300 cancel
});

Deno.test("StageRunner writes NDJSON output text in the worker: the same bytes on every path", () => {
  // the slot in plain shared memory (wasm kernels on copies of the rows), in the kernels' arena
  // (in place), and the TypeScript backend: each batch's text is formatRows of its outputs
  const C = 5, cap = 6, n = 4;
  const texts: string[] = [];
  for (const where of ["shared", "arena", "ts"] as const) {
    const l = slotLayout(cap, C, where === "arena", true);
    const arena = where === "arena" ? new Arena() : null;
    const at = arena ? arena.allocBytes(l.slotBytes) : 0;
    const sab = arena ? arena.buffer : new SharedArrayBuffer(l.slotBytes);
    const inp = new Float32Array(sab, at + l.input, cap * C);
    for (let i = 0; i < n * C; i++) inp[i] = Math.sin(i) * 10 ** ((i % 7) - 3);
    inp[3] = 1e20; // a row the WebAssembly printer hands to the TypeScript one
    const runner = new StageRunner({
      type: "init",
      sab,
      slotsAt: at,
      capTokens: cap,
      C,
      overwrite: where === "arena",
      text: true,
      ...(arena ? { memory: arena.memory } : {}),
      gradSab: null,
      gradAt: 0,
      gradFloats: 0,
      task: {
        kind: "normalize",
        backend: where === "ts" ? "ts" : "wasm",
        norm: "layer",
        eps: 1e-5,
        weight: null,
        bias: null,
        seed: 1,
        nonfinite: "error",
        gradients: true,
        statistics: true,
      },
    });
    const reply = runner.run({ type: "job", slot: 0, tokens: n, offset: 0, grad: -1 });
    assertEquals(reply.tokens, n);
    const out = new Float32Array(sab, at + l.output, n * C);
    const ends = new Uint32Array(sab, at + l.ends, cap);
    const text = new TextDecoder().decode(new Uint8Array(sab, at + l.text, ends[n - 1]).slice());
    const want = new Uint8Array(n * rowTextBytes(C)), wantEnds = new Uint32Array(n);
    formatRows(want, out.slice(), n, C, wantEnds);
    assertEquals(text, new TextDecoder().decode(want.subarray(0, wantEnds[n - 1])));
    texts.push(text);
  }
  assertEquals(texts[0], texts[1]);
});
