/**
 * `compare`: pre-LN against post-LN gradients by layer, depth and init, as
 * tables with bars, a depth summary with fitted exponents, JSON and an SVG.
 *
 * @module
 */
import { UsageError } from "../io/errors.ts";
import { checkFiles, type FileArg, printOut, writeFileSafely } from "../io/files.ts";
import { type CompareResult, compareRuns, findRun } from "../model/compare.ts";
import { type NormKind, type Placement, variantName } from "../model/config.ts";
import { ZOO_BOOLEANS, ZOO_STRINGS, zooFlags, zooHelp } from "./zoo_flags.ts";
import { ALL_BLOCK_PARAMS, type BlockParam, blockParams } from "../model/params.ts";
import { readTokens } from "../pipeline/scan.ts";
import { choiceFlag, decimal, intFlag, numFlag, optIntFlag, seedFlag } from "./args.ts";
import { parseCommand } from "./command.ts";
import { BACKEND_HELP, backendOptions, recordFile, stdinReader } from "./stream.ts";
import { progress } from "./progress.ts";
import { compareCsv, compareSvg, variantTitle } from "./svg.ts";

/** `compare --help`. */
export const COMPARE_HELP = `Usage: deno run mod.ts compare [options]

Builds a pre-LN and a post-LN stack (or any variants of the normalization zoo:
--placement, --norm) with identical weights (one init draw), runs the same input
through each, backpropagates the same loss, and reports the gradient norm of a
weight matrix in every layer. Xiong et al. (2020, Thm. 1)
predict for the last layer's W_fc: O(d·sqrt(ln d)) for post-LN, independent of
depth L, and O(d·sqrt(ln d / L)) for pre-LN — a depth exponent of 0 vs −0.5.

Sweep:
  --layers 6,12,24            depths (default: 6,12,24)
  --init gpt2,xavier          init schemes (default: gpt2,xavier)
  --causal true|false|both    attention mask (default: true)
  --seeds N                   seeds to average over: mean ± sample std per layer, and the
                              depth exponent ± its sample std over the seeds' own fits
                              (default: 5)
  --seed S                    first seed (default: 0)
Model and data:
  --dim C                     channels (default: 64)
  --heads H                   heads (default: 4)
  --seq T                     tokens per sequence (default: 32)
  --batch B                   sequences (default: 4)
  --eps E                     norm epsilon (default: 1e-5)
Variants (every placement with every norm, the same weights; default: pre,post × layer):
${zooHelp(true)}
  --loss xent|probe|l2        loss (default: xent, a separate head over --vocab classes
                              with seeded random targets; the head is drawn like every other
                              weight under --init: xavier N(0, 2/(C+V)), gpt2 N(0, 0.02²))
  --vocab V                   classes of the xent head (default: 256)
  --stdin                     take the B·T input tokens from stdin (npy, NDJSON or raw
                              with --dim) instead of N(0,1) draws: the first B·T tokens (a
                              note says so when the input holds more); reading stdin needs
                              no permission
Work:
${BACKEND_HELP}
Output:
  --param W_fc|…|all          matrix to report (default: W_fc; all = every block parameter)
  --json                      one JSON document instead of the tables
  --progress                  progress on stderr even when it is not a terminal
  --brief                     one screen: the deepest stack of each init, pre-LN and post-LN
                              per layer side by side with their ratio, and what it shows
  --svg FILE                  write a chart (log y axis, one line per variant and depth,
                              the seed spread as a band)
  --csv FILE                  write the per-layer means and sample stds as tidy CSV (init,
                              causal, layers, placement, param, layer, mean, std, norm,
                              variant); each seed's values are in --json's runs[].samples
Files are written through a temporary file in their folder, renamed into place when
complete: --svg and --csv need --allow-read and --allow-write for their folders.

Examples:
  deno run mod.ts compare --init xavier --seeds 3
  deno run --allow-read=out --allow-write=out mod.ts compare --layers 2,4,8,16 --svg out/grad.svg
  deno run mod.ts compare --json --param all --layers 4 | jq '.runs[0]'
  deno run mod.ts compare --placement pre,post,peri,deepnorm,mix --norm layer,rms,dyt --layers 4,8`;

const fmt = (v: number) => v.toExponential(3);

/**
 * The one-screen report (`--brief`, the demo): for the deepest stack of each init, pre-LN and
 * post-LN norms side by side per layer with their ratio, and a sentence on what they show.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { compareRuns } from "../model/compare.ts";
 * const r = compareRuns({ layers: [2], dim: 8, heads: 2, seq: 2, batch: 1, inits: ["xavier"], seeds: 1 });
 * assert(compareBrief(r).includes("post/pre"));
 * ```
 */
export function compareBrief(r: CompareResult): string {
  const out: string[] = [];
  const param = r.config.params.includes("W_fc") ? "W_fc" : r.config.params[0];
  const L = Math.max(...r.config.layers), causal = r.config.causal[0];
  const vs = variantsOf(r);
  // the ratio column: post-LN over pre-LN with LayerNorm, when both ran
  const ratioOf = vs.some((v) => v.variant === "pre") && vs.some((v) => v.variant === "post");
  const ratios: Record<string, number> = {};
  for (const init of r.config.inits) {
    const cols = vs.map((v) => findRun(r.runs, { layers: L, init, causal, ...v, param })!);
    out.push(
      `‖∂L/∂${param}‖ per layer at initialization — ${L} layers, ${init} init ` +
        `(mean over ${r.config.seeds} seeds, loss ${r.config.loss})`,
    );
    out.push(
      `layer  ${vs.map((v) => variantTitle(v.variant).padEnd(11)).join("")}${
        ratioOf ? "post/pre" : ""
      }`,
    );
    const pre = cols.find((c) => c.variant === "pre"),
      post = cols.find((c) => c.variant === "post");
    for (let l = 0; l < L; l++) {
      let line = `${String(l).padStart(5)}  ${cols.map((c) => fmt(c.mean[l]).padEnd(11)).join("")}`;
      if (ratioOf) {
        const ratio = post!.mean[l] / pre!.mean[l];
        line += `${ratio.toFixed(2).padStart(5)} ${"█".repeat(Math.round(Math.min(ratio, 8) * 4))}`;
      }
      out.push(line);
    }
    if (ratioOf) ratios[init] = post!.mean[L - 1] / pre!.mean[L - 1];
    out.push("");
  }
  const x = ratios.xavier, g = ratios.gpt2;
  if (x !== undefined) {
    out.push(
      `Under Xavier init post-LN's gradient at the last layer is ${x.toFixed(1)}× pre-LN's: ` +
        `large gradients near the output, which is why post-LN needs learning-rate warm-up` +
        (g === undefined ? "." : `; under GPT-2 init (residual projections scaled by 1/√(2L)) ` +
          (Math.abs(g - 1) < 0.1
            ? `the two are alike (${g.toFixed(2)}×).`
            : `the gap is ${g < x ? "smaller" : "larger"} (${g.toFixed(2)}×).`)),
    );
  }
  return out.join("\n").trimEnd();
}

/** The variants of a result, in the order they ran. */
function variantsOf(r: CompareResult): { placement: Placement; norm: NormKind; variant: string }[] {
  const seen = new Map<string, { placement: Placement; norm: NormKind; variant: string }>();
  for (const x of r.runs) {
    if (!seen.has(x.variant)) {
      seen.set(x.variant, { placement: x.placement, norm: x.norm, variant: x.variant });
    }
  }
  return [...seen.values()];
}

/** The text report: a table per depth, init and mask, then the depth summary. */
export function compareTable(r: CompareResult): string {
  const out: string[] = [];
  const blocks = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
  const bar = (v: number, max: number, w = 20) => {
    const x = max > 0 ? (v / max) * w : 0;
    return ("█".repeat(Math.floor(x)) + blocks[Math.floor((x % 1) * 8)]).padEnd(w);
  };
  const { seeds } = r.config;
  const vs = variantsOf(r);
  // two variants side by side with bars; more as columns of means (std in --json and --csv)
  const wide = vs.length <= 2, width = wide ? 44 : 13;
  for (const param of r.config.params) {
    for (const init of r.config.inits) {
      for (const causal of r.config.causal) {
        for (const L of r.config.layers) {
          const cols = vs.map((v) => findRun(r.runs, { layers: L, init, causal, ...v, param })!);
          const max = Math.max(...cols.flatMap((c) => c.mean));
          out.push(
            `‖∂L/∂${param}‖ — L = ${L}, ${init} init, ${causal ? "causal" : "non-causal"}, ` +
              `mean ${wide ? "± sample std " : ""}over ${seeds} seed(s)`,
          );
          out.push(
            `layer  ${vs.map((v) => variantTitle(v.variant).padEnd(width)).join("").trimEnd()}`,
          );
          for (let l = 0; l < L; l++) {
            const cell = (run: typeof cols[0]) =>
              wide
                ? `${fmt(run.mean[l])} ± ${run.std[l].toExponential(1)} ${bar(run.mean[l], max)}`
                : fmt(run.mean[l]);
            out.push(
              `${String(l).padStart(5)}  ${
                cols.map((c) => cell(c).padEnd(width)).join("").trimEnd()
              }`,
            );
          }
          out.push(
            "last/first: " +
              cols.map((c) =>
                `${variantTitle(c.variant)} ${(c.mean[L - 1] / c.mean[0]).toFixed(3)}`
              ).join(
                ", ",
              ),
            "",
          );
        }
      }
    }
  }
  out.push(
    "Depth summary: the last layer's norm against L (fitted exponent: ≈ 0 post-LN, ≈ −0.5 pre-LN by Xiong et al.)",
  );
  const Ls = r.config.layers;
  const nameW = Math.max(10, ...vs.map((v) => variantTitle(v.variant).length + 2));
  out.push(
    `${"param".padEnd(8)}${"init".padEnd(8)}${"causal".padEnd(8)}${"".padEnd(nameW)}` +
      Ls.map((L) => `L=${L}`.padEnd(11)).join("") + "exponent",
  );
  for (const d of r.depth) {
    out.push(
      `${d.param.padEnd(8)}${d.init.padEnd(8)}${String(d.causal).padEnd(8)}${
        variantTitle(d.variant).padEnd(nameW)
      }` +
        d.last.map((v) => fmt(v).padEnd(11)).join("") +
        (d.exponent === null ? "—" : d.exponent.toFixed(3)) +
        (d.exponent_std === null ? "" : ` ± ${d.exponent_std.toFixed(3)}`),
    );
  }
  for (const p of r.post_pre) {
    const name = p.norm === "layer" ? "post/pre" : `post/pre-${p.norm}`;
    out.push(
      `${p.param.padEnd(8)}${p.init.padEnd(8)}${String(p.causal).padEnd(8)}${name.padEnd(nameW)}` +
        p.ratio.map((v) => v.toFixed(3).padEnd(11)).join(""),
    );
  }
  return out.join("\n");
}

function list(v: unknown, name: string): string[] {
  const items = String(v).split(",").map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${name} needs at least one value, got '${v}'`);
  return items.map((s) => {
    if (s === "") throw new UsageError(`--${name}: empty item`);
    return s;
  });
}

/** Runs `compare`; returns the exit code. */
export async function compare(args: string[]): Promise<number> {
  const f = parseCommand(args, {
    name: "compare",
    strings: [
      "layers",
      "dim",
      "heads",
      "seq",
      "batch",
      "init",
      "causal",
      "loss",
      "vocab",
      "param",
      "seeds",
      "seed",
      "eps",
      ...ZOO_STRINGS,
      "svg",
      "csv",
      "backend",
      "blas-lib",
    ],
    booleans: ["json", "stdin", "brief", "progress", ...ZOO_BOOLEANS],
    help: COMPARE_HELP,
  });
  if (f === null) return 0;
  const outputs = [recordFile(f, "svg", "stdout"), recordFile(f, "csv", "stdout")]
    .filter((a): a is FileArg => a !== null);
  checkFiles(f.stdin ? [{ flag: "--stdin", path: "-" }] : [], outputs);
  const layers = list(f.layers ?? "6,12,24", "layers").map((s) => {
    const n = decimal(s) ?? NaN;
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--layers: '${s}' is not a depth ≥ 1`);
    return n;
  });
  const inits = list(f.init ?? "gpt2,xavier", "init").map((s) => {
    if (s !== "gpt2" && s !== "xavier") {
      throw new UsageError(`--init: '${s}' is not gpt2 or xavier`);
    }
    return s;
  });
  const causalFlag = choiceFlag(f, "causal", ["true", "false", "both"] as const, "true");
  const causal = causalFlag === "both" ? [true, false] : [causalFlag === "true"];
  const seq = intFlag(f, "seq", 32), batch = intFlag(f, "batch", 4);
  let dim = optIntFlag(f, "dim");
  let input: Float32Array | undefined;
  if (f.stdin) {
    // one token more than needed: enough to tell the user the rest was left out
    const got = await readTokens(stdinReader(), batch * seq + 1, { dim });
    const read = got.C ? got.tokens.length / got.C : 0;
    if (read < batch * seq) {
      throw new UsageError(`--stdin: ${read} tokens read, ${batch}×${seq} needed`);
    }
    if (read > batch * seq) {
      console.error(
        `compare: used the first ${batch * seq} tokens of the input (--batch ${batch} × ` +
          `--seq ${seq}); it holds more`,
      );
    }
    dim = got.C;
    input = got.tokens.subarray(0, batch * seq * got.C);
  }
  const zoo = zooFlags(
    f.placement === undefined ? { ...f, placement: "pre,post" } : f,
    true,
    Math.min(...layers),
  );
  // the parameters asked for; `all` = those every variant has
  const has = zoo.placements.flatMap((placement) =>
    zoo.norms.map((norm) => ({
      v: variantName({ placement, norm }),
      ps: blockParams({ placement, norm }),
    }))
  );
  const params: BlockParam[] = f.param === "all"
    ? ALL_BLOCK_PARAMS.filter((p) => has.every((h) => h.ps.includes(p)))
    : list(f.param ?? "W_fc", "param").map((p) => {
      if (!(ALL_BLOCK_PARAMS as readonly string[]).includes(p)) {
        throw new UsageError(`--param: '${p}' is not one of ${ALL_BLOCK_PARAMS.join(", ")}, all`);
      }
      const lacks = has.find((h) => !h.ps.includes(p as BlockParam));
      if (lacks) throw new UsageError(`--param ${p}: a ${lacks.v} block has no ${p}`);
      return p as BlockParam;
    });
  const heads = intFlag(f, "heads", 4);
  if ((dim ?? 64) % heads !== 0) {
    throw new UsageError(`--heads ${heads} must divide C = ${dim ?? 64}`);
  }
  const show = progress(Deno.stderr.isTerminal(), Boolean(f.progress), "stack runs");
  const result = compareRuns({
    layers,
    dim: dim ?? 64,
    heads,
    seq,
    batch,
    inits,
    causal,
    loss: choiceFlag(f, "loss", ["xent", "probe", "l2"] as const, "xent"),
    vocab: intFlag(f, "vocab", 256, 2),
    params,
    seeds: intFlag(f, "seeds", 5),
    seed: seedFlag(f),
    eps: numFlag(f, "eps", 1e-5),
    placements: zoo.placements,
    norms: zoo.norms,
    ...zoo.options,
    input,
    ...backendOptions(f),
    onProgress: show ? (d, t) => show(d, t, d === t) : undefined,
  });
  for (const [flag, render] of [["svg", compareSvg], ["csv", compareCsv]] as const) {
    const arg = recordFile(f, flag, "stdout");
    if (arg) writeFileSafely(arg, render(result));
  }
  // --json: everything, each seed's values too (runs[].samples[seed][layer])
  if (f.json) printOut(JSON.stringify(result));
  else printOut(f.brief ? compareBrief(result) : compareTable(result));
  return 0;
}
