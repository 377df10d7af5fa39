/**
 * The results of `train --grid` (and `train --seeds`) as a researcher needs them: runs grouped
 * into cells (the same settings but the seed), each cell's mean ± std of the final and best val
 * loss, the fraction of seeds that diverged or collapsed to the unigram loss, steps to the
 * target, the difference to a baseline cell with Welch's p-value; as a Markdown table, a JSON
 * document, and tidy CSV (one row per run and evaluation).
 *
 * @module
 */
import { variantName } from "../model/config.ts";
import { meanStd, welch } from "../stats/welch.ts";
import type { EvalRecord, StepRecord, TrainConfig } from "../train/trainer.ts";
import type { GridRun } from "./train_svg.ts";

/** A grid's cell: the runs of one setting, over seeds. */
export interface Cell {
  /** the setting (its first run's; the seeds differ) */
  config: TrainConfig;
  /** the seeds, in run order */
  seeds: number[];
  /** final val loss: mean, sample std, the values */
  final_val: { mean: number; std: number; values: (number | null)[] };
  /** best val loss over the evaluations */
  best_val: { mean: number; std: number; values: (number | null)[] };
  /** seeds whose loss diverged */
  diverged: number;
  /**
   * seeds whose final val loss lies within 0.05 of a unigram model's, or above it (a model that
   * learned no more than the characters' frequencies)
   */
  collapsed: number;
  /** the first evaluation at or below the target, per seed (null: not reached) */
  target_steps: (number | null)[];
  /** with a baseline: mean final val loss minus the baseline cell's, and Welch's p */
  baseline?: { diff: number; p: number | null };
}

/** A run's best val loss (null without an evaluation). */
function bestVal(r: GridRun): number | null {
  const v = r.history.filter((h): h is EvalRecord => h.type === "eval").map((e) => e.val_loss)
    .filter(Number.isFinite);
  return v.length ? Math.min(...v) : null;
}

/**
 * The val loss of a model that predicts every character by its training-text frequency: the
 * cross-entropy of `val` under `train`'s unigram distribution (a character the training text
 * lacks counted as half an occurrence). A run that has collapsed ends here.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(Math.abs(unigramLoss(Int32Array.of(0, 0, 1, 1), Int32Array.of(0, 0)) - Math.log(2)) < 1e-15);
 * ```
 */
export function unigramLoss(train: Int32Array, val: Int32Array): number {
  const counts = new Map<number, number>();
  for (const id of train) counts.set(id, (counts.get(id) ?? 0) + 1);
  let ce = 0;
  for (const id of val) ce -= Math.log((counts.get(id) ?? 0.5) / train.length);
  return ce / val.length;
}

/**
 * What tells a grid's cells apart: every setting but the seed (the runs of one cell are its
 * seeds).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { TRAIN_DEFAULTS } from "../train/trainer.ts";
 * assert(cellKey({ ...TRAIN_DEFAULTS, seed: 1 }) === cellKey({ ...TRAIN_DEFAULTS, seed: 2 }));
 * assert(cellKey({ ...TRAIN_DEFAULTS, lr: 1 }) !== cellKey(TRAIN_DEFAULTS));
 * ```
 */
export function cellKey(c: TrainConfig): string {
  const { seed: _, ...rest } = c;
  return JSON.stringify(rest);
}

/**
 * The unigram entropy (nats) of a text's ids: the loss of a model that predicts each character
 * by its frequency alone, where a collapsed run ends.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(Math.abs(unigramEntropy(Int32Array.of(0, 1, 0, 1)) - Math.log(2)) < 1e-15);
 * ```
 */
export function unigramEntropy(ids: Int32Array): number {
  const counts = new Map<number, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / ids.length;
    h -= p * Math.log(p);
  }
  return h;
}

/**
 * Groups runs into cells and computes their statistics (`unigram`: the val loss a collapsed run
 * ends at, `unigramLoss`); `baseline` (`placement[,norm]`) adds to
 * each cell the difference to the baseline cell with the same other settings, and Welch's p.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { TRAIN_DEFAULTS } from "../train/trainer.ts";
 * const run = (seed: number, v: number, placement: "pre" | "post") => ({
 *   config: { ...TRAIN_DEFAULTS, seed, placement }, history: [], final_val_loss: v,
 *   diverged_step: null, target_step: null, ms_per_step: 1 });
 * const runs = [run(1, 2, "pre"), run(2, 2.2, "pre"), run(1, 3, "post"), run(2, 3.04, "post")];
 * const cells = gridCells(runs, 3.0, "pre"); // a unigram model's val loss 3.0: post-LN collapsed
 * assert(cells.length === 2 && cells[1].collapsed === 2);
 * assert(Math.abs(cells[1].baseline!.diff - 0.92) < 1e-12 && cells[0].baseline!.diff === 0);
 * ```
 */
export function gridCells(runs: GridRun[], unigram: number, baseline?: string): Cell[] {
  const byKey = new Map<string, GridRun[]>();
  for (const r of runs) {
    const k = cellKey(r.config);
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k)!.push(r);
  }
  const cells: Cell[] = [...byKey.values()].map((rs) => {
    const finals = rs.map((r) => r.final_val_loss), bests = rs.map(bestVal);
    const num = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null);
    return {
      config: rs[0].config,
      seeds: rs.map((r) => r.config.seed),
      final_val: { ...meanStd(num(finals)), values: finals },
      best_val: { ...meanStd(num(bests)), values: bests },
      diverged: rs.filter((r) => r.diverged_step !== null).length,
      // within 0.05 of a unigram model's val loss, or worse than that
      collapsed: rs.filter((r) =>
        r.final_val_loss !== null && r.final_val_loss >= unigram - 0.05
      ).length,
      target_steps: rs.map((r) => r.target_step),
    };
  });
  if (baseline !== undefined) {
    const [placement, norm = "layer"] = baseline.split(",");
    for (const cell of cells) {
      const base = cells.find((b) =>
        b.config.placement === placement && b.config.norm === norm &&
        // the same settings but the variant (Mix-LN's mixPost and DyT's α are the variant's)
        cellKey({
            ...b.config,
            placement: cell.config.placement,
            norm: cell.config.norm,
            mixPost: cell.config.mixPost,
            dytAlpha: cell.config.dytAlpha,
          }) === cellKey(cell.config)
      );
      if (base === undefined) continue;
      const a = cell.final_val.values.filter((x): x is number => x !== null);
      const b = base.final_val.values.filter((x): x is number => x !== null);
      const p = base === cell ? NaN : welch(a, b).p;
      cell.baseline = {
        diff: cell.final_val.mean - base.final_val.mean,
        p: Number.isFinite(p) ? p : null,
      };
    }
  }
  return cells;
}

const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : "—");

/**
 * The cells as a Markdown table: mean ± std of the final and best val loss over the seeds,
 * diverged and collapsed seeds, the seeds that reached the target and their mean step, and the
 * baseline columns when there is a baseline.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { TRAIN_DEFAULTS } from "../train/trainer.ts";
 * const run = (seed: number, v: number) => ({ config: { ...TRAIN_DEFAULTS, seed }, history: [],
 *   final_val_loss: v, diverged_step: null, target_step: 500, ms_per_step: 1 });
 * const t = seedTable(gridCells([run(1, 2), run(2, 2.2)], 3.3), 2.3);
 * assert(t.includes("| 2.100 ± 0.141 |") && t.includes("| 2/2 at 500 |"));
 * ```
 */
export function seedTable(cells: Cell[], target: number): string {
  const base = cells.some((c) => c.baseline !== undefined);
  const out = [
    `| layers | lr | warm-up | variant | seeds | final val loss | best val loss | diverged | ` +
    `collapsed | val ≤ ${target} |${base ? " Δ final vs baseline | p (Welch) |" : ""}`,
    `|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|${base ? "---:|---:|" : ""}`,
  ];
  for (const c of cells) {
    const n = c.seeds.length, cfg = c.config;
    const reached = c.target_steps.filter((s): s is number => s !== null);
    const steps = reached.length
      ? `${reached.length}/${n} at ${
        Math.round(reached.reduce((a, b) => a + b, 0) / reached.length)
      }`
      : `0/${n}`;
    const b = c.baseline;
    out.push(
      `| ${cfg.layers} | ${cfg.lr} | ${cfg.warmup} | ${variantName(cfg)} | ${n} | ` +
        `${f3(c.final_val.mean)} ± ${f3(c.final_val.std)} | ${f3(c.best_val.mean)} ± ` +
        `${f3(c.best_val.std)} | ${c.diverged}/${n} | ${c.collapsed}/${n} | ${steps} |` +
        (base
          ? ` ${b ? (b.diff >= 0 ? "+" : "") + f3(b.diff) : "—"} | ${
            b?.p == null ? "—" : b.p < 1e-4 ? b.p.toExponential(1) : b.p.toFixed(4)
          } |`
          : ""),
    );
  }
  return out.join("\n");
}

/**
 * Tidy CSV for pandas and seaborn: one row per run and evaluation — run, the settings
 * (placement, norm, qk_norm, warmup, lr, layers, seed), step, train_loss, val_loss, grad_norm
 * (the global norm of that step's update, when the log has the step), and the per-block
 * gradient norms as columns `grad_l0`, `grad_l1`, … (empty past a run's depth).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { TRAIN_DEFAULTS } from "../train/trainer.ts";
 * const ev = { type: "eval" as const, step: 0, train_loss: 4, val_loss: 4.1,
 *   layers: [{ layer: 0, l2: 1.5, grad: {} as never }] };
 * const csv = gridCsv([{ config: { ...TRAIN_DEFAULTS, layers: 1 }, history: [ev],
 *   final_val_loss: 4.1, diverged_step: null, target_step: null, ms_per_step: 1 }]);
 * assert(csv.split("\n")[1] === "0,pre,layer,false,100,0.001,1,1337,0,4,4.1,,1.5");
 * ```
 */
export function gridCsv(runs: GridRun[]): string {
  const L = Math.max(0, ...runs.map((r) => r.config.layers));
  const head = [
    "run",
    "placement",
    "norm",
    "qk_norm",
    "warmup",
    "lr",
    "layers",
    "seed",
    "step",
    "train_loss",
    "val_loss",
    "grad_norm",
    ...Array.from({ length: L }, (_, l) => `grad_l${l}`),
  ];
  const rows = [head.join(",")];
  runs.forEach((r, i) => {
    const c = r.config;
    const norms = new Map<number, number>();
    for (const h of r.history) {
      if (h.type === "step") norms.set((h as StepRecord).step, (h as StepRecord).grad_norm);
    }
    for (const h of r.history) {
      if (h.type !== "eval") continue;
      const e = h as EvalRecord, g = norms.get(e.step);
      rows.push([
        i,
        c.placement,
        c.norm,
        c.qkNorm,
        c.warmup,
        c.lr,
        c.layers,
        c.seed,
        e.step,
        e.train_loss,
        e.val_loss,
        g === undefined ? "" : g,
        ...Array.from({ length: L }, (_, l) => e.layers[l]?.l2 ?? ""),
      ].join(","));
    }
  });
  return rows.join("\n") + "\n";
}
