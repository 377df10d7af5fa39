/**
 * `stats merge`: combines the summaries of stats files from separate runs
 * (shards) into the summary one run over all the data would give.
 *
 * @module
 */
import { parseArgs } from "../std/mod.ts";
import { DataError, UsageError } from "../io/errors.ts";
import { type Summary, summaryFromState, type SummaryState } from "../pipeline/collect.ts";
import { ExactSum, Moments, NormAcc } from "../stats/mod.ts";
import { refuseUnknown } from "./args.ts";

/** `stats --help`. */
export const STATS_HELP = `Usage: deno run --allow-read mod.ts stats merge FILE... > merged.ndjson

Merges the summary records of stats files (written with --stats) from runs over
separate shards of a dataset, exactly: counts, moments, loss and gradient norms
come out as one run over all the shards would give them, bit for bit. The runs
must share their config (norm, eps, seed, model, …). For 'run', the
per-parameter norms of the accumulated gradient cannot be rebuilt from norms;
the merged summary keeps the exact h_l2, dh_l2 and dx_l2.

The probe direction R is drawn per global token index: give each shard the
same --seed and its --offset (the index of its first token in the whole
stream), and the merged gradient statistics equal one run's.

Example (two shards of 5000 tokens):
  deno run --allow-read=. --allow-write=a.stats mod.ts normalize --stats a.stats < a.npy > a.out.npy
  deno run --allow-read=. --allow-write=b.stats mod.ts normalize --stats b.stats --offset 5000 < b.npy > b.out.npy
  deno run --allow-read=. mod.ts stats merge a.stats b.stats`;

/**
 * Merges summaries exactly.
 *
 * @example
 * ```ts ignore
 * const merged = mergeSummaries([a, b]);
 * ```
 */
export function mergeSummaries(parts: Summary[]): Summary {
  if (parts.length === 0) throw new UsageError("stats merge needs at least one file");
  // an empty shard never learned C: it merges with any shard whose config is otherwise equal
  const bare = (p: Summary) => JSON.stringify({ ...p.config, C: null });
  const cs = new Set(parts.map((p) => p.config.C).filter((c) => c !== null && c !== undefined));
  const cfg = bare(parts[0]);
  for (const p of parts) {
    if (p.command !== parts[0].command || bare(p) !== cfg || cs.size > 1) {
      throw new UsageError(
        `stats merge: runs differ (${parts[0].command} ${
          JSON.stringify(parts[0].config)
        } vs ${p.command} ${JSON.stringify(p.config)})`,
      );
    }
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
        if (p.tokens_in === 0 && !p.state.layers) continue;
        h.merge(ExactSum.from(p.state.layers![l].h_sq));
        dh.merge(ExactSum.from(p.state.layers![l].dh_sq));
      }
      return { h_sq: h.toJSON(), dh_sq: dh.toJSON() };
    });
  }
  const sum = (
    k: "tokens_in" | "tokens_out" | "batches" | "nonfinite_tokens" | "nonfinite_outputs",
  ) => parts.reduce((a, p) => a + (p[k] ?? 0), 0);
  const wall = parts.reduce((a, p) => a + p.timing.wall_s, 0);
  return summaryFromState({
    command: parts[0].command,
    config,
    tokens_in: sum("tokens_in"),
    tokens_out: sum("tokens_out"),
    batches: sum("batches"),
    nonfinite_tokens: sum("nonfinite_tokens"),
    nonfinite_outputs: sum("nonfinite_outputs"),
    state,
    timing: { wall_s: wall, tokens_per_s: wall > 0 ? sum("tokens_out") / wall : 0 },
  });
}

/** The summary record of a stats file's text. */
function summaryOf(text: string, file: string): Summary {
  let found: Summary | null = null;
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let r: { type?: string };
    try {
      r = JSON.parse(line);
    } catch {
      throw new DataError(`${file}: line ${i + 1}: not JSON`);
    }
    if (r.type === "summary") found = r as Summary;
  });
  if (found === null) throw new DataError(`${file}: no summary record (did the run finish?)`);
  if (!(found as Summary).state) throw new DataError(`${file}: the summary has no 'state'`);
  return found;
}

/** Runs `stats <sub>`; returns the exit code. */
export async function stats(args: string[]): Promise<number> {
  const f = parseArgs(args, {
    boolean: ["help"],
    alias: { h: "help" },
    unknown: refuseUnknown("stats"),
  });
  const [sub, ...files] = f._.map(String);
  if (f.help || sub === undefined) {
    console.log(STATS_HELP);
    return f.help ? 0 : 64;
  }
  if (sub !== "merge") {
    throw new UsageError(`stats: unknown subcommand '${sub}' (try: stats merge)`);
  }
  const parts: Summary[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      throw new UsageError(`stats merge: ${file}: ${(e as Error).message}`);
    }
    const s = summaryOf(text, file);
    try {
      mergeSummaries([s]); // a corrupt state fails here, naming its file
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new DataError(`${file}: the summary's state is not valid: ${(e as Error).message}`);
    }
    parts.push(s);
  }
  console.log(JSON.stringify(mergeSummaries(parts)));
  return 0;
}
