import { assert, assertEquals, assertThrows } from "./std_assert.ts";
import { CharData } from "../lib/train/chardata.ts";
import { DataError, UsageError } from "../lib/io/errors.ts";
import { Rng } from "../lib/model/rng.ts";

Deno.test("CharData on tiny Shakespeare: nanoGPT's vocabulary and split", async () => {
  const bytes = await Deno.readFile(new URL("../data/tinyshakespeare.txt", import.meta.url));
  assertEquals(bytes.length, 1115394);
  const d = CharData.fromBytes(bytes);
  // nanoGPT's shakespeare_char/prepare.py: 65 characters, 1,003,854 train and 111,540 val ids
  assertEquals(d.size, 65);
  assertEquals(
    d.vocab.join(""),
    "\n !$&',-.3:;?" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "abcdefghijklmnopqrstuvwxyz",
  );
  assertEquals([d.train.length, d.val.length], [1003854, 111540]);
  assertEquals(d.decode(d.train.subarray(0, 14)), "First Citizen:");
});

Deno.test("CharData: characters are code points; encode and decode invert each other", () => {
  const text = "naïve ☃ 𝄞 naïve ☃ 𝄞\n".repeat(5);
  const d = CharData.fromText(text);
  assertEquals(d.vocab, ["\n", " ", "a", "e", "n", "v", "ï", "☃", "𝄞"]);
  const ids = d.encode(text);
  assertEquals(ids.length, Array.from(text).length);
  assertEquals(d.decode(ids), text);
  assertEquals(d.train.length + d.val.length, ids.length);
  assertThrows(() => d.encode("x"), DataError, "not in the vocabulary");
});

Deno.test("CharData.batch: targets are the next characters; the seed fixes the batch", async () => {
  const text = await Deno.readTextFile(
    new URL("./fixtures/train/shakespeare_20k.txt", import.meta.url),
  );
  const d = CharData.fromText(text), B = 4, T = 32;
  const draw = (seed: number, split: "train" | "val") => {
    const x = new Int32Array(B * T), y = new Int32Array(B * T);
    d.batch(split, new Rng(seed), x, y, B, T);
    return { x, y };
  };
  for (const split of ["train", "val"] as const) {
    const { x, y } = draw(7, split), ids = d[split];
    for (let b = 0; b < B; b++) {
      const row = x.subarray(b * T, b * T + T);
      // the window is somewhere in the split, and y is x moved on by one
      const at = ids.findIndex((_, i) => row.every((v, t) => ids[i + t] === v));
      assert(at >= 0 && at + T < ids.length, `${split} row ${b} is a window of the split`);
      for (let t = 0; t < T; t++) assertEquals(y[b * T + t], ids[at + t + 1]);
    }
    assertEquals(draw(7, split), draw(7, split));
  }
  assert(draw(7, "train").x.some((v, i) => v !== draw(8, "train").x[i]));
});

Deno.test("CharData: bad text and a block too long are clear errors (65, 64)", () => {
  const empty = assertThrows(() => CharData.fromBytes(new Uint8Array(0)), DataError, "empty");
  assertEquals((empty as DataError).exitCode, 65);
  const bom = Uint8Array.of(0xef, 0xbb, 0xbf);
  assertThrows(() => CharData.fromBytes(bom), DataError, "empty"); // a BOM alone is no text
  const bad = new TextEncoder().encode("Lorem ipsum dolor\n");
  const broken = new Uint8Array([...bad.subarray(0, 9), 0xc3, 0x28, ...bad.subarray(9)]);
  const e = assertThrows(() => CharData.fromBytes(broken, "--data x.txt"), DataError);
  assertEquals(e.message, "--data x.txt is not UTF-8 at byte 9"); // where 0xc3 starts, as Python says
  const cut = new Uint8Array([...bad, 0xe2, 0x98]); // a character cut at the end
  assertThrows(() => CharData.fromBytes(cut), DataError, "not UTF-8 at byte");
  const d = CharData.fromText("to be or not to be".repeat(4));
  d.checkBlock(6); // val holds 8 characters: windows of 7 fit
  const long = assertThrows(() => d.checkBlock(64), UsageError, "`block` 64 needs 65");
  assertEquals((long as UsageError).exitCode, 64);
  const x = new Int32Array(64), y = new Int32Array(64);
  assertThrows(() => d.batch("val", new Rng(1), x, y, 1, 64), UsageError, "val split");
});
