// The std functions lnstream uses have real types (lib/std/mod.ts, tests/std_assert.ts): each
// wrong call below must fail type checking. If the types went missing (`any`), a
// `@ts-expect-error` with nothing to expect is itself an error, so `deno check` (run by the
// test task) fails.
import { assert, assertEquals, assertThrows } from "./std_assert.ts";
import { concatReadableStreams, parseArgs, TextLineStream } from "../lib/std/mod.ts";

/** Wrong calls, type-checked but never run. */
function wrongCalls(): number {
  // @ts-expect-error parseArgs returns flags, not a number
  const n: number = parseArgs(["--x"]);
  // @ts-expect-error parseArgs takes an array of strings
  parseArgs("--x");
  // @ts-expect-error TextLineStream's option is allowCR
  new TextLineStream({ allowCr: true });
  // @ts-expect-error concatReadableStreams takes streams
  concatReadableStreams([1, 2]);
  // @ts-expect-error assertEquals compares two values of one type
  assertEquals(1, "1");
  // @ts-expect-error assert takes a message string, not a number
  assert(true, 5);
  // @ts-expect-error assertThrows takes a function
  assertThrows(1);
  return n;
}

Deno.test("std functions are typed: wrong calls fail deno check, right ones run", async () => {
  assert(typeof wrongCalls === "function");
  const flags = parseArgs(["--n", "3", "rest"], { string: ["n"] });
  assertEquals(flags.n, "3");
  assertEquals(flags._, ["rest"]);
  const lines = await Array.fromAsync(
    concatReadableStreams(ReadableStream.from(["a\n"]), ReadableStream.from(["b\n"]))
      .pipeThrough(new TextLineStream()),
  );
  assertEquals(lines, ["a", "b"]);
});
