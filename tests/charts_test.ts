// Every chart's structure (not its pixels): axis titles, tick labels, legend entries, one line per
// series — for compare, train, train --grid and trace.
import { assert, assertEquals, assertStringIncludes } from "./std_assert.ts";
import { compareRuns } from "../lib/model/compare.ts";
import { compareSvg } from "../lib/cli/svg.ts";
import { gridSvg, layersSvg, trainSvg } from "../lib/cli/train_svg.ts";
import { traceSvg } from "../lib/cli/trace_svg.ts";
import { TRAIN_DEFAULTS, type TrainRecord } from "../lib/train/trainer.ts";

const count = (svg: string, re: RegExp) => (svg.match(re) ?? []).length;

/** A made-up log: a step record per step, an evaluation every 10. */
function history(iters: number, start: number): TrainRecord[] {
  const h: TrainRecord[] = [];
  for (let s = 0; s < iters; s++) {
    if (s % 10 === 0) {
      h.push({
        type: "eval",
        step: s,
        train_loss: start - s / 50,
        val_loss: start - s / 60,
        layers: [],
      });
    }
    h.push({
      type: "step",
      step: s,
      lr: 1e-3,
      loss: start - s / 50 + 0.05 * Math.sin(s),
      grad_norm: 1,
      ms: 1,
    });
  }
  return h;
}

Deno.test("compare's chart: per panel a title, both axis titles, ticks, a legend entry and a line per variant and depth", () => {
  const r = compareRuns({
    layers: [2, 4],
    dim: 8,
    heads: 2,
    seq: 4,
    batch: 1,
    inits: ["gpt2", "xavier"],
    seeds: 2,
    placements: ["pre", "post", "peri"],
    norms: ["layer", "rms"],
  });
  const svg = compareSvg(r);
  assertEquals(count(svg, /‖∂L\/∂W_fc‖ per layer — /g), 2); // a panel per init
  assertEquals(count(svg, />layer \(input side = 0\)</g), 2);
  assertEquals(count(svg, />‖∂L\/∂W_fc‖ \(log scale\)</g), 2);
  assert(count(svg, /text-anchor="end">\de-?\d+</g) >= 4, "y tick labels");
  // legend: six variants a panel, each also labelled beside its deepest line's end
  for (const v of ["pre-LN", "post-LN", "peri", "pre-rms", "post-rms", "peri-rms"]) {
    assertEquals(count(svg, new RegExp(`>${v}</text>`, "g")), 2 * 2, v);
  }
  // and the depths by lightness
  assertEquals(count(svg, /data-depth="[24]">L = [24]</g), 2 * 2);
  // one line per variant × depth × panel
  assertEquals(count(svg, /<polyline data-placement=/g), 6 * 2 * 2);
});

Deno.test("train's chart: title, axis titles, ticks, a legend of four, the step loss, its mean and two evaluation lines", () => {
  const svg = trainSvg(history(100, 4), { ...TRAIN_DEFAULTS, iters: 100 });
  assertStringIncludes(svg, "Loss — 4 × pre-LN");
  assertStringIncludes(svg, ">step</text>");
  assertStringIncludes(svg, ">loss (nats)</text>");
  for (const t of ["step loss", "mean of 21 steps", "eval train", "eval val"]) {
    assertStringIncludes(svg, `>${t}</text>`);
  }
  assertEquals(count(svg, /<polyline/g), 4);
  assert(count(svg, /text-anchor="middle">\d+<\/text>/g) >= 3, "x tick labels");
});

Deno.test("train's chart: the mean of 21 steps is centred — a linear loss is its own mean, without lag", () => {
  // a straight line: a centred mean reproduces it (a trailing one would lie 10 steps behind)
  const h: TrainRecord[] = Array.from({ length: 100 }, (_, s) => ({
    type: "step" as const,
    step: s,
    lr: 1e-3,
    loss: 4 - s / 50,
    grad_norm: 1,
    ms: 1,
  }));
  const svg = trainSvg(h, { ...TRAIN_DEFAULTS, iters: 100 });
  const lines = [...svg.matchAll(/<polyline[^>]*points="([^"]*)"/g)].map((m) => m[1]);
  // the raw losses and their mean: the same points between the ends (10 each side)
  const raw = lines[0].split(" "), mean = lines[1].split(" ");
  assertEquals(mean.length, raw.length);
  assertEquals(mean.slice(10, -10), raw.slice(10, -10));
});

Deno.test("train --svg-layers' chart: a line and points per block on a log axis with 1-2-5 ticks, labels at the ends", () => {
  const h: TrainRecord[] = [0, 50, 100].map((step) => ({
    type: "eval" as const,
    step,
    train_loss: 3,
    val_loss: 3,
    layers: Array.from({ length: 4 }, (_, l) => ({
      layer: l,
      l2: 10 ** (-l) * (1 + step / 100),
      grad: {} as never,
    })),
  }));
  const svg = layersSvg(h, { ...TRAIN_DEFAULTS, layers: 4, iters: 100 });
  assertStringIncludes(svg, "Gradient norm per block over training — 4 × pre-LN");
  assertStringIncludes(svg, "(log scale)</text>");
  assertStringIncludes(svg, ">step</text>");
  assertEquals(count(svg, /<polyline data-layer=/g), 4);
  assertEquals(count(svg, /<circle /g), 4 * 3);
  for (const t of ["block 0 (input)", "block 1", "block 2", "block 3 (output)"]) {
    assertStringIncludes(svg, `>${t}</text>`);
  }
  // ticks: 1, 2, 5 per decade from 1e-3 to 2, labelled plainly from 0.01, as fe-3 below
  for (const t of ["1e-3", "2e-3", "5e-3", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2"]) {
    assertStringIncludes(svg, `text-anchor="end">${t}</text>`);
  }
});

Deno.test("the grid's chart: a panel per lr × depth with axis titles; a line per run; legend by placement, norm, warm-up", () => {
  const run = (placement: "pre" | "post", norm: "layer" | "dyt", warmup: number, lr: number) => ({
    config: { ...TRAIN_DEFAULTS, placement, norm, warmup, lr, iters: 100 },
    history: history(100, placement === "pre" ? 4 : 4.2),
    final_val_loss: 2,
    diverged_step: null,
    target_step: null,
    ms_per_step: 1,
  });
  const runs = [];
  for (const lr of [1e-3, 1e-2]) {
    for (const p of ["pre", "post"] as const) {
      for (const n of ["layer", "dyt"] as const) {
        for (const w of [0, 10]) runs.push(run(p, n, w, lr));
      }
    }
  }
  const svg = gridSvg(runs, 2.3);
  assertEquals(count(svg, />lr 0\.0\d+, 4 layers</g), 2);
  assertEquals(count(svg, />step</g), 2);
  assertEquals(count(svg, />train loss \(nats\)</g), 2);
  assertEquals(count(svg, /<polyline data-placement=/g), runs.length);
  for (const t of ["pre-LN", "post-LN", "LayerNorm", "DyT", "warm-up", "no warm-up"]) {
    assertStringIncludes(svg, `>${t}</text>`);
  }
  // DyT's triangles: six on each dyt line
  assertEquals(count(svg, /<path d="M[\d.]+,[\d.]+l4\.5,8h-9z"/g), 8 * 6 + 1);
  assertEquals(count(svg, /<polygon data-band/g), 0); // one seed: no band
});

Deno.test("the grid's chart with seeds: a cell's seeds make one mean line and a band of ± 1 std", () => {
  const run = (placement: "pre" | "post", seed: number) => ({
    config: { ...TRAIN_DEFAULTS, placement, seed, iters: 100 },
    history: history(100, 4 + seed / 10),
    final_val_loss: 2,
    diverged_step: null,
    target_step: null,
    ms_per_step: 1,
  });
  const runs = [1, 2, 3].flatMap((seed) => [run("pre", seed), run("post", seed)]);
  const svg = gridSvg(runs, 2.3);
  assertEquals(count(svg, /<polyline data-placement=/g), 2);
  assertEquals(count(svg, /data-seeds="3"/g), 2);
  assertEquals(count(svg, /<polygon data-band/g), 2);
  assertEquals(count(svg, /<polyline data-seed-of=/g), 6); // and each seed, thin
  // the caption (wrapped over lines) says so
  const caption = [...svg.matchAll(/<text x="20"[^>]*font-size="11">([^<]*)<\/text>/g)]
    .map((m) => m[1]).join(" ");
  assertStringIncludes(caption, "mean of 3 seeds (thin: each seed) with a band of ± 1 sample std");
  // the two cells' losses are made the same here: said so, as one line hides the other
  assertStringIncludes(caption, "pre-LN (warm-up) and post-LN (warm-up) coincide");
  assertStringIncludes(caption, "○ = val loss first ≤ 2.3");
  // the mean line lies inside its band: the seeds' losses are 4.1, 4.2, 4.3 (+ the same curve)
  const pts = /data-placement="pre"[^>]*points="([\d.]+),([\d.]+)/.exec(svg)!;
  const band = /<polygon data-band="pre"[^>]*points="([^"]*)"/.exec(svg)![1].split(" ");
  const ys = band.filter((q) => q.startsWith(pts[1] + ",")).map((q) => Number(q.split(",")[1]));
  assertEquals(ys.length, 2);
  assert(Math.min(...ys) < Number(pts[2]) && Number(pts[2]) < Math.max(...ys), `${ys} ${pts[2]}`);
});

Deno.test("the grid's chart: a seed's target circle sits on that seed's curve, not the cell's mean", () => {
  // seed 1 trains (its loss falls from 4 by 1 per 50 steps), seeds 2 and 3 stay at 3.3
  const flat = (h: TrainRecord[]) =>
    h.map((r) => r.type === "step" ? { ...r, loss: 3.3 } : { ...r, val_loss: 3.3 });
  const run = (seed: number) => ({
    config: { ...TRAIN_DEFAULTS, seed, iters: 100 },
    history: seed === 1 ? history(100, 4) : flat(history(100, 4)),
    final_val_loss: seed === 1 ? 2.4 : 3.3,
    diverged_step: null,
    target_step: seed === 1 ? 50 : null,
    ms_per_step: 1,
  });
  const svg = gridSvg([run(1), run(2), run(3)], 3.2);
  const circle = /<circle data-target="50" cx="([\d.]+)" cy="([\d.]+)"/.exec(svg)!;
  assert(circle, "a circle for the seed that reached the target");
  const pointAt = (line: string) => {
    const pts = /points="([^"]*)"/.exec(line)![1].split(" ").map((q) => q.split(",").map(Number));
    return pts.find(([x]) => x.toFixed(1) === circle[1])!;
  };
  const seedLine = svg.match(/<polyline data-seed-of=[^>]*>/g)![0]; // seed 1's, drawn first
  const meanLine = /<polyline data-placement=[^>]*>/.exec(svg)![0];
  assertEquals(pointAt(seedLine)[1].toFixed(1), circle[2]);
  assert(Math.abs(pointAt(meanLine)[1] - Number(circle[2])) > 5, "not on the mean line");
});

Deno.test("the grid's chart: a seed that diverged and went on has its × where it diverged", () => {
  // the loss jumps to 4.2 over steps 40–60, then is 3.3 again to the end
  const h = history(100, 4).map((r) =>
    r.type === "step" ? { ...r, loss: r.step >= 40 && r.step <= 60 ? 4.2 : 3.3 } : r
  );
  const run = (seed: number) => ({
    config: { ...TRAIN_DEFAULTS, seed, iters: 100 },
    history: h,
    final_val_loss: 3.3,
    diverged_step: seed === 1 ? 50 : null,
    target_step: null,
    ms_per_step: 1,
  });
  const svg = gridSvg([run(1), run(2)], 2.3);
  const cross = /<path d="M([\d.]+),([\d.]+)L[^"]*" stroke="[^"]*" stroke-width="2"\/>/.exec(svg)!;
  assert(cross, "a × for the diverged seed");
  const [cx, cy] = [Number(cross[1]) + 5, Number(cross[2]) + 5];
  const line = svg.match(/<polyline data-seed-of=[^>]*>/g)![0];
  const pts = /points="([^"]*)"/.exec(line)![1].split(" ").map((q) => q.split(",").map(Number));
  const i = pts.findIndex(([x]) => x >= cx - 0.05);
  assertEquals(cy.toFixed(1), pts[i][1].toFixed(1));
  assert(pts.at(-1)![1] - cy > 5, "above the curve's end (the spike, not the final loss)");
});

Deno.test("trace's chart: a cell per layer × channel, marks, a row label per block, the colour scale, LN1 bars", () => {
  const abs = [Float64Array.of(1, 9, 2, 3), Float64Array.of(2, 8, 1, 30)];
  const svg = traceSvg(abs, [0.5, 1.5], 2, "t");
  assertEquals(count(svg, />block \d</g), 2);
  assertEquals(count(svg, /<title>layer \d, channel \d/g), 4);
  assertStringIncludes(svg, ">LN1 input std</text>");
  assertEquals(count(svg, /fill="#4c78a8"/g), 2);
  assertStringIncludes(svg, "most often among the largest: 1 (2/2 layers)");
});
