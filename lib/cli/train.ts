/**
 * `train`: a character-level GPT on a text (tiny Shakespeare by default), data-parallel over
 * workers, with an NDJSON log, loss curves, checkpoints, samples — and `--grid`, which trains
 * pre-LN and post-LN with and without warm-up side by side.
 *
 * @module
 */
import { DataError, UsageError } from "../io/errors.ts";
import { checkFiles, type FileArg, OutputFile, printOut, writeFileSafely } from "../io/files.ts";
import { CharData } from "../train/chardata.ts";
import { decodeCheckpoint, encodeCheckpoint, encodeWeights } from "../train/checkpoint.ts";
import {
  checkConfig,
  defaultText,
  type EvalRecord,
  fillConfig,
  train as trainModel,
  TRAIN_DEFAULTS,
  type TrainConfig,
  type Trainer,
  type TrainState,
  type TrainSummary,
} from "../train/trainer.ts";
import { fileError, flagMessage, intFlag, numberFlag, numFlag } from "./args.ts";
import { parseCommand } from "./command.ts";
import { gridCells, gridCsv, seedTable, unigramEntropy, unigramLoss } from "./grid_results.ts";
import { NORM_KINDS, PLACEMENTS } from "../model/config.ts";
import { scheduleWarning } from "../train/schedule.ts";
import { variantLabel, variantName } from "../model/config.ts";
import { ZOO_BOOLEANS, ZOO_STRINGS, zooFlags, zooHelp } from "./zoo_flags.ts";
import { onStopSignal } from "./signals.ts";
import { fmtSeconds, progressLine } from "./progress.ts";
import {
  BACKEND_HELP,
  backendOptions,
  readAll,
  recordFile,
  type RecordWriter,
  statsWriter,
} from "./stream.ts";
import { type GridRun, gridSvg, layersSvg, trainSvg } from "./train_svg.ts";

/** `train --help`. */
export const TRAIN_HELP = `Usage: deno run --allow-read=<lnstream> mod.ts train [options]

Trains a character-level GPT (token + position embeddings, GPT-2 blocks, LM head
tied to the token embedding, mean cross-entropy on the next character) with AdamW,
linear warm-up then cosine decay, and gradient clipping. The defaults are nanoGPT's
shakespeare_char "baby GPT" on the built-in tiny Shakespeare (val loss ≈ 1.88 after
2000 steps). Each batch is cut into --shards gradient shards, computed on the
workers and added in shard order: the same seed gives the same curve, bit for bit,
for any --workers.

Data:
  --data FILE|-               UTF-8 text (- = stdin); default: tiny Shakespeare (1.1 MB);
                              characters are the vocabulary, the first 90 % trains, the
                              rest validates
Model:
  --layers L                  blocks (default: 4)
  --heads H                   attention heads, must divide C (default: 4)
  --dim C                     channels (default: 128)
  --block T                   context length in characters (default: 64)
${zooHelp(false)}
  --init gpt2|xavier          GPT-2 N(0, 0.02) with residual projections / √(2L) (default),
                              or Xavier
Optimizer:
  --batch B                   sequences per step (default: 12)
  --lr LR                     peak learning rate (default: 1e-3)
  --min-lr LR                 learning rate at --iters (default: 1e-4)
  --warmup N                  linear warm-up steps; 0 = none (default: 100)
  --iters N                   steps; the cosine decay ends here (default: 2000)
  --clip G                    clip the global gradient norm to G; 0 = off (default: 1.0)
  --weight-decay W            AdamW weight decay on matrices and embeddings (default: 0.1)
  --beta1 B1, --beta2 B2      AdamW betas (default: 0.9, 0.99)
  --seed S                    init and batches (default: 1337)
Evaluation and output:
  --eval-interval N           evaluate every N steps and at the last (default: 250)
  --eval-iters N              batches per split in an evaluation (default: 20)
  --log FILE|-                NDJSON records (- = stderr, then without progress or summary
                              lines): step {step, lr, loss, grad_norm, ms},
                              eval {step, train_loss, val_loss, layers: per-block ‖∂L/∂W‖},
                              summary; the file appears when the run ends (or is stopped by
                              a signal)
  --svg FILE                  train and val loss curves (with --grid: the grid's chart)
  --svg-layers FILE           each block's gradient norm ‖∂L/∂θ‖ at every evaluation, one
                              line per block on a log axis: near the output vs near the input
                              as training goes (one run, not a grid)
  --save FILE                 checkpoint (safetensors layout: parameters, AdamW moments, step,
                              settings, vocabulary and log) at every evaluation, at the end
                              and on SIGINT/SIGTERM; each save replaces the last in one step
                              (a kill at any moment leaves a checkpoint that resumes)
  --save-weights FILE         the weights alone at the end (and on a signal): a model for
                              trace, embed and run --model, a quarter of a checkpoint
  --resume FILE               continue a checkpoint: the same curve as a run never stopped;
                              its settings are used (--iters, --eval-* may change); it may
                              be the --save file
Files are written through a temporary file in their folder, renamed into place when
complete (so --log, --svg and --save need --allow-read and --allow-write for their
folders); a run that fails leaves them as they were. No output may be an input (--data,
--resume), except --save the --resume checkpoint.
  --until N                   stop once N steps are done (the schedule still ends at --iters)
  --sample N                  print N characters generated by the model at the end
  --temperature T             sampling temperature (default: 1)
  --progress                  progress on stderr even when it is not a terminal, one line
                              every 10 s (without it, off a terminal: from 30 s on, unless
                              --quiet); a grid's ETA is the whole grid's
  --quiet                     no summary (and no warning) on stderr
Work:
  --workers N                 worker threads; 1 = this thread (default: 2, at most --shards)
  --shards N                  gradient shards per batch, the unit of a worker's work; part of
                              the numbers, not of the speed only (default: 2)
${BACKEND_HELP}
Grid (--grid): every combination of comma lists in --placement, --norm, --warmup,
--lr and --layers is trained in turn; one table (final val loss, the step where the loss
diverged — not finite, or the mean of 10 steps above the loss at initialization by
more than its noise: 4 standard errors and 1 % — and the first evaluation at or
below --target) and, with --svg, one chart.
  --target V                  val loss to reach (default: 2.0)
  --seeds N                   run each cell with N seeds, --seed, --seed + 1, … (or give
                              --seed 1,2,3); the table then shows per cell the mean ± sample
                              std of the final and best val loss, the seeds that diverged or
                              collapsed (final val loss within 0.05 of a unigram model's or
                              above it, printed with the training text's unigram entropy), and
                              those that reached --target.
                              Several seeds make a grid of one cell without --grid
  --baseline P[,N]            per cell, the difference of its mean final val loss to the cell
                              of placement P and norm N (default: layer) with the same other
                              settings, and Welch's two-sided p-value (with 3 seeds a weak
                              test: see README); a P,N the grid has no cell of is refused
  --json                      the table as one JSON document (cells and runs) on stdout
  --out DIR                   each run's log, checkpoint (at every evaluation and on a stop) and
                              results under DIR: the same command again skips finished runs and
                              resumes a stopped one; another grid in DIR is refused
  --cell i/n                  run only the i-th of the grid's n runs into --out DIR (for GNU
                              parallel, Slurm arrays, Kubernetes indexed jobs); then --out DIR
                              without --cell prints the table from what is there
  --csv FILE                  tidy CSV, one row per run and evaluation (also without --grid):
                              run, placement, norm, qk_norm, warmup, lr, layers, seed, step,
                              train_loss, val_loss, grad_norm, and the per-block gradient norms
                              as columns grad_l0, grad_l1, …

Examples:
  deno run --allow-read=. mod.ts train --iters 200 --sample 300
  deno run --allow-read=. --allow-write=out mod.ts train --log out/run.ndjson --svg out/loss.svg
  deno run --allow-read=. --allow-write=out mod.ts train --save out/ck.st --until 500
  deno run --allow-read=. --allow-write=out mod.ts train --resume out/ck.st --save out/ck.st
  deno run --allow-read=. --allow-write=out mod.ts train --grid --placement pre,post \\
      --warmup 0,100 --lr 1e-3,3e-3 --layers 4,8 --iters 500 --eval-interval 50 --svg out/grid.svg
  deno run --allow-read=. --allow-write=out mod.ts train --grid --placement pre,peri,deepnorm \\
      --norm layer,dyt --warmup 0 --iters 300 --seeds 3 --baseline pre --csv out/grid.csv`;

const LISTS = ["placement", "norm", "warmup", "lr", "layers"] as const;

/** Runs `train`; returns the exit code. */
export async function train(args: string[]): Promise<number> {
  const f = parseCommand(args, {
    name: "train",
    strings: [
      "data",
      "layers",
      "heads",
      "dim",
      "block",
      "batch",
      ...ZOO_STRINGS,
      "init",
      "lr",
      "min-lr",
      "warmup",
      "iters",
      "clip",
      "weight-decay",
      "beta1",
      "beta2",
      "eval-interval",
      "eval-iters",
      "seed",
      "workers",
      "shards",
      "backend",
      "blas-lib",
      "log",
      "svg",
      "svg-layers",
      "save",
      "save-weights",
      "resume",
      "until",
      "sample",
      "temperature",
      "target",
      "seeds",
      "baseline",
      "csv",
      "out",
      "cell",
    ],
    booleans: ["grid", "progress", "quiet", "json", ...ZOO_BOOLEANS],
    help: TRAIN_HELP,
  });
  if (f === null) return 0;
  const flags = f as unknown as Record<string, string | boolean | undefined>;
  const { backend, blasLib } = backendOptions(f);
  const workers = numberFlag(f, "workers") ?? 2;
  const until = f.until === undefined ? undefined : intFlag(f, "until", undefined, 0);
  const sampleN = f.sample === undefined ? 0 : intFlag(f, "sample", undefined, 0);
  const temperature = numFlag(f, "temperature", 1);
  const target = numFlag(f, "target", 2.0);
  const runtime = { workers, backend, ...(blasLib === undefined ? {} : { blasLib }) };
  const terminal = Deno.stderr.isTerminal();
  // NDJSON on stderr (--log -) never shares it with the progress line or the human summary
  const logOnStderr = f.log === "-";
  // progress: on a terminal; with --progress anywhere; else after 30 s unless --quiet
  const show = !logOnStderr && (terminal || f.progress === true || f.quiet !== true);

  // the zoo's flags, checked once (--mix-post against the smallest --layers); a resumed run
  // compares them with its checkpoint's instead
  if (flags.resume === undefined) {
    const layers = typeof flags.layers === "string"
      ? flags.layers.split(",").map(Number).filter(Number.isInteger)
      : [];
    // (lists are told apart below: one needs --grid)
    zooFlags(f, true, layers.length ? Math.min(...layers) : TRAIN_DEFAULTS.layers);
  }
  // seeds: --seeds N (from --seed on) or --seed 1,2,3; more than one makes a grid of cells
  const seeds = seedsOf(flags);
  const grid = f.grid === true || seeds.length > 1;
  const gridWhy = f.grid === true ? "--grid" : "several seeds";
  if (!grid) {
    for (const k of LISTS) {
      if (typeof flags[k] === "string" && (flags[k] as string).includes(",")) {
        throw new UsageError(`--${k} takes one value (a comma list needs --grid)`);
      }
    }
    for (const k of ["json", "baseline"]) {
      if (flags[k] !== undefined && flags[k] !== false) {
        throw new UsageError(`--${k} goes with --grid or --seeds`);
      }
    }
  } else {
    for (const k of ["resume", "save", "save-weights", "sample", "until", "svg-layers"]) {
      if (flags[k] !== undefined) throw new UsageError(`--${k} does not go with ${gridWhy}`);
    }
  }
  const baseline = flags.baseline === undefined ? undefined : baselineOf(String(flags.baseline));
  if (baseline !== undefined) baselineInGrid(baseline, flags);
  if (!grid && (flags.out !== undefined || flags.cell !== undefined)) {
    throw new UsageError(
      `--${flags.out !== undefined ? "out" : "cell"} goes with --grid or --seeds`,
    );
  }
  if (flags.cell !== undefined && flags.out === undefined) {
    throw new UsageError(
      "--cell i/n writes its run into --out DIR, shared by the cells: give --out",
    );
  }
  const cell = flags.cell === undefined ? undefined : cellOf(String(flags.cell));

  // every file named, checked before anything is opened for writing: no output is an input
  // (the checkpoint being resumed may be saved over: it is read whole first)
  const inputs: FileArg[] = [];
  if (typeof flags.data === "string") inputs.push({ flag: "--data", path: flags.data });
  if (typeof flags.resume === "string") inputs.push({ flag: "--resume", path: flags.resume });
  const logArg = recordFile(f, "log");
  const svgArg = recordFile(f, "svg", "stdout"), saveArg = recordFile(f, "save", "stdout");
  const csvArg = recordFile(f, "csv", "stdout");
  const weightsArg = recordFile(f, "save-weights", "stdout");
  const layersArg = recordFile(f, "svg-layers", "stdout");
  const outputs = [logArg, svgArg, saveArg, weightsArg, csvArg, layersArg].filter((
    a,
  ): a is FileArg => a !== null);
  checkFiles(inputs, outputs, [["--resume", "--save"]]);

  const data = await loadData(flags.data as string | undefined);
  let state: TrainState | undefined;
  if (flags.resume !== undefined) {
    state = await loadCheckpoint(flags.resume as string);
    state.config = resumeConfig(state.config, state.step, flags);
  }
  const log = statsWriter(logArg && OutputFile.create(logArg));

  // stop cleanly (after the current step, with a checkpoint) on Ctrl-C or SIGTERM
  const stop = new AbortController();
  let stopCode = 0;
  const giveSignalsBack = onStopSignal((code) => {
    stopCode ||= code;
    stop.abort();
  });
  try {
    if (grid) {
      const out = flags.out === undefined ? undefined : { dir: String(flags.out), cell };
      const runs = await runGrid(
        flags,
        seeds,
        data,
        runtime,
        target,
        log,
        show,
        terminal,
        stop.signal,
        out,
      );
      if (stop.signal.aborted) {
        log.commit();
        if (out) console.error(`train: stopped; the same command resumes the grid in ${out.dir}`);
        return stopCode;
      }
      const entropy = unigramEntropy(data.train), unigram = unigramLoss(data.train, data.val);
      const cells = gridCells(runs, unigram, baseline);
      if (f.json === true) {
        printOut(JSON.stringify({
          unigram_entropy: entropy,
          unigram_val_loss: unigram,
          target,
          cells,
          runs: runs.map(({ history: _, ...r }) => r),
        }));
      } else if (seeds.length > 1 || baseline !== undefined) {
        printOut(
          seedTable(cells, target) + `\n\nunigram entropy of the training text: ` +
            `${entropy.toFixed(3)} nats; a unigram model's val loss: ${unigram.toFixed(3)} ` +
            `(collapsed: a final val loss within 0.05 of it or above); mean ± sample std over the seeds` +
            (baseline === undefined ? "" : `; Δ and Welch's two-sided p against ${baseline}`),
        );
      } else printOut(gridTable(runs, target));
      if (svgArg) writeFileSafely(svgArg, gridSvg(runs, target));
      if (csvArg) writeFileSafely(csvArg, gridCsv(runs));
      log.commit();
      return stopCode;
    }
    // said once the run has started: a run refused for its settings or data gets its one line
    let warn = !logOnStderr && f.quiet !== true;
    const save = (t: Trainer) => saveArg && writeFileSafely(saveArg, encodeCheckpoint(t.state()));
    const prog = show ? trainProgress(terminal, f.progress === true) : null;
    let lastEval: EvalRecord | null = null;
    const { trainer: t, summary } = await trainModel({
      data,
      ...runtime,
      ...(state ? { resume: state } : settingsOf(flags)),
      until,
      signal: stop.signal,
      onRecord(r, t) {
        if (warn) warnSchedules([t.config]);
        warn = false;
        log.write(r);
        if (r.type === "step") return prog?.(t, lastEval, false);
        lastEval = r;
        save(t);
      },
    });
    prog?.(t, lastEval, true);
    save(t);
    if (weightsArg) writeFileSafely(weightsArg, encodeWeights(t.state()));
    log.write(summary);
    log.commit();
    if (svgArg) writeFileSafely(svgArg, trainSvg(t.history, t.config));
    if (layersArg) writeFileSafely(layersArg, layersSvg(t.history, t.config));
    if (csvArg) {
      const run = {
        config: t.config,
        history: t.history,
        final_val_loss: summary.final?.val_loss ?? null,
        diverged_step: summary.diverged_step,
        target_step: null,
        ms_per_step: summary.ms_per_step,
      };
      writeFileSafely(csvArg, gridCsv([run]));
    }
    if (f.quiet !== true && !logOnStderr) {
      console.error(trainReport(summary, stopCode !== 0, saveArg?.path));
    }
    if (sampleN > 0) {
      const text = t.sample(sampleN, { temperature, seed: t.config.seed });
      const out = OutputFile.create({ flag: "--sample", path: "-" });
      await out.write(new TextEncoder().encode(text + "\n"));
    }
    return stopCode;
  } finally {
    giveSignalsBack();
  }
}

const NUM_FLAGS: [string, keyof TrainConfig][] = [
  ["layers", "layers"],
  ["heads", "heads"],
  ["dim", "dim"],
  ["block", "block"],
  ["batch", "batch"],
  ["lr", "lr"],
  ["min-lr", "minLr"],
  ["warmup", "warmup"],
  ["iters", "iters"],
  ["clip", "clip"],
  ["weight-decay", "weightDecay"],
  ["beta1", "beta1"],
  ["beta2", "beta2"],
  ["eval-interval", "evalInterval"],
  ["eval-iters", "evalIters"],
  ["seed", "seed"],
  ["shards", "shards"],
];

/**
 * The settings given by flags (one value each), parsed: a value that is no number is exit 64;
 * the ranges are the library's to check (`checkConfig`), once.
 */
function settingsOf(f: Record<string, unknown>): Partial<TrainConfig> {
  const out: Record<string, number | string> = {};
  for (const [flag, key] of NUM_FLAGS) {
    const n = numberFlag(f, flag);
    if (n !== undefined) out[key] = n;
  }
  for (const key of ["placement", "init", "norm"]) {
    if (f[key] !== undefined) out[key] = String(f[key]);
  }
  const flags = out as Partial<TrainConfig>;
  const mixPost = numberFlag(f, "mix-post"), dytAlpha = numberFlag(f, "dyt-alpha");
  // a sweep gives --mix-post to its mix runs and --dyt-alpha to its dyt runs only
  // (unset: a resume, compared with its checkpoint's)
  if (mixPost !== undefined && (flags.placement ?? "mix") === "mix") flags.mixPost = mixPost;
  if (dytAlpha !== undefined && (flags.norm ?? "dyt") === "dyt") flags.dytAlpha = dytAlpha;
  if (f["qk-norm"] === true) flags.qkNorm = true;
  return flags;
}

/** A checkpoint's settings, with the flags a resume may change; others must agree. */
function resumeConfig(saved: TrainConfig, step: number, f: Record<string, unknown>): TrainConfig {
  const given = settingsOf(f);
  const free: (keyof TrainConfig)[] = ["iters", "evalInterval", "evalIters"];
  const out = { ...saved };
  const zoo: [string, keyof TrainConfig][] = [
    ["placement", "placement"],
    ["norm", "norm"],
    ["qk-norm", "qkNorm"],
    ["mix-post", "mixPost"],
    ["dyt-alpha", "dytAlpha"],
    ["init", "init"],
  ];
  for (const [flag, key] of [...NUM_FLAGS, ...zoo]) {
    const v = given[key as keyof TrainConfig];
    if (v === undefined) continue;
    if (free.includes(key as keyof TrainConfig)) {
      (out as Record<string, unknown>)[key] = v;
    } else if (v !== saved[key as keyof TrainConfig]) {
      throw new UsageError(
        `--${flag} ${v} differs from the checkpoint's ${saved[key as keyof TrainConfig]}: ` +
          `a resumed run keeps its settings (only --iters, --eval-interval, --eval-iters change)`,
      );
    }
  }
  if (out.iters < step) {
    throw new UsageError(`--iters ${out.iters} is below the checkpoint's step ${step}`);
  }
  return out;
}

async function loadData(path: string | undefined): Promise<CharData> {
  if (path === undefined) return CharData.fromBytes(await defaultText(), "the built-in text");
  return CharData.fromBytes(await readAll(path, `--data ${path}`), path === "-" ? "stdin" : path);
}

async function loadCheckpoint(path: string): Promise<TrainState> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw fileError(e, `--resume ${path}`, path, "read");
  }
  return decodeCheckpoint(bytes, path);
}

/** The progress line: step, loss, last eval, ms/step and time left. */
/**
 * The progress of a run: on a terminal a line rewritten in place; elsewhere a plain line every
 * 10 s — from the start with --progress, after 30 s without it (a short run prints none). In a
 * grid, `grid` (the run's index, the count, when the grid started) makes the ETA the whole
 * grid's. The val loss shown carries the step it was measured at.
 */
function trainProgress(
  terminal: boolean,
  asked: boolean,
  grid?: { index: number; count: number; started: number },
) {
  const line = progressLine(terminal, true, { every: 10_000, after: asked ? 0 : 30_000 })!;
  const prefix = grid ? `run ${grid.index + 1}/${grid.count}  ` : "";
  let first = -1, shown = -1;
  return (t: Trainer, ev: EvalRecord | null, end: boolean) => {
    if (first < 0) first = t.step - 1;
    if (end && !terminal && shown === t.step) return; // the line is already there
    const printed = line.show(() => {
      const done = t.step - first, left = t.config.iters - t.step;
      const per = done > 0 ? (performance.now() - line.started) / done : 0;
      const step = t.history.findLast((r) => r.type === "step");
      const loss = step?.type === "step" ? step.loss.toFixed(3) : "—";
      const val = ev ? `  val ${ev.val_loss.toFixed(3)} @ ${ev.step}` : "";
      let eta = "";
      if (grid) {
        // the grid's runs so far and this one's share: the whole grid's time left
        const frac = t.config.iters > 0 ? t.step / t.config.iters : 1;
        const doneRuns = grid.index + frac, elapsed = performance.now() - grid.started;
        if (!end && doneRuns > 0 && doneRuns < grid.count) {
          eta = `  grid ETA ${fmtSeconds((elapsed / doneRuns) * (grid.count - doneRuns) / 1000)}`;
        }
      } else if (!end && done > 0 && left > 0) eta = `  ETA ${fmtSeconds((per * left) / 1000)}`;
      return `${prefix}step ${t.step}/${t.config.iters}  loss ${loss}${val}  ` +
        `${per.toFixed(1)} ms/step${eta}`;
    }, end);
    if (printed) shown = t.step;
  };
}

/** Says on stderr, once each, the schedules that never reach their peak learning rate. */
function warnSchedules(configs: TrainConfig[]) {
  const said = new Set<string>();
  for (const c of configs) {
    const w = scheduleWarning(c);
    if (w === null || said.has(w)) continue;
    said.add(w);
    console.error(`train: warning: ${flagMessage(new Error(w))}`);
  }
}

/** The human summary (stderr). */
export function trainReport(s: TrainSummary, stopped = false, saved?: string): string {
  const c = s.config;
  const lines = [
    `train: ${c.layers} × ${variantLabel(c)} blocks (C ${c.dim}, ${c.heads} heads, T ${c.block}, ` +
    `${c.init} init), ${s.params.toLocaleString("en-US")} parameters, batch ${c.batch}, ` +
    `lr ${c.lr} (warm-up ${c.warmup}, cosine to ${c.minLr} at ${c.iters})`,
  ];
  if (s.final) {
    lines.push(
      `  step ${s.final.step}: train loss ${s.final.train_loss.toFixed(4)}, val loss ` +
        `${s.final.val_loss.toFixed(4)} (best val ${s.best_val_loss?.toFixed(4) ?? "—"})`,
    );
  }
  if (s.ms_per_step !== null) {
    lines.push(
      `  ${s.ms_per_step.toFixed(1)} ms/step on ${s.workers} worker(s), ${s.backend} backend`,
    );
  }
  if (s.diverged_step !== null) {
    lines.push(
      `  diverged at step ${s.diverged_step} (loss not finite, or clearly above its start)`,
    );
  }
  if (stopped) lines.push(`  stopped at step ${s.step} by a signal`);
  if (s.step < s.iters && !stopped && s.diverged_step === null) {
    lines.push(`  paused at step ${s.step} of ${s.iters}` + (saved ? `; --resume ${saved}` : ""));
  }
  return lines.join("\n");
}

function listOf(f: Record<string, unknown>, name: string): string[] {
  const v = f[name];
  if (v === undefined) return [];
  const parts = String(v).split(",").map((s) => s.trim());
  if (parts.some((p) => p === "")) throw new UsageError(`--${name} '${v}' has an empty item`);
  return parts;
}

/** The seeds of --seeds N (from --seed on) or of a --seed list; one seed without either. */
function seedsOf(flags: Record<string, unknown>): number[] {
  const list = typeof flags.seed === "string" && flags.seed.includes(",");
  if (list && flags.seeds !== undefined) {
    throw new UsageError("--seeds N and a --seed list say the seeds twice: give one");
  }
  if (list) {
    const out = listOf(flags, "seed").map((v) =>
      intFlag({ seed: v }, "seed", undefined, 0, 2 ** 32 - 1)
    );
    if (new Set(out).size !== out.length) throw new UsageError(`--seed lists a seed twice`);
    return out;
  }
  const first = flags.seed === undefined
    ? TRAIN_DEFAULTS.seed
    : intFlag(flags, "seed", undefined, 0, 2 ** 32 - 1);
  const n = flags.seeds === undefined ? 1 : intFlag(flags, "seeds", undefined, 1, 1000);
  if (first + n - 1 > 2 ** 32 - 1) {
    throw new UsageError(`--seeds ${n} from --seed ${first} pass 2^32 − 1`);
  }
  return Array.from({ length: n }, (_, i) => first + i);
}

/** --baseline placement[,norm], checked. */
function baselineOf(v: string): string {
  const [placement, norm = "layer", ...rest] = v.split(",");
  if (
    !(PLACEMENTS as readonly string[]).includes(placement) || rest.length > 0 ||
    !(NORM_KINDS as readonly string[]).includes(norm)
  ) {
    throw new UsageError(
      `--baseline is placement[,norm] (${PLACEMENTS.join("|")}, ${
        NORM_KINDS.join("|")
      }); got '${v}'`,
    );
  }
  return `${placement},${norm}`;
}

/**
 * A baseline the grid holds: refused before the first run (64) when no cell has its placement
 * and norm — the Δ and p columns would be missing from every row after hours of runs.
 */
function baselineInGrid(baseline: string, flags: Record<string, unknown>): void {
  const [placement, norm] = baseline.split(",");
  const list = (k: "placement" | "norm") => {
    const l = listOf(flags, k);
    return l.length ? l : [TRAIN_DEFAULTS[k]];
  };
  const ps = list("placement"), ns = list("norm");
  if (ps.includes(placement) && ns.includes(norm)) return;
  throw new UsageError(
    `--baseline ${baseline}: no cell of this grid has placement ${placement} and norm ${norm} ` +
      `(placements ${ps.join(",")}; norms ${ns.join(",")})` +
      (ps.includes(placement) && !String(flags.baseline).includes(",")
        ? `: give the norm, e.g. --baseline ${placement},${ns[0]}`
        : ""),
  );
}

async function runGrid(
  flags: Record<string, unknown>,
  seeds: number[],
  data: CharData,
  runtime: { workers: number; backend: "ts" | "wasm" | "blas"; blasLib?: string },
  target: number,
  log: RecordWriter,
  show: boolean,
  terminal: boolean,
  signal: AbortSignal,
  out?: { dir: string; cell?: [number, number] },
): Promise<GridRun[]> {
  const lists = Object.fromEntries(LISTS.map((k) => [k, listOf(flags, k)]));
  const base = { ...flags };
  for (const k of LISTS) delete base[k];
  delete base.seed;
  const combos: Record<string, string>[] = [{}];
  for (const k of ["layers", "lr", "warmup", "placement", "norm"] as const) {
    const vals = lists[k].length ? lists[k] : [undefined];
    const next: Record<string, string>[] = [];
    for (const c of combos) {
      for (const v of vals) next.push(v === undefined ? c : { ...c, [k]: v });
    }
    combos.splice(0, combos.length, ...next);
  }
  // every combination with every seed, the seeds innermost; checked before the first run starts
  const settings = combos.flatMap((c) =>
    seeds.map((seed) => settingsOf({ ...base, ...c, seed: String(seed) }))
  );
  for (const c of settings) checkConfig(fillConfig(c));
  const store = out ? await GridStore.open(out.dir, settings.map(fillConfig), data) : null;
  if (out?.cell && out.cell[1] !== settings.length) {
    throw new UsageError(`--cell ${out.cell.join("/")}: this grid has ${settings.length} runs`);
  }
  // said once the first run has started (its data accepted too)
  let warn = flags.log !== "-" && flags.quiet !== true;
  const runs: GridRun[] = [], gridStarted = performance.now();
  for (let i = 0; i < settings.length && !signal.aborted; i++) {
    if (out?.cell && i !== out.cell[0] - 1) continue;
    const finished = store ? await store.finished(i) : null;
    if (finished) {
      runs.push(finished);
      continue;
    }
    const resume = store ? await store.checkpoint(i) : undefined;
    log.write({ type: "run", run: i, config: fillConfig(settings[i]) });
    const prog = show
      ? trainProgress(terminal, flags.progress === true, {
        index: i,
        count: settings.length,
        started: gridStarted,
      })
      : null;
    let ev: EvalRecord | null = null;
    const { trainer: t, summary: s } = await trainModel({
      data,
      ...runtime,
      ...(resume ? { resume } : settings[i]),
      signal,
      onRecord(r, t) {
        if (warn) warnSchedules(settings.map(fillConfig));
        warn = false;
        log.write({ ...r, run: i });
        if (r.type === "step") prog?.(t, ev, false);
        else {
          ev = r;
          store?.save(i, t); // a stop loses at most one evaluation interval of this run
        }
      },
    });
    prog?.(t, ev, true);
    if (!t.done) {
      store?.save(i, t); // stopped by a signal: the next run of the command resumes here
      break;
    }
    log.write({ ...s, run: i });
    const evals = t.history.filter((r): r is EvalRecord => r.type === "eval");
    const run: GridRun = {
      config: t.config,
      history: t.history,
      final_val_loss: s.final?.val_loss ?? null,
      diverged_step: s.diverged_step,
      target_step: evals.find((e) => e.val_loss <= target)?.step ?? null,
      ms_per_step: s.ms_per_step,
    };
    store?.finish(i, run);
    runs.push(run);
  }
  return runs;
}

/** --cell i/n, 1 ≤ i ≤ n. */
function cellOf(v: string): [number, number] {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  const [i, n] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(i >= 1 && i <= n)) {
    throw new UsageError(`--cell is i/n with 1 ≤ i ≤ n (run i of n), got '${v}'`);
  }
  return [i, n];
}

/**
 * A grid's folder (`--out DIR`): `grid.json` (the runs' settings and the data: another grid is
 * refused), and per run `run-K/`: `ck.st` (a checkpoint at every evaluation and on a stop),
 * `log.ndjson` and, last, `summary.json`, which marks the run finished. Every file goes through
 * the one safe way to write.
 */
class GridStore {
  private constructor(readonly dir: string) {}

  static async open(dir: string, configs: TrainConfig[], data: CharData): Promise<GridStore> {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      throw fileError(e, `--out ${dir}`, dir, "write");
    }
    const grid = JSON.stringify({
      format: "lnstream.grid.v1",
      data: { vocab: data.vocab.length, train: data.train.length, val: data.val.length },
      runs: configs,
    });
    let old: string | null = null;
    try {
      old = await Deno.readTextFile(`${dir}/grid.json`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw fileError(e, `--out ${dir}`, dir, "read");
    }
    if (old !== null && old.trim() !== grid) {
      throw new UsageError(
        `--out ${dir} holds another grid (its grid.json has other runs or data): give another ` +
          `folder, or the command that made it`,
      );
    }
    if (old === null) writeFileSafely({ flag: "--out", path: `${dir}/grid.json` }, grid + "\n");
    return new GridStore(dir);
  }

  #path(i: number, name: string): string {
    return `${this.dir}/run-${String(i).padStart(3, "0")}/${name}`;
  }

  /** A finished run's results, or null. */
  async finished(i: number): Promise<GridRun | null> {
    let summary: Omit<GridRun, "history">;
    try {
      summary = JSON.parse(await Deno.readTextFile(this.#path(i, "summary.json")));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw new DataError(`${this.#path(i, "summary.json")}: ${(e as Error).message}`);
    }
    const log = await Deno.readTextFile(this.#path(i, "log.ndjson"));
    const history = log.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
    return { ...summary, history };
  }

  /** The run's checkpoint to resume from, or undefined. */
  async checkpoint(i: number): Promise<TrainState | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(this.#path(i, "ck.st"));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
    return decodeCheckpoint(bytes, this.#path(i, "ck.st"));
  }

  /** Saves the run's checkpoint. */
  save(i: number, t: Trainer): void {
    Deno.mkdirSync(this.#path(i, "").slice(0, -1), { recursive: true });
    writeFileSafely({ flag: "--out", path: this.#path(i, "ck.st") }, encodeCheckpoint(t.state()));
  }

  /** Writes the run's log, then its summary: the run is finished. */
  finish(i: number, run: GridRun): void {
    const { history, ...summary } = run;
    const log = history.map((r) => JSON.stringify(r)).join("\n") + "\n";
    writeFileSafely({ flag: "--out", path: this.#path(i, "log.ndjson") }, log);
    writeFileSafely(
      { flag: "--out", path: this.#path(i, "summary.json") },
      JSON.stringify(summary),
    );
  }
}

/**
 * The grid as a Markdown table: one row per configuration.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { TRAIN_DEFAULTS } from "../train/trainer.ts";
 * const row = { config: TRAIN_DEFAULTS, history: [], final_val_loss: 1.9, diverged_step: null,
 *   target_step: 750, ms_per_step: 30 };
 * assert(gridTable([row], 2).includes("| 4 | 0.001 | 100 | pre | 1.900 | — | 750 |"));
 * ```
 */
export function gridTable(runs: GridRun[], target: number): string {
  const out = [
    `| layers | lr | warm-up | placement | final val loss | diverged at | first val ≤ ${target} |`,
    "|---:|---:|---:|---|---:|---:|---:|",
  ];
  for (const r of runs) {
    const c = r.config;
    out.push(
      `| ${c.layers} | ${c.lr} | ${c.warmup} | ${variantName(c)} | ${
        r.final_val_loss === null || !Number.isFinite(r.final_val_loss)
          ? "—"
          : r.final_val_loss.toFixed(3)
      } | ${r.diverged_step ?? "—"} | ${r.target_step ?? "—"} |`,
    );
  }
  return out.join("\n");
}
