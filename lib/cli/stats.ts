/**
 * `stats merge`: combines the summaries of stats files from separate runs (shards) into the
 * summary one run over all the data would give — after checking that they prove it: one run's
 * config, token ranges that neither overlap nor leave gaps, no partial shard, and states that
 * are exact sums consistent with the numbers beside them.
 *
 * @module
 */
import { DataError, UsageError } from "../io/errors.ts";
import { checkFiles, type FileArg, OutputFile } from "../io/files.ts";
import { type Summary, summaryFromState, type SummaryState } from "../pipeline/collect.ts";
import { ExactSum, Moments, NormAcc } from "../stats/mod.ts";
import { fileError } from "./args.ts";
import { parseCommand } from "./command.ts";
import { readAll } from "./stream.ts";

/** `stats --help`. */
export const STATS_HELP =
  `Usage: deno run --allow-read=<files> mod.ts stats merge FILE... [-o OUT] > merged.ndjson

Merges the summary records of stats files (written with --stats) from runs over
separate shards of a dataset, exactly: counts, moments, loss and gradient norms
come out as one run over all the shards would give them, bit for bit. For 'run',
the per-parameter norms of the accumulated gradient cannot be rebuilt from norms;
the merged summary keeps the exact h_l2, dh_l2 and dx_l2.

What the files must prove, else exit 65 naming the file:
  - one run's config (norm, eps, seed, model, …); the message shows what differs
  - token ranges (each summary's offset and tokens) that do not overlap: a shard
    given twice, or shards that all started at --offset 0, are refused
  - no gap between them (--allow-gaps merges anyway and lists the gaps)
  - no partial shard, one whose output was closed early (--allow-partial merges
    it, and the merged summary says output_closed)
  - states that are exact sums, consistent with the numbers beside them
The merged summary carries the range it covers (offset, tokens), so it merges again.

The probe direction R is drawn per global token index: give each shard the
same --seed and its --offset (the index of its first token in the whole
stream), and the merged gradient statistics equal one run's.

  FILE...                     stats files; - = stdin
  -o, --output FILE           write the merged summary to FILE (- = stdout, the default)
  --allow-gaps                merge shards with gaps between their ranges (listed)
  --allow-partial             merge shards whose output was closed early

Example (two shards of 5000 tokens):
  deno run --allow-read=. --allow-write=. mod.ts normalize --stats a.stats < a.npy > a.out.npy
  deno run --allow-read=. --allow-write=. mod.ts normalize --stats b.stats --offset 5000 < b.npy > b.out.npy
  deno run --allow-read=. mod.ts stats merge a.stats b.stats`;

/** A summary and the file it came from. */
export interface SummaryFile {
  /** the summary record */
  summary: Summary;
  /** the file, for messages */
  file: string;
}

/** Options of `mergeSummaries`. */
export interface MergeOptions {
  /** merge across gaps between the shards' token ranges (they are listed in `gaps`) */
  allowGaps?: boolean;
  /** merge shards whose output was closed early */
  allowPartial?: boolean;
}

const isWhole = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/**
 * Checks that `s` is a summary record whose state is a valid exact-sum state, consistent with
 * the numbers derived from it; a `DataError` names the file and the field.
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * assertThrows(() => validateSummary({ type: "summary" }, "a.stats"), Error, "a.stats");
 * ```
 */
export function validateSummary(s: unknown, file: string): asserts s is Summary {
  const bad = (field: string, why: string): never => {
    throw new DataError(`${file}: the summary's ${field} ${why}`);
  };
  if (typeof s !== "object" || s === null || Array.isArray(s)) {
    throw new DataError(`${file}: the summary is not a JSON object`);
  }
  const r = s as Record<string, unknown>;
  if (r.command !== "normalize" && r.command !== "run") bad("command", "is not normalize or run");
  if (typeof r.config !== "object" || r.config === null) bad("config", "is not an object");
  for (const k of ["tokens_in", "tokens_out", "batches", "nonfinite_tokens", "nonfinite_outputs"]) {
    if (!isWhole(r[k])) bad(k, `must be a whole number ≥ 0, got ${JSON.stringify(r[k])}`);
  }
  if (r.offset === undefined || r.tokens === undefined) {
    throw new DataError(
      `${file}: the summary has no token range (offset, tokens): it was written before ` +
        `lnstream 0.4; run the shard again`,
    );
  }
  for (const k of ["offset", "tokens"]) {
    if (!isWhole(r[k])) bad(k, `must be a whole number ≥ 0, got ${JSON.stringify(r[k])}`);
  }
  if ((r.offset as number) + (r.tokens as number) > Number.MAX_SAFE_INTEGER) {
    bad("offset", "and tokens pass 2^53");
  }
  if (r.tokens !== r.tokens_in) bad("tokens", `(${r.tokens}) differs from tokens_in`);
  if ((r.tokens_out as number) > (r.tokens_in as number)) bad("tokens_out", "exceeds tokens_in");
  if (typeof r.state !== "object" || r.state === null) bad("state", "is missing");
  const st = r.state as Record<string, unknown>;
  const C = (r.config as Record<string, unknown>).C;
  const partials = (field: string, p: unknown, nonNegative = false) => {
    let sum: ExactSum;
    try {
      sum = ExactSum.from(p);
    } catch (e) {
      return bad(field, (e as Error).message);
    }
    // a state is written in one form only (toJSON's): anything else was edited
    if (JSON.stringify(sum.toJSON()) !== JSON.stringify(p)) {
      bad(field, `is not an exact sum's partials (${JSON.stringify(p).slice(0, 60)})`);
    }
    if (nonNegative && sum.value() < 0) bad(field, "is a negative sum of squares");
  };
  for (const k of ["input", "output"]) {
    const m = st[k] as Record<string, unknown> | undefined;
    const f = `state.${k}`;
    if (typeof m !== "object" || m === null) bad(f, "is missing");
    for (const n of ["n", "tokens"]) {
      if (!isWhole(m![n])) bad(`${f}.${n}`, `must be a whole number ≥ 0, got ${m![n]}`);
    }
    if (typeof C === "number" && m!.n !== (m!.tokens as number) * C) {
      bad(`${f}.n`, `(${m!.n}) is not tokens × C (${m!.tokens} × ${C})`);
    }
    if ((m!.tokens as number) > (r.tokens_in as number)) bad(`${f}.tokens`, "exceeds tokens_in");
    for (const p of ["s", "q", "m2"]) partials(`${f}.${p}`, m![p], p !== "s");
    for (const e of ["min", "max"]) {
      const v = m![e];
      if (m!.n === 0 ? v !== null : !(typeof v === "number" && Number.isFinite(v))) {
        bad(`${f}.${e}`, `must be ${m!.n === 0 ? "null" : "a finite number"}, got ${v}`);
      }
    }
    if (m!.n !== 0 && (m!.min as number) > (m!.max as number)) bad(`${f}.min`, "exceeds max");
  }
  partials("state.loss", st.loss);
  for (const k of ["dy", "dx"]) {
    const a = st[k] as Record<string, unknown> | undefined;
    if (typeof a !== "object" || a === null) bad(`state.${k}`, "is missing");
    partials(`state.${k}.sq`, a!.sq, true);
    const m = a!.max_abs;
    if (!(m === null || (typeof m === "number" && m >= 0))) {
      bad(`state.${k}.max_abs`, `must be a number ≥ 0, got ${JSON.stringify(m)}`);
    }
  }
  if (r.command === "run" && C !== null) {
    const layers = (r.config as Record<string, unknown>).layers;
    if (!Array.isArray(st.layers) || st.layers.length !== layers) {
      bad("state.layers", `must hold ${layers} layers`);
    }
    (st.layers as Record<string, unknown>[]).forEach((l, i) => {
      partials(`state.layers[${i}].h_sq`, l?.h_sq, true);
      partials(`state.layers[${i}].dh_sq`, l?.dh_sq, true);
    });
  }
  // the loss is Σ y·∂L/∂y (the probe's; half of it for l2), so Cauchy–Schwarz bounds it by
  // √(Σy² · ‖∂L/∂y‖²), both in the state: a loss past that was not computed
  const out = st.output as { q: unknown; m2: unknown }, dy = st.dy as { sq: unknown };
  const loss = ExactSum.from(st.loss).value();
  const y2 = ExactSum.from(out.q).value() + ExactSum.from(out.m2).value();
  const bound = Math.sqrt(y2 * ExactSum.from(dy.sq).value());
  if (r.nonfinite_outputs === 0 && Number.isFinite(loss) && Math.abs(loss) > bound * (1 + 1e-6)) {
    bad("state.loss", `(${loss}) is past √(Σy² · ‖∂L/∂y‖²) = ${bound}, which bounds it`);
  }
  // the numbers beside the state must be the state's own
  const derived = summaryFromState(r as unknown as Summary);
  const keys: (keyof Summary)[] = ["input", "output", "loss"];
  if (r.command === "normalize" || (r.grad as { note?: string })?.note) keys.push("grad");
  for (const k of keys) {
    if (JSON.stringify(derived[k]) !== JSON.stringify(r[k])) {
      bad(k, "does not follow from the state (the file was edited, or is not lnstream's)");
    }
  }
}

/**
 * Merges summaries exactly, after checking they are shards of one run (see the module doc).
 * Returns the merged summary; `gaps` lists the ranges no shard covered (with `allowGaps`).
 *
 * @example
 * ```ts ignore
 * const merged = mergeSummaries([{ summary: a, file: "a.stats" }, { summary: b, file: "b.stats" }]);
 * ```
 */
export function mergeSummaries(files: SummaryFile[], o: MergeOptions = {}): Summary {
  if (files.length === 0) throw new UsageError("stats merge needs at least one file");
  for (const { summary, file } of files) validateSummary(summary, file);
  // an empty shard never learned C: it merges with any shard whose config is otherwise equal
  const first = files[0];
  for (const p of files) {
    const a = first.summary, b = p.summary;
    const diff = configDiff(a, b);
    if (diff.length > 0) {
      throw new DataError(
        `stats merge: ${first.file} and ${p.file} come from different runs: ${diff.join("; ")}`,
      );
    }
  }
  const parts = files.map((f) => f.summary);
  const cs = new Set(parts.map((p) => p.config.C).filter((c) => c !== null && c !== undefined));
  // token ranges: sorted by offset, no overlap, no gap (empty shards cover nothing)
  const ranged = files.filter((f) => f.summary.tokens > 0)
    .sort((x, y) => x.summary.offset - y.summary.offset);
  const gaps: [number, number][] = [];
  const span = (f: SummaryFile) =>
    `${f.file} (tokens ${f.summary.offset}–${f.summary.offset + f.summary.tokens - 1})`;
  for (let i = 1; i < ranged.length; i++) {
    const prev = ranged[i - 1], cur = ranged[i];
    const end = prev.summary.offset + prev.summary.tokens;
    if (cur.summary.offset < end) {
      const same = cur.summary.offset === prev.summary.offset &&
        cur.summary.tokens === prev.summary.tokens;
      throw new DataError(
        `stats merge: ${span(cur)} ${same ? "duplicates" : "overlaps"} ${span(prev)}` +
          (same ? "" : "; give each shard its own --offset"),
      );
    }
    if (cur.summary.offset > end) {
      if (!o.allowGaps) {
        throw new DataError(
          `stats merge: no shard covers tokens ${end}–${cur.summary.offset - 1} (between ` +
            `${prev.file} and ${cur.file}); --allow-gaps merges anyway`,
        );
      }
      gaps.push([end, cur.summary.offset]);
    }
  }
  const partial = files.filter((f) => f.summary.output_closed);
  if (partial.length > 0 && !o.allowPartial) {
    throw new DataError(
      `stats merge: ${partial[0].file} is a partial shard (its output was closed after ` +
        `${partial[0].summary.tokens} tokens); --allow-partial merges it anyway`,
    );
  }
  const config = { ...parts[0].config, C: cs.size ? [...cs][0] : null };
  const mom = (k: "input" | "output") => {
    const m = new Moments();
    for (const p of parts) m.merge(Moments.from(p.state[k]));
    return m.toJSON();
  };
  const norm = (k: "dy" | "dx") => {
    const a = new NormAcc();
    for (const p of parts) a.merge(NormAcc.from(p.state[k]));
    return a.toJSON();
  };
  const loss = new ExactSum();
  for (const p of parts) loss.merge(ExactSum.from(p.state.loss));
  const state: SummaryState = {
    input: mom("input"),
    output: mom("output"),
    loss: loss.toJSON(),
    dy: norm("dy"),
    dx: norm("dx"),
  };
  const layered = parts.find((p) => p.state.layers)?.state.layers; // empty shards have none
  if (layered) {
    state.layers = layered.map((_, l) => {
      const h = new ExactSum(), dh = new ExactSum();
      for (const p of parts) {
        if (!p.state.layers) continue;
        h.merge(ExactSum.from(p.state.layers[l].h_sq));
        dh.merge(ExactSum.from(p.state.layers[l].dh_sq));
      }
      return { h_sq: h.toJSON(), dh_sq: dh.toJSON() };
    });
  }
  const sum = (
    k: "tokens_in" | "tokens_out" | "batches" | "nonfinite_tokens" | "nonfinite_outputs",
  ) => parts.reduce((a, p) => a + p[k], 0);
  const wall = parts.reduce((a, p) => a + p.timing.wall_s, 0);
  const merged = summaryFromState(
    {
      command: parts[0].command,
      config,
      offset: ranged.length ? ranged[0].summary.offset : parts[0].offset,
      tokens: sum("tokens_in"),
      tokens_in: sum("tokens_in"),
      tokens_out: sum("tokens_out"),
      batches: sum("batches"),
      nonfinite_tokens: sum("nonfinite_tokens"),
      nonfinite_outputs: sum("nonfinite_outputs"),
      state,
      timing: { wall_s: wall, tokens_per_s: wall > 0 ? sum("tokens_out") / wall : 0 },
    },
    undefined,
    partial.length > 0,
  );
  return gaps.length > 0 ? { ...merged, gaps } : merged;
}

/** What differs between two summaries' runs (command and config; an unknown C matches any). */
function configDiff(a: Summary, b: Summary): string[] {
  const out: string[] = [];
  if (a.command !== b.command) out.push(`command ${a.command} vs ${b.command}`);
  const keys = new Set([...Object.keys(a.config), ...Object.keys(b.config)]);
  for (const k of keys) {
    const x = a.config[k], y = b.config[k];
    if (k === "C" && (x === null || y === null)) continue;
    if (JSON.stringify(x) !== JSON.stringify(y)) {
      out.push(`config.${k} ${JSON.stringify(x) ?? "(none)"} vs ${JSON.stringify(y) ?? "(none)"}`);
    }
  }
  return out;
}

/** The summary record of a stats file's text. */
function summaryOf(text: string, file: string): Summary {
  let found: unknown = undefined;
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      throw new DataError(`${file}: line ${i + 1}: not JSON`);
    }
    if (typeof r !== "object" || r === null || Array.isArray(r)) {
      throw new DataError(`${file}: line ${i + 1}: not a stats record (a JSON object)`);
    }
    if ((r as { type?: unknown }).type === "summary") found = r;
  });
  if (found === undefined) {
    throw new DataError(`${file}: no summary record (did the run finish?)`);
  }
  validateSummary(found, file);
  return found;
}

/** Reads a whole input (a file, or stdin for `-`) as text. */
async function readText(path: string): Promise<string> {
  return new TextDecoder().decode(await readAll(path));
}

/** Runs `stats <sub>`; returns the exit code. */
export async function stats(args: string[]): Promise<number> {
  const f = parseCommand(args, {
    name: "stats",
    strings: ["output"],
    booleans: ["allow-gaps", "allow-partial"],
    alias: { o: "output" },
    positionals: Infinity,
    help: STATS_HELP,
  });
  if (f === null) return 0;
  const [sub, ...files] = f._.map(String);
  if (sub === undefined) {
    console.error("usage: lnstream stats merge FILE... (see: lnstream stats --help)");
    return 64;
  }
  if (sub !== "merge") {
    throw new UsageError(`stats: unknown subcommand '${sub}' (try: stats merge)`);
  }
  if (files.length === 0) throw new UsageError("stats merge needs at least one stats FILE");
  const inputs: FileArg[] = files.map((path) => ({ flag: "FILE", path }));
  const target: FileArg = { flag: "-o", path: f.output === undefined ? "-" : String(f.output) };
  checkFiles(inputs, [target]);
  const parts: SummaryFile[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readText(file);
    } catch (e) {
      if ((e as { exitCode?: number }).exitCode !== undefined) throw e;
      throw fileError(e, file, file, "read");
    }
    parts.push({ summary: summaryOf(text, file === "-" ? "stdin" : file), file });
  }
  const merged = mergeSummaries(parts, {
    allowGaps: f["allow-gaps"] === true,
    allowPartial: f["allow-partial"] === true,
  });
  const gaps = (merged as { gaps?: [number, number][] }).gaps;
  if (gaps) {
    console.error(
      `stats merge: merged across ${gaps.length} gap(s): tokens ` +
        gaps.map(([a, b]) => `${a}–${b - 1}`).join(", "),
    );
  }
  const out = OutputFile.create(target);
  await out.write(new TextEncoder().encode(JSON.stringify(merged) + "\n"));
  out.commit();
  return 0;
}
