/**
 * `run`: a GPT stack over the stream — outputs streamed, gradients accumulated
 * over the whole stream, per-layer gradient statistics.
 *
 * @module
 */
import { runStream } from "../pipeline/pipeline.ts";
import type { Summary } from "../pipeline/collect.ts";
import type { StackStats } from "../model/mod.ts";
import { choiceFlag, intFlag, numFlag, optIntFlag, seedFlag } from "./args.ts";
import { parseCommand } from "./command.ts";
import { modelOf } from "./model_input.ts";
import { UsageError } from "../io/errors.ts";
import type { RunOptions } from "../pipeline/options.ts";
import { variantLabel } from "../model/config.ts";
import { ZOO_BOOLEANS, ZOO_STRINGS, zooFlags, zooHelp, zooOptions } from "./zoo_flags.ts";
import { layerChart, nonfiniteLine, num } from "./report.ts";
import { inputReader, runCommand, STREAM_HELP, STREAM_STRINGS, streamOptions } from "./stream.ts";

/** `run --help`. */
export const RUN_HELP =
  `Usage: deno run --allow-read=<lnstream> mod.ts run [options] [FILE|-] [-o OUT]

Runs a stack of GPT-2 blocks over the input, whose tokens are grouped into
sequences of --seq tokens in input order (a shorter last sequence is fine),
streams the stack's outputs, backpropagates a loss and accumulates the
gradients over the whole stream. The statistics give per-layer gradient norms.
What they show depends on the init and the loss: under Xavier init post-LN's
gradients are larger than pre-LN's, most of all near the output (why post-LN
needs learning-rate warm-up; 'compare --brief' shows it with a cross-entropy
head); under GPT-2 init (scaled residual projections) the placements are alike.
With the probe loss both fall toward the output; with a cross-entropy head
pre-LN's fall as ~1/√L while post-LN's stay flat.

Model:
  --layers L                  blocks (default: 6)
  --heads H                   attention heads, must divide C (default: 4)
  --model FILE                the blocks of a real model (a GPT-2 model.safetensors, an
                              lnstream checkpoint or --save-weights file) instead of a random
                              init: its layers, placement and weights; the input must have its
                              C (embed makes such input); --heads for a GPT-2 file without
                              config.json
${zooHelp(false)}
  --init gpt2|xavier          initialisation (default: gpt2)
  --seed S                    init and probe seed (default: 0)
  --eps E                     norm epsilon (default: 1e-5)
  --causal true|false         causal attention (default: true)
  --loss probe|l2             L = Σ y·R (R: ±1 entries per token) or ½Σy² (default: probe)
  --seq T                     tokens per sequence (default: T of a [B, T, C] .npy, else 64)
  --batch N                   sequences per batch (default: 8)

${STREAM_HELP}

Examples:
  deno run mod.ts gen --tokens 4096 --dim 64 | deno run --allow-read=. mod.ts run --layers 6
  deno run --allow-read=. mod.ts run --placement post --init xavier --stats - < x.npy > /dev/null
  deno run --allow-read=. mod.ts run --placement peri --norm dyt --qk-norm --stats - < x.npy > y.npy`;

/** Human summary of a run, with the per-layer chart. */
export function runReport(s: Summary): string {
  const c = s.config;
  const g = s.grad as StackStats;
  if (s.tokens_in === 0) {
    return `run: ${c.layers} × ${
      variantLabel(c as Parameters<typeof variantLabel>[0])
    } blocks: the input was empty; nothing to run`;
  }
  return [
    `run: ${c.layers} × ${
      variantLabel(c as Parameters<typeof variantLabel>[0])
    } blocks (C ${c.C}, ${c.heads} heads, ${c.init} init, seq ${c.seq}), ` +
    `${s.tokens_out} tokens in ${s.batches} batches, loss (${c.loss}) ${num(s.loss)}`,
    `  output mean ${num(s.output.mean)} std ${num(s.output.std)}; ‖dL/dx‖ ${num(g.dx_l2)}`,
    ...nonfiniteLine(s),
    layerChart(g),
  ].join("\n");
}

/** Runs `run`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const f = parseCommand(args, {
    name: "run",
    strings: [
      ...STREAM_STRINGS,
      "layers",
      "heads",
      ...ZOO_STRINGS,
      "init",
      "eps",
      "causal",
      "loss",
      "seq",
      "model",
    ],
    booleans: ["quiet", "progress", ...ZOO_BOOLEANS],
    alias: { o: "output" },
    positionals: 1,
    help: RUN_HELP,
  });
  if (f === null) return 0;
  const path = f._.length ? String(f._[0]) : "-";
  // --model: the model decides the stack; the flags that would describe another are refused
  let model: RunOptions["model"];
  if (f.model !== undefined) {
    for (
      const k of ["layers", "placement", "norm", "qk-norm", "mix-post", "dyt-alpha", "init", "eps"]
    ) {
      if (f[k] !== undefined && f[k] !== false) {
        throw new UsageError(`--${k}: the model's own is used with --model`);
      }
    }
    const loaded = await modelOf(f, false);
    model = {
      config: loaded.model.gpt.config,
      params: loaded.model.gpt.params,
      name: String(f.model),
    };
  }
  const input = inputReader(path);
  const base = streamOptions(f);
  const layers = intFlag(f, "layers", 6);
  const zoo = zooFlags(f, false, layers);
  const opts = {
    layers,
    heads: intFlag(f, "heads", 4),
    ...zooOptions(zoo.placements[0], zoo.norms[0], zoo.options),
    init: choiceFlag(f, "init", ["gpt2", "xavier"] as const, "gpt2"),
    seed: seedFlag(f),
    eps: numFlag(f, "eps", 1e-5),
    causal: choiceFlag(f, "causal", ["true", "false"] as const, "true") === "true",
    loss: choiceFlag(f, "loss", ["probe", "l2"] as const, "probe"),
    seq: optIntFlag(f, "seq"),
    ...(model ? { model } : {}),
  };
  return await runCommand(
    f,
    [
      { flag: "FILE", path },
      ...(f.model === undefined ? [] : [{ flag: "--model", path: String(f.model) }]),
    ],
    (extra) => runStream(input, { ...base, ...extra, ...opts }),
    runReport,
  );
}
