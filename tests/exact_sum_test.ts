// ExactSum.addAll and the batch adders built on it give the very state one add per value gives.
import { assertEquals, assertThrows } from "./std_assert.ts";
import fc from "./fast_check.ts";
import { ExactSum } from "../lib/stats/exact_sum.ts";
import { Moments, NormAcc } from "../lib/stats/moments.ts";

const json = (v: unknown) => JSON.stringify(v);

Deno.test("ExactSum.addAll equals one add per value (doubles of any exponent, NaN, ±Infinity)", () => {
  // magnitudes up to 1e300: no total of 300 values overflows (overflow: the next test)
  const double = fc.oneof(
    fc.double({ min: -1e300, max: 1e300, noNaN: false }),
    fc.constantFrom(NaN, Infinity, -Infinity),
    fc.double({ min: -1e3, max: 1e3, noNaN: true }),
    fc.constantFrom(1e300, -1e300, 5e-324, -0, 0, 2 ** 53, 1, -1),
  );
  fc.assert(
    fc.property(fc.array(double, { maxLength: 300 }), (values) => {
      const a = new ExactSum(), b = new ExactSum();
      for (const v of values) a.add(v);
      b.addAll([...values]);
      assertEquals(json(b.toJSON()), json(a.toJSON()));
      assertEquals(Object.is(b.value(), a.value()) || b.value() === a.value(), true);
    }),
    { numRuns: 500 },
  );
});

Deno.test("ExactSum.addAll: cancelling terms leave their exact remainder; huge totals overflow", () => {
  const s = new ExactSum();
  s.addAll([1e300, 1, -1e300, 1e-300, 2 ** -1074]);
  assertEquals(s.toJSON(), [1, 1e-300, 2 ** -1074]);
  // a total past the largest double is ±Infinity, never NaN, however it was added
  for (const vs of [[1e308, 1e308, 1e308], [-1.7e308, -1.7e308, 1]]) {
    const o = new ExactSum(), q = new ExactSum();
    o.addAll([...vs]);
    for (const v of vs) q.add(v);
    assertEquals([o.value(), q.value()], [
      Math.sign(vs[0]) * Infinity,
      Math.sign(vs[0]) * Infinity,
    ]);
  }
  // the accumulated state takes more adds afterwards, exactly
  s.add(-1);
  assertEquals(s.value(), 1e-300);
  assertThrows(() => ExactSum.from([1, "x"]), TypeError);
});

Deno.test("Moments.addTokens and NormAcc.addTokens equal one addToken per token", () => {
  const token = fc.record({
    s: fc.double({ min: -1e6, max: 1e6, noNaN: true }),
    m2: fc.double({ min: 0, max: 1e6, noNaN: true }),
    lo: fc.double({ min: -1e3, max: 0, noNaN: true }),
    hi: fc.double({ min: 0, max: 1e3, noNaN: true }),
  });
  fc.assert(
    fc.property(fc.array(token, { maxLength: 100 }), fc.integer({ min: 1, max: 1024 }), (ts, C) => {
      const a = new Moments(), b = new Moments(), na = new NormAcc(), nb = new NormAcc();
      for (const t of ts) {
        a.addToken(C, t.s, t.m2, t.lo, t.hi);
        na.addToken(t.m2, t.hi);
      }
      const lo = Math.min(Infinity, ...ts.map((t) => t.lo));
      const hi = Math.max(-Infinity, ...ts.map((t) => t.hi));
      b.addTokens(C, ts.map((t) => t.s), ts.map((t) => t.m2), lo, hi);
      nb.addTokens(ts.map((t) => t.m2), Math.max(0, hi));
      assertEquals(json(b), json(a));
      assertEquals(json(nb), json(na));
    }),
    { numRuns: 300 },
  );
});
