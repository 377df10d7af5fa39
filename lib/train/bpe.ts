/**
 * A Hugging Face `tokenizer.json` of GPT-2's kind: a byte-level BPE (model `BPE`, pre-tokenizer
 * `ByteLevel`): text split by GPT-2's pattern, each piece's UTF-8 bytes written as GPT-2's
 * printable characters, then merged pair by pair in the order of `merges`.
 *
 * @module
 */
import { DataError } from "../io/errors.ts";
import type { Tokenizer } from "./tokenizer.ts";

/** GPT-2's pre-tokenizer pattern (contractions, letters, numbers, other runs, spaces). */
const PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's byte → printable character table (bytes that print stand for themselves). */
function byteChars(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const out: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    out[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + n++);
  }
  return out;
}

/**
 * The tokenizer of a `tokenizer.json` (its parsed JSON; `what` names it in errors): a byte-level
 * BPE, or a `DataError` saying what it is instead. Special tokens are not matched in text: their
 * characters are text, as with the GPT-2 tokenizer.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const vocab: Record<string, number> = { "h": 0, "i": 1, "hi": 2, "Ġ": 3 };
 * const t = bpeTokenizer({
 *   model: { type: "BPE", vocab, merges: [["h", "i"]] },
 *   pre_tokenizer: { type: "ByteLevel", add_prefix_space: false },
 * }, "tokenizer.json");
 * assertEquals(t.encode("hi hi"), [2, 3, 2]);
 * assertEquals(t.decode([2, 3, 2]), "hi hi");
 * ```
 */
export function bpeTokenizer(json: unknown, what: string): Tokenizer {
  const j = json as {
    model?: { type?: string; vocab?: Record<string, number>; merges?: unknown[] };
    pre_tokenizer?: { type?: string; add_prefix_space?: boolean };
  };
  const m = j?.model;
  if (m?.type !== "BPE" || typeof m.vocab !== "object" || !Array.isArray(m.merges)) {
    throw new DataError(`${what}: model ${JSON.stringify(m?.type)}: a BPE model is read`);
  }
  if (j.pre_tokenizer?.type !== "ByteLevel") {
    throw new DataError(
      `${what}: pre-tokenizer ${JSON.stringify(j.pre_tokenizer?.type)}: a byte-level BPE ` +
        `(GPT-2's kind) is read`,
    );
  }
  const vocab = new Map<string, number>(), tokens: string[] = [];
  for (const [tok, id] of Object.entries(m.vocab)) {
    if (!(Number.isInteger(id) && id >= 0)) {
      throw new DataError(`${what}: token ${tok} has id ${id}`);
    }
    vocab.set(tok, id);
    tokens[id] = tok;
  }
  const ranks = new Map<string, number>();
  m.merges.forEach((pair, i) => {
    const [a, b] = typeof pair === "string" ? pair.split(" ") : (pair as string[]);
    if (typeof a !== "string" || typeof b !== "string") {
      throw new DataError(`${what}: merge ${i} is not a pair of tokens`);
    }
    ranks.set(`${a} ${b}`, i);
  });
  const chars = byteChars(), byteOf = new Map(chars.map((c, b) => [c, b]));
  const prefix = j.pre_tokenizer.add_prefix_space === true;
  const cache = new Map<string, number[]>();
  const enc = new TextEncoder(), dec = new TextDecoder();
  const bpe = (piece: string): number[] => {
    const hit = cache.get(piece);
    if (hit) return hit;
    let word = Array.from(enc.encode(piece), (b) => chars[b]);
    for (;;) {
      let best = -1, at = -1;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && (best < 0 || r < best)) [best, at] = [r, i];
      }
      if (at < 0) break;
      const [a, b] = [word[at], word[at + 1]], next: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(word[i]);
      }
      word = next;
    }
    const ids = word.map((t) => {
      const id = vocab.get(t);
      if (id === undefined) throw new DataError(`${what}: its merges make ${t}, not in its vocab`);
      return id;
    });
    if (cache.size < 100_000) cache.set(piece, ids);
    return ids;
  };
  return {
    name: "tokenizer.json",
    vocabSize: tokens.length,
    encode(text: string): number[] {
      const out: number[] = [];
      for (const p of (prefix && !text.startsWith(" ") ? " " + text : text).match(PATTERN) ?? []) {
        out.push(...bpe(p));
      }
      return out;
    },
    decode(ids: ArrayLike<number>): string {
      const bytes: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        for (const c of tokens[ids[i]] ?? "") {
          const b = byteOf.get(c);
          if (b !== undefined) bytes.push(b);
        }
      }
      return dec.decode(Uint8Array.from(bytes));
    },
  };
}
