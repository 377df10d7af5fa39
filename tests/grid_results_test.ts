// The grid's cells: seeds grouped, collapse (within 0.05 of a unigram model's val loss, or above
// it), and the baseline matched on every setting but the variant — Mix-LN's mixPost included.
import { assert, assertEquals } from "./std_assert.ts";
import { gridCells } from "../lib/cli/grid_results.ts";
import { TRAIN_DEFAULTS, type TrainConfig } from "../lib/train/trainer.ts";
import { welch } from "../lib/stats/welch.ts";

const run = (config: Partial<TrainConfig>, seed: number, v: number) => ({
  config: { ...TRAIN_DEFAULTS, ...config, seed },
  history: [],
  final_val_loss: v,
  diverged_step: null,
  target_step: null,
  ms_per_step: 1,
});

Deno.test("gridCells: a run above the unigram model's loss has collapsed too; 0.06 below it has not", () => {
  const cells = gridCells([
    run({ placement: "post" }, 1, 3.0),
    run({ placement: "post" }, 2, 3.4), // worse than a unigram model
    run({ placement: "post" }, 3, 2.94), // 0.06 below: it learned something
  ], 3.0);
  assertEquals(cells.length, 1);
  assertEquals(cells[0].collapsed, 2);
});

Deno.test("gridCells: --baseline pre matches Mix-LN's and DyT's cells (their mixPost and α are the variant's)", () => {
  const runs = [];
  for (const seed of [1, 2, 3]) {
    runs.push(run({ placement: "pre", mixPost: 0 }, seed, 2 + seed / 100));
    runs.push(run({ placement: "mix", mixPost: 2 }, seed, 1.9 + seed / 50));
    runs.push(run({ placement: "pre", norm: "dyt", dytAlpha: 1 }, seed, 2.1 + seed / 30));
    // another lr: its own baseline
    runs.push(run({ placement: "pre", lr: 3e-3 }, seed, 1.8 + seed / 100));
    runs.push(run({ placement: "mix", mixPost: 2, lr: 3e-3 }, seed, 1.7 + seed / 40));
  }
  const cells = gridCells(runs, 3.3, "pre");
  const cell = (p: string, n: string, lr: number) =>
    cells.find((c) => c.config.placement === p && c.config.norm === n && c.config.lr === lr)!;
  const mix = cell("mix", "layer", 1e-3), pre = cell("pre", "layer", 1e-3);
  assert(mix.baseline !== undefined, "mix has a baseline");
  assert(Math.abs(mix.baseline.diff - (mix.final_val.mean - pre.final_val.mean)) < 1e-12);
  const want = welch(mix.final_val.values as number[], pre.final_val.values as number[]).p;
  assertEquals(mix.baseline.p, want);
  assert(cell("pre", "dyt", 1e-3).baseline !== undefined, "dyt has a baseline");
  const mix3 = cell("mix", "layer", 3e-3), pre3 = cell("pre", "layer", 3e-3);
  assert(Math.abs(mix3.baseline!.diff - (mix3.final_val.mean - pre3.final_val.mean)) < 1e-12);
  assertEquals(pre.baseline!.diff, 0);
});
