// accumulate: the WebAssembly sums (a superaccumulator per column) give the very state the
// TypeScript sums give, for any values, including NaN, ±Infinity, huge and tiny magnitudes.
import { assertEquals } from "./std_assert.ts";
import fc from "./fast_check.ts";
import { Arena } from "../lib/kernels/arena.ts";
import { createKernels, tsKernels } from "../lib/kernels/backend.ts";
import { accumulate } from "../lib/pipeline/compute.ts";
import { TOKEN_FIELDS } from "../lib/pipeline/protocol.ts";

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
