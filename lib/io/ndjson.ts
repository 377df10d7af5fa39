/**
 * NDJSON input: a line is a token (`[x0, …, xC-1]`), a sequence of tokens
 * (`[[…], […]]`), or an object whose field (default `embedding`) holds either.
 * Every line is checked whole before any of its rows is written, so a batch
 * only ever holds complete lines.
 *
 * @module
 */
import type { Batch, LineInfo, SlotSink } from "./batch.ts";
import { DataError } from "./errors.ts";

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
}

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
 * Decodes NDJSON lines (from `TextLineStream`) into batches in slots.
 * `info.C` is set from the first token when `C` is not given.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const slot = new Float32Array(8);
 * const sink = { capTokens: 4, open() {}, release() {}, acquire: async () => ({ slot: 0, input: slot }) };
 * const out = await Array.fromAsync(ReadableStream.from(["[1, 2]", '{"embedding": [[3, 4]]}'])
 *   .pipeThrough(ndjsonDecoder(sink, { field: "embedding", batchTokens: 4, nonfinite: "error" })));
 * assert(out[0].tokens === 2 && slot[3] === 4 && out[0].lines[1].kind === "obj");
 * ```
 */
export function ndjsonDecoder(sink: SlotSink, o: NdjsonOptions): TransformStream<string, Batch> {
  let C = o.C ?? 0;
  let lineNo = 0, index = 0, offset = 0, rows = 0;
  let cur: { slot: number; input: Float32Array } | null = null;
  let opened = false;
  let lines: LineInfo[] = [];
  const cut = (): Batch => {
    const b: Batch = { index: index++, slot: cur?.slot ?? -1, tokens: rows, offset, lines };
    offset += rows;
    rows = 0;
    lines = [];
    cur = null;
    return b;
  };
  const fail = (ctrl: TransformStreamDefaultController<Batch>, msg: string) => {
    const b = cut();
    b.fault = new DataError(`line ${lineNo}: ${msg}`);
    ctrl.enqueue(b);
    ctrl.terminate();
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
  return new TransformStream<string, Batch>({
    async transform(line, ctrl) {
      lineNo++;
      if (line.trim() === "") return;
      let v: unknown;
      try {
        v = parseLine(line);
      } catch (e) {
        return fail(ctrl, `not valid JSON (${(e as Error).message})`);
      }
      let info_: LineInfo;
      let parsed: ReturnType<typeof tokensOf>;
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        const obj = v as Record<string, unknown>;
        if (!(o.field in obj)) {
          return fail(ctrl, `object has no field '${o.field}' (choose one with --field)`);
        }
        parsed = tokensOf(obj[o.field]);
        if (typeof parsed === "string") return fail(ctrl, `field '${o.field}': ${parsed}`);
        info_ = {
          kind: "obj",
          n: parsed.tokens.length,
          obj,
          field: o.field,
          inner: parsed.kind,
          raw: line,
          span: fieldSpan(line, o.field) ?? undefined,
        };
      } else {
        parsed = tokensOf(v);
        if (typeof parsed === "string") return fail(ctrl, parsed);
        info_ = { kind: parsed.kind, n: parsed.tokens.length };
      }
      const tokens = parsed.tokens;
      for (let t = 0; t < tokens.length; t++) {
        const tok = tokens[t];
        const where = parsed.kind === "seq" ? `token ${t}: ` : "";
        if (C === 0) {
          if (tok.length === 0) return fail(ctrl, `${where}an empty token`);
          C = tok.length;
        }
        if (tok.length !== C) {
          return fail(
            ctrl,
            `${where}has ${tok.length} numbers, expected ${C} (${
              o.C ? "--dim" : "the first token's length"
            })`,
          );
        }
        for (let c = 0; c < C; c++) {
          const x = tok[c];
          if (typeof x !== "number") {
            return fail(ctrl, `${where}channel ${c} is ${kindOf(x)}, not a number`);
          }
          if (!Number.isFinite(Math.fround(x)) && o.nonfinite === "error") {
            return fail(
              ctrl,
              Number.isFinite(x)
                ? `${where}channel ${c} is ${x}, beyond float32's range (±3.4e38)`
                : `${where}channel ${c} is ${x} (use --nonfinite pass to allow)`,
            );
          }
        }
      }
      if (!opened && C > 0) {
        opened = true;
        sink.open(C); // once (openInput normally knows C and the pool is open already)
      }
      lines.push(info_);
      for (const tok of tokens) {
        if (cur === null) cur = await sink.acquire();
        cur.input.set(tok, rows * C);
        rows++;
        if (rows === o.batchTokens) ctrl.enqueue(cut());
      }
    },
    flush(ctrl) {
      if (rows > 0 || lines.length > 0) ctrl.enqueue(cut());
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
 * Where the value of the top-level key `field` stands in the text of a JSON object: `[start,
 * end)` of its last occurrence (the one `JSON.parse` keeps), or null. Output lines replace just
 * that span, so every other field keeps its original text (big integers, `1e400`, spacing).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const t = '{"id": 12345678901234567891, "embedding": [1, 2]}';
 * const [a, b] = fieldSpan(t, "embedding")!;
 * assertEquals(t.slice(a, b), "[1, 2]");
 * ```
 */
export function fieldSpan(text: string, field: string): [number, number] | null {
  const n = text.length;
  let i = 0;
  const blank = () => {
    while (i < n && (text[i] === " " || text[i] === "\t" || text[i] === "\r" || text[i] === "\n")) {
      i++;
    }
  };
  const string = () => {
    for (i++; i < n && text[i] !== '"'; i++) if (text[i] === "\\") i++;
    i++;
  };
  const value = () => {
    if (text[i] === '"') return string();
    if (text[i] === "{" || text[i] === "[") {
      let depth = 0;
      while (i < n) {
        const ch = text[i];
        if (ch === '"') {
          string();
          continue;
        }
        if (ch === "{" || ch === "[") depth++;
        else if (ch === "}" || ch === "]") {
          if (--depth === 0) {
            i++;
            return;
          }
        }
        i++;
      }
      return;
    }
    while (i < n && !",}] \t\r\n".includes(text[i])) i++; // number or literal
  };
  blank();
  if (text[i] !== "{") return null;
  i++;
  let found: [number, number] | null = null;
  for (;;) {
    blank();
    if (text[i] !== '"') return found;
    const k = i;
    string();
    let key: string;
    try {
      key = JSON.parse(text.slice(k, i));
    } catch {
      return null;
    }
    blank();
    if (text[i] !== ":") return null;
    i++;
    blank();
    const start = i;
    value();
    if (key === field) found = [start, i];
    blank();
    if (text[i] !== ",") return found;
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
