/**
 * Tokenizers: text → token ids and back. GPT-2's byte-level BPE (the `gpt2`/`r50k_base` ranks,
 * from the npm package `js-tiktoken`, which ships them: nothing is fetched when it runs) and the
 * character vocabulary of lnstream's own checkpoints.
 *
 * @module
 */
import { DataError } from "../io/errors.ts";

/** Text to ids and back. */
export interface Tokenizer {
  /** `gpt2` or `chars` */
  readonly name: string;
  /** ids run from 0 to `vocabSize − 1` */
  readonly vocabSize: number;
  /** the ids of `text`, exactly as given (no BOS or other token added) */
  encode(text: string): number[];
  /** the text of `ids` */
  decode(ids: ArrayLike<number>): string;
}

/**
 * A character-level tokenizer over `vocab` (an id is an index into it); a character outside it
 * is a `DataError` naming it and its position.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const t = charTokenizer(["\n", "a", "b"]);
 * assertEquals(t.encode("ab\n"), [1, 2, 0]);
 * assertEquals(t.decode([2, 1]), "ba");
 * ```
 */
export function charTokenizer(vocab: readonly string[]): Tokenizer {
  const ids = new Map(vocab.map((ch, i) => [ch, i]));
  return {
    name: "chars",
    vocabSize: vocab.length,
    encode(text: string): number[] {
      const chars = Array.from(text);
      return chars.map((ch, i) => {
        const id = ids.get(ch);
        if (id === undefined) {
          throw new DataError(
            `character ${i} of the text, ${JSON.stringify(ch)}, is not in the model's vocabulary ` +
              `(${vocab.length} characters)`,
          );
        }
        return id;
      });
    },
    decode(list: ArrayLike<number>): string {
      let s = "";
      for (let i = 0; i < list.length; i++) s += vocab[list[i]] ?? "\uFFFD";
      return s;
    },
  };
}

/** GPT-2's vocabulary size. */
export const GPT2_VOCAB = 50257;

let gpt2: Promise<Tokenizer> | null = null;

/**
 * GPT-2's byte-level BPE (50257 ids; `<|endoftext|>` is 50256 but never produced from text).
 * Built once per thread (~0.2 s); the ranks come with the npm package.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const t = await gpt2Tokenizer();
 * assertEquals(t.encode("Hello world"), [15496, 995]);
 * assertEquals(t.decode([15496, 995]), "Hello world");
 * ```
 */
export function gpt2Tokenizer(): Promise<Tokenizer> {
  gpt2 ??= (async () => {
    // loaded on first use only: a project that never tokenizes GPT-2 text never fetches it
    // deno-lint-ignore no-import-prefix -- kept out of the import map that consumers resolve
    const { Tiktoken } = await import("npm:js-tiktoken@1.0.21/lite");
    // deno-lint-ignore no-import-prefix -- as above
    const ranks = (await import("npm:js-tiktoken@1.0.21/ranks/gpt2")).default;
    const enc = new Tiktoken(ranks);
    return {
      name: "gpt2",
      vocabSize: GPT2_VOCAB,
      // every special token is text here: "<|endoftext|>" in a file is its characters
      encode: (text: string) => enc.encode(text, [], []),
      decode: (ids: ArrayLike<number>) => enc.decode(Array.from(ids)),
    };
  })();
  return gpt2;
}
