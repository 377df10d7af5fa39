/**
 * Character-level text data for `train`: the vocabulary of a text's characters, its 90/10
 * train/val split and seeded batches of next-character targets (as nanoGPT's
 * `shakespeare_char`).
 *
 * @module
 */
import { DataError, UsageError } from "../io/errors.ts";
import type { Rng } from "../model/rng.ts";

/** Which part of the text a batch is drawn from. */
export type Split = "train" | "val";

/**
 * A text as character ids: `vocab` holds its distinct characters (Unicode code points) in
 * code-point order, `train` the first 90 % of its ids and `val` the rest.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const d = CharData.fromText("abracadabra!".repeat(10));
 * assertEquals(d.vocab, ["!", "a", "b", "c", "d", "r"]);
 * assertEquals(d.decode(d.encode("cab")), "cab");
 * ```
 */
export class CharData {
  /** the distinct characters, in code-point order; an id is an index here */
  readonly vocab: readonly string[];
  /** the first 90 % of the text's ids */
  readonly train: Int32Array;
  /** the last 10 % */
  readonly val: Int32Array;
  #ids: Map<string, number>;

  private constructor(vocab: string[], ids: Int32Array) {
    this.vocab = vocab;
    this.#ids = new Map(vocab.map((ch, i) => [ch, i]));
    const n = Math.floor(ids.length * 0.9);
    this.train = ids.subarray(0, n);
    this.val = ids.subarray(n);
  }

  /** The vocabulary's size V. */
  get size(): number {
    return this.vocab.length;
  }

  /**
   * Builds the data of UTF-8 bytes; refuses empty text and bytes that are not UTF-8 (exit 65),
   * naming the byte offset.
   *
   * @example
   * ```ts
   * import { assertThrows } from "@std/assert";
   * assertThrows(() => CharData.fromBytes(Uint8Array.of(0x61, 0xff)), Error, "byte 1");
   * ```
   */
  static fromBytes(bytes: Uint8Array, what = "the text"): CharData {
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      throw new DataError(`${what} is not UTF-8 at byte ${firstBadUtf8(bytes)}`);
    }
    return CharData.fromText(text, what);
  }

  /**
   * Builds the data of a text; refuses an empty text (exit 65).
   *
   * @example
   * ```ts
   * import { assertEquals } from "@std/assert";
   * assertEquals(CharData.fromText("hello").size, 4);
   * ```
   */
  static fromText(text: string, what = "the text"): CharData {
    const chars = Array.from(text);
    if (chars.length === 0) throw new DataError(`${what} is empty`);
    const vocab = [...new Set(chars)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    const index = new Map(vocab.map((ch, i) => [ch, i]));
    return new CharData(vocab, Int32Array.from(chars, (ch) => index.get(ch)!));
  }

  /**
   * Ids of `text`; throws on a character outside the vocabulary.
   *
   * @example
   * ```ts
   * import { assertEquals } from "@std/assert";
   * assertEquals(Array.from(CharData.fromText("ba").encode("ab")), [0, 1]);
   * ```
   */
  encode(text: string): Int32Array {
    return Int32Array.from(Array.from(text), (ch) => {
      const id = this.#ids.get(ch);
      if (id === undefined) throw new DataError(`${JSON.stringify(ch)} is not in the vocabulary`);
      return id;
    });
  }

  /**
   * The text of `ids`.
   *
   * @example
   * ```ts
   * import { assertEquals } from "@std/assert";
   * assertEquals(CharData.fromText("ab").decode([1, 0]), "ba");
   * ```
   */
  decode(ids: ArrayLike<number>): string {
    let s = "";
    for (let i = 0; i < ids.length; i++) s += this.vocab[ids[i]];
    return s;
  }

  /**
   * Checks that each split (default both) holds at least one window of `T + 1` ids (inputs and their
   * next-character targets); a usage error (exit 64) otherwise.
   *
   * @example
   * ```ts
   * import { assertThrows } from "@std/assert";
   * assertThrows(() => CharData.fromText("short text").checkBlock(64), Error, "`block` 64 needs");
   * ```
   */
  checkBlock(T: number, splits: readonly Split[] = ["train", "val"]): void {
    for (const split of splits) {
      const n = this[split].length;
      if (n < T + 1) {
        throw new UsageError(
          `\`block\` ${T} needs ${T + 1} characters in the ${split} split, which has ${n}: ` +
            `use a shorter \`block\` or a longer text`,
        );
      }
    }
  }

  /**
   * Fills a batch: `B` windows at offsets drawn from `rng` (one `rng.int` per sequence, in
   * order), inputs `x[b, t] = ids[i + t]` and targets `y[b, t] = ids[i + t + 1]`.
   *
   * @example
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { Rng } from "../model/rng.ts";
   * const d = CharData.fromText("abcdefghij".repeat(20));
   * const x = new Int32Array(2 * 8), y = new Int32Array(2 * 8); // [B, T]
   * d.batch("train", new Rng(1), x, y, 2, 8);
   * assertEquals(Array.from(y.subarray(0, 7)), Array.from(x.subarray(1, 8))); // shifted by one
   * ```
   */
  batch(split: Split, rng: Rng, x: Int32Array, y: Int32Array, B: number, T: number): void {
    const ids = this[split];
    const starts = ids.length - T; // windows of T + 1 ids
    if (starts < 1) this.checkBlock(T, [split]);
    for (let b = 0; b < B; b++) {
      const i = rng.int(starts);
      x.set(ids.subarray(i, i + T), b * T);
      y.set(ids.subarray(i + 1, i + T + 1), b * T);
    }
  }
}

/**
 * The offset of the first byte where `bytes` stops being UTF-8.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(firstBadUtf8(Uint8Array.of(0x61, 0x62, 0xff)) === 2);
 * ```
 */
export function firstBadUtf8(bytes: Uint8Array): number {
  let lo = 0, hi = bytes.length; // the longest valid prefix lies in [lo, hi)
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    try {
      // streaming: a prefix that ends inside a character is still valid
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid;
    }
  }
  // back to the start of the character the prefix ends inside of, if any
  for (let k = lo; k >= Math.max(0, lo - 3); k--) {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, k));
      return k;
    } catch {
      // inside a character
    }
  }
  return lo;
}
