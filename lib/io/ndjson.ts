/**
 * NDJSON input: a line is a token (`[x0, …, xC-1]`), a sequence of tokens
 * (`[[…], […]]`), or an object whose field (default `embedding`) holds either.
 * Every line is checked whole before any of its rows is written, so a batch
 * only ever holds complete lines. Lines come as bytes (`lineChunks`): an object line keeps
 * its bytes, so its output changes the embedding's text and nothing else.
 *
 * @module
 */
import type { Batch, LineInfo, SlotSink } from "./batch.ts";
import { DataError } from "./errors.ts";
import { isBlankLine, isEmptyArray, type LineChunk, LineCursor } from "./lines.ts";

/** Options of `ndjsonDecoder`. */
export interface NdjsonOptions {
  /** channels per token; taken from the first token when not given */
  C?: number;
  /** the object field holding the embedding */
  field: string;
  /** rows per batch */
  batchTokens: number;
  /** `error` (default) refuses NaN and ±Infinity; `pass` lets them through */
  nonfinite: "error" | "pass";
  /**
   * a batch holding many lines without tokens (`[]`, blank embeddings) is cut early only after
   * a multiple of this many rows (run: its sequence length, so sequences stay whole; default 1)
   */
  align?: number;
}

/** Lines a batch may carry beyond its tokens before it is cut early: memory stays flat. */
const LINES_PER_BATCH = 4096;

/** Token lines and empty ones share one description each (many short lines allocate nothing). */
const TOKEN_LINE: LineInfo = Object.freeze({ kind: "token", n: 1 });
const TOKEN_LINE_CRLF: LineInfo = Object.freeze({ kind: "token", n: 1, crlf: true });
const EMPTY_LINE: LineInfo = Object.freeze({ kind: "seq", n: 0 });
const EMPTY_LINE_CRLF: LineInfo = Object.freeze({ kind: "seq", n: 0, crlf: true });

const NONFINITE = /(?<![\w."])(-?Infinity|NaN)(?![\w"])/g;

/** JSON.parse, also accepting the bare NaN / Infinity that Python writes. */
/**
 * Parses one NDJSON line; bare `NaN`, `Infinity` and `-Infinity` are accepted as numbers.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(Number.isNaN((parseLine("[1, NaN]") as number[])[1]));
 * ```
 */
export function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (e) {
    if (NONFINITE.test(line)) {
      NONFINITE.lastIndex = 0;
      const v = JSON.parse(
        line.replace(NONFINITE, '"$1"'),
        (_k, x) =>
          x === "NaN" ? NaN : x === "Infinity" ? Infinity : x === "-Infinity" ? -Infinity : x,
      );
      return v;
    }
    throw e;
  }
}

/**
 * Decodes NDJSON lines (from `lineChunks`) into batches in slots. `info.C` is set from the
 * first token when `C` is not given.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { lineChunks } from "./lines.ts";
 * const slot = new Float32Array(8);
 * const sink = { capTokens: 4, open() {}, release() {}, acquire: async () => ({ slot: 0, input: slot }) };
 * const text = new TextEncoder().encode('[1, 2]\n{"embedding": [[3, 4]]}\n');
 * const out = await Array.fromAsync(ReadableStream.from([text]).pipeThrough(lineChunks())
 *   .pipeThrough(ndjsonDecoder(sink, { field: "embedding", batchTokens: 4, nonfinite: "error" })));
 * assert(out[0].tokens === 2 && slot[3] === 4 && out[0].lines[1].kind === "obj");
 * ```
 */
export function ndjsonDecoder(
  sink: SlotSink,
  o: NdjsonOptions,
): TransformStream<LineChunk, Batch> {
  let C = o.C ?? 0;
  let lineNo = 0, index = 0, offset = 0, rows = 0;
  let slot: { slot: number; input: Float32Array } | null = null;
  let opened = false, ended = false;
  let lines: LineInfo[] = [];
  const align = o.align ?? 1;
  const text = new TextDecoder();
  const cut = (fault?: Error): Batch => {
    const b: Batch = {
      index: index++,
      slot: slot?.slot ?? -1,
      tokens: rows,
      offset,
      lines,
      ...(fault ? { fault } : {}),
    };
    offset += rows;
    rows = 0;
    lines = [];
    slot = null;
    return b;
  };
  const fail = (ctrl: TransformStreamDefaultController<Batch>, msg: string) => {
    ctrl.enqueue(cut(new DataError(`line ${lineNo}: ${msg}`)));
    ctrl.terminate();
    ended = true;
  };
  /** the tokens of a line, checked; or an error message */
  const tokensOf = (v: unknown): { tokens: number[][]; kind: "token" | "seq" } | string => {
    if (!Array.isArray(v)) return `expected an array of numbers or of tokens, got ${kindOf(v)}`;
    if (v.length === 0 || Array.isArray(v[0])) {
      for (let t = 0; t < v.length; t++) {
        if (!Array.isArray(v[t])) return `sequence item ${t} is ${kindOf(v[t])}, not a token array`;
      }
      return { tokens: v as number[][], kind: "seq" };
    }
    return { tokens: [v as number[]], kind: "token" };
  };
  /** checks a line's tokens; an error message, or null */
  const check = (tokens: number[][], seq: boolean): string | null => {
    for (let t = 0; t < tokens.length; t++) {
      const tok = tokens[t];
      const where = seq ? `token ${t}: ` : "";
      if (C === 0) {
        if (tok.length === 0) return `${where}an empty token`;
        C = tok.length;
      }
      if (tok.length !== C) {
        return `${where}has ${tok.length} numbers, expected ${C} (${
          o.C ? "`dim`" : "the first token's length"
        })`;
      }
      for (let c = 0; c < C; c++) {
        const x = tok[c];
        if (typeof x !== "number") return `${where}channel ${c} is ${kindOf(x)}, not a number`;
        // a finite number past float32's range is bad data whatever --nonfinite says
        if (Number.isFinite(x) && !Number.isFinite(Math.fround(x))) {
          return `${where}channel ${c} is ${x}, beyond float32's range (±3.4e38)`;
        }
        if (!Number.isFinite(x) && o.nonfinite === "error") {
          return `${where}channel ${c} is ${x} (use \`nonfinite: pass\` to allow)`;
        }
      }
    }
    return null;
  };
  return new TransformStream<LineChunk, Batch>({
    async transform(chunk, ctrl) {
      const bytes = chunk.bytes, cur = new LineCursor(chunk);
      while (!ended && cur.next()) {
        lineNo = cur.line;
        const a = cur.start, e = cur.end, crlf = cur.crlf;
        if (isBlankLine(bytes, a, e)) continue;
        if (isEmptyArray(bytes, a, e)) {
          // `[]`: a line of no tokens, as parsing it would find (without parsing it)
          lines.push(crlf ? EMPTY_LINE_CRLF : EMPTY_LINE);
          if (lines.length >= LINES_PER_BATCH && rows % align === 0) ctrl.enqueue(cut());
          continue;
        }
        let v: unknown;
        try {
          v = parseLine(text.decode(bytes.subarray(a, e)));
        } catch (err) {
          return fail(ctrl, `not valid JSON (${(err as Error).message})`);
        }
        let info: LineInfo;
        let parsed: ReturnType<typeof tokensOf>;
        if (v !== null && typeof v === "object" && !Array.isArray(v)) {
          const obj = v as Record<string, unknown>;
          if (!(o.field in obj)) {
            return fail(ctrl, `object has no field '${o.field}' (choose one with \`field\`)`);
          }
          parsed = tokensOf(obj[o.field]);
          if (typeof parsed === "string") return fail(ctrl, `field '${o.field}': ${parsed}`);
          const raw = bytes.slice(a, e); // its own copy: the line outlives the chunk
          info = {
            kind: "obj",
            n: parsed.tokens.length,
            obj,
            field: o.field,
            inner: parsed.kind,
            raw,
            span: fieldSpan(raw, o.field) ?? undefined,
            ...(crlf ? { crlf } : {}),
          };
        } else {
          parsed = tokensOf(v);
          if (typeof parsed === "string") return fail(ctrl, parsed);
          const n = parsed.tokens.length;
          info = parsed.kind === "token"
            ? (crlf ? TOKEN_LINE_CRLF : TOKEN_LINE)
            : n === 0
            ? (crlf ? EMPTY_LINE_CRLF : EMPTY_LINE)
            : { kind: "seq", n, ...(crlf ? { crlf } : {}) };
        }
        const bad = check(parsed.tokens, parsed.kind === "seq");
        if (bad !== null) return fail(ctrl, bad);
        if (!opened && C > 0) {
          opened = true;
          sink.open(C); // once (openInput normally knows C and the pool is open already)
        }
        lines.push(info);
        for (const tok of parsed.tokens) {
          if (slot === null) slot = await sink.acquire();
          slot.input.set(tok, rows * C);
          rows++;
          if (rows === o.batchTokens) ctrl.enqueue(cut());
        }
        // lines without tokens pile up only so far (sequences of `align` rows stay whole)
        if (lines.length >= LINES_PER_BATCH && rows % align === 0) ctrl.enqueue(cut());
      }
    },
    flush(ctrl) {
      if (!ended && (rows > 0 || lines.length > 0)) ctrl.enqueue(cut());
    },
  });
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v).slice(0, 40)}`;
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * Where the value of the top-level key `field` stands in the bytes of a JSON object: `[start,
 * end)` of its last occurrence (the one `JSON.parse` keeps), or null. Output lines replace just
 * that span, so every other byte of the line is kept (big integers, `1e400`, spacing, bytes
 * that are not UTF-8). JSON's structure is ASCII, so the scan reads bytes.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const t = new TextEncoder().encode('{"id": 12345678901234567891, "embedding": [1, 2]}');
 * const [a, b] = fieldSpan(t, "embedding")!;
 * assertEquals(new TextDecoder().decode(t.subarray(a, b)), "[1, 2]");
 * ```
 */
export function fieldSpan(text: Uint8Array, field: string): [number, number] | null {
  const n = text.length;
  const Q = 0x22, BS = 0x5c, LB = 0x7b, RB = 0x7d, LS = 0x5b, RS = 0x5d, COLON = 0x3a;
  const COMMA = 0x2c;
  const isBlank = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
  let i = 0;
  const blank = () => {
    while (i < n && isBlank(text[i])) i++;
  };
  const string = () => {
    for (i++; i < n && text[i] !== Q; i++) if (text[i] === BS) i++;
    i++;
  };
  const value = () => {
    if (text[i] === Q) return string();
    if (text[i] === LB || text[i] === LS) {
      let depth = 0;
      while (i < n) {
        const ch = text[i];
        if (ch === Q) {
          string();
          continue;
        }
        if (ch === LB || ch === LS) depth++;
        else if (ch === RB || ch === RS) {
          if (--depth === 0) {
            i++;
            return;
          }
        }
        i++;
      }
      return;
    }
    // a number or a literal
    while (i < n && text[i] !== COMMA && text[i] !== RB && text[i] !== RS && !isBlank(text[i])) {
      i++;
    }
  };
  const dec = new TextDecoder();
  blank();
  if (text[i] === 0xef && text[i + 1] === 0xbb && text[i + 2] === 0xbf) i += 3; // a BOM
  blank();
  if (text[i] !== LB) return null;
  i++;
  let found: [number, number] | null = null;
  for (;;) {
    blank();
    if (text[i] !== Q) return found;
    const k = i;
    string();
    let key: string;
    try {
      key = JSON.parse(dec.decode(text.subarray(k, i)));
    } catch {
      return null;
    }
    blank();
    if (text[i] !== COLON) return null;
    i++;
    blank();
    const start = i;
    value();
    if (key === field) found = [start, i];
    blank();
    if (text[i] !== COMMA) return found;
    i++;
  }
}

/**
 * The length of the first token a parsed NDJSON line holds: a token's, or the first of a
 * sequence (in an object, under `field`). 0 when the line holds no token (an empty sequence);
 * null when it is not a token line at all.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(firstTokenLength({ embedding: [[1, 2], [3, 4]] }, "embedding") === 2);
 * assert(firstTokenLength([], "embedding") === 0 && firstTokenLength("x", "embedding") === null);
 * ```
 */
export function firstTokenLength(v: unknown, field: string): number | null {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) {
    const inner = (v as Record<string, unknown>)[field];
    return inner === undefined ? null : firstTokenLength(inner, field);
  }
  if (!Array.isArray(v)) return null;
  if (v.length === 0) return 0;
  if (Array.isArray(v[0])) return (v[0] as unknown[]).length;
  return v.length;
}
