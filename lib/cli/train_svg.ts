/**
 * `train`'s charts as SVG: the loss curves of one run (train loss per step, its running mean,
 * the evaluations' train and val loss), and the grid (one panel per learning rate and depth,
 * one line per placement and warm-up).
 *
 * @module
 */
import { type NormKind, type Placement, variantLabel, variantName } from "../model/config.ts";
import type { EvalRecord, StepRecord, TrainConfig, TrainRecord } from "../train/trainer.ts";
import { logTicks } from "./svg.ts";
import { cellKey } from "./grid_results.ts";

/** One trained configuration of a grid. */
export interface GridRun {
  /** its settings */
  config: TrainConfig;
  /** its log */
  history: TrainRecord[];
  /** val loss of the last evaluation */
  final_val_loss: number | null;
  /** see `divergedAt` */
  diverged_step: number | null;
  /** the first evaluation with val loss ≤ the target */
  target_step: number | null;
  /** mean ms per step */
  ms_per_step: number | null;
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const steps = (h: TrainRecord[]) => h.filter((r): r is StepRecord => r.type === "step");
const evals = (h: TrainRecord[]) => h.filter((r): r is EvalRecord => r.type === "eval");

/**
 * Centred moving mean over `w` values (w/2 each side, fewer at the ends), so the curve does not
 * lag the data; a non-finite value ends the curve.
 */
function smooth(v: number[], w: number): number[] {
  let n = 0;
  while (n < v.length && v[n] !== null && Number.isFinite(v[n])) n++;
  const half = Math.floor(w / 2), pre = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) pre[i + 1] = pre[i] + v[i];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.max(0, i - half), b = Math.min(n, i + half + 1);
    out.push((pre[b] - pre[a]) / (b - a));
  }
  return out;
}

interface Panel {
  x: number;
  y: number;
  w: number;
  h: number;
  xMax: number;
  lo: number;
  hi: number;
}

function axes(p: Panel, title: string, out: string[], yTitle = "loss (nats)") {
  const X = (s: number) => p.x + (s / Math.max(1, p.xMax)) * p.w;
  const Y = (v: number) => p.y + (1 - (v - p.lo) / (p.hi - p.lo)) * p.h;
  out.push(`<text x="${p.x}" y="${p.y - 8}" font-weight="bold">${esc(title)}</text>`);
  // the y axis's title, turned, left of its tick labels
  const ty = p.y + p.h / 2, tx = p.x - 42;
  out.push(
    `<text x="${tx}" y="${ty}" text-anchor="middle" fill="#333" ` +
      `transform="rotate(-90 ${tx} ${ty})">${esc(yTitle)}</text>`,
  );
  const span = p.hi - p.lo, raw = span / 5, e = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * e).find((s) => s >= raw)!;
  for (let v = Math.ceil(p.lo / step) * step; v <= p.hi + 1e-9; v += step) {
    out.push(
      `<line x1="${p.x}" x2="${p.x + p.w}" y1="${Y(v).toFixed(1)}" y2="${Y(v).toFixed(1)}" ` +
        `stroke="#eee"/><text x="${p.x - 6}" y="${(Y(v) + 4).toFixed(1)}" text-anchor="end">${+v
          .toFixed(6)}</text>`,
    );
  }
  const xs = Math.max(1, p.xMax), xe = 10 ** Math.floor(Math.log10(xs / 4));
  const xstep = [1, 2, 5, 10].map((f) => f * xe).find((s) => s >= xs / 5)!;
  for (let s = 0; s <= xs; s += xstep) {
    out.push(`<text x="${X(s).toFixed(1)}" y="${p.y + p.h + 16}" text-anchor="middle">${s}</text>`);
  }
  out.push(
    `<line x1="${p.x}" x2="${p.x}" y1="${p.y}" y2="${p.y + p.h}" stroke="#333"/>` +
      `<line x1="${p.x}" x2="${p.x + p.w}" y1="${p.y + p.h}" y2="${p.y + p.h}" stroke="#333"/>`,
  );
  return { X, Y };
}

const clampY = (p: Panel, v: number) => Math.min(p.hi, Math.max(p.lo, v));

/**
 * The loss curves of one run.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { TRAIN_DEFAULTS } from "../train/trainer.ts";
 * const h = [0, 1, 2].map((s) => ({ type: "step" as const, step: s, lr: 1, loss: 4 - s, grad_norm: 1, ms: 1 }));
 * const svg = trainSvg(h, TRAIN_DEFAULTS);
 * assert(svg.startsWith("<svg") && svg.includes("<polyline"));
 * ```
 */
export function trainSvg(history: TrainRecord[], c: TrainConfig): string {
  const W = 720, H = 420, st = steps(history), ev = evals(history);
  const losses = st.map((r) => r.loss).filter((v) => v !== null && Number.isFinite(v));
  const evl = ev.flatMap((e) => [e.train_loss, e.val_loss]).filter((v) => Number.isFinite(v));
  const all = [...losses, ...evl];
  const lo = Math.max(0, Math.min(...all) - 0.1), hi = Math.max(...all, lo + 0.5) + 0.05;
  const p: Panel = { x: 64, y: 60, w: W - 64 - 170, h: H - 60 - 70, xMax: c.iters, lo, hi };
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  const { X, Y } = axes(
    p,
    `Loss — ${c.layers} × ${variantLabel(c)}, C ${c.dim}, lr ${c.lr}, warm-up ${c.warmup}`,
    out,
  );
  const line = (pts: [number, number][], color: string, width: number, extra = "") =>
    `<polyline fill="none" stroke="${color}" stroke-width="${width}"${extra} points="${
      pts.map(([s, v]) => `${X(s).toFixed(1)},${Y(clampY(p, v)).toFixed(1)}`).join(" ")
    }"/>`;
  out.push(line(st.map((r) => [r.step, r.loss]), "#bbb", 0.7));
  out.push(line(smooth(st.map((r) => r.loss), 20).map((v, i) => [st[i].step, v]), "#555", 1.5));
  out.push(line(ev.map((e) => [e.step, e.train_loss]), "hsl(215, 75%, 45%)", 2));
  out.push(
    line(ev.map((e) => [e.step, e.val_loss]), "hsl(15, 80%, 45%)", 2, ` stroke-dasharray="6 4"`),
  );
  for (const e of ev) {
    for (
      const [v, color] of [[e.train_loss, "hsl(215, 75%, 45%)"], [
        e.val_loss,
        "hsl(15, 80%, 45%)",
      ]] as const
    ) {
      if (Number.isFinite(v)) {
        out.push(
          `<circle cx="${X(e.step).toFixed(1)}" cy="${
            Y(clampY(p, v)).toFixed(1)
          }" r="3" fill="${color}"/>`,
        );
      }
    }
  }
  // the legend as drawn: width, dashes and the evaluations' points
  const legend: [string, string, number, string, boolean][] = [
    ["#bbb", "step loss", 0.7, "", false],
    ["#555", "mean of 21 steps", 1.5, "", false],
    ["hsl(215, 75%, 45%)", "eval train", 2, "", true],
    ["hsl(15, 80%, 45%)", "eval val", 2, ` stroke-dasharray="6 4"`, true],
  ];
  legend.forEach(([color, text, width, dash, point], i) => {
    const x = p.x + p.w + 12, y = p.y + 10 + 18 * i;
    out.push(
      `<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${color}" ` +
        `stroke-width="${width}"${dash}/>` +
        (point ? `<circle cx="${x + 12}" cy="${y}" r="3" fill="${color}"/>` : "") +
        `<text x="${x + 28}" y="${y + 4}">${text}</text>`,
    );
  });
  const last = ev.at(-1);
  out.push(
    `<text x="${p.x + p.w / 2}" y="${p.y + p.h + 34}" text-anchor="middle">step</text>`,
    `<text x="${p.x}" y="${H - 12}" fill="#555" font-size="11">${
      esc(
        `batch ${c.batch} × ${c.block}, ${c.heads} heads, ${c.init} init, min lr ${c.minLr}, ` +
          `clip ${c.clip}, seed ${c.seed}` +
          (last ? ` — val loss ${last.val_loss.toFixed(3)} at step ${last.step}` : ""),
      )
    }</text>`,
    "</svg>",
  );
  return out.join("\n") + "\n";
}

/**
 * The grid's chart: one panel per learning rate and depth; in each, the running mean (20
 * steps) of the train loss of pre-LN (blue) and post-LN (orange), solid with warm-up and
 * dashed without; a cross where a run diverged.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { TRAIN_DEFAULTS } from "../train/trainer.ts";
 * const h = [0, 1].map((s) => ({ type: "step" as const, step: s, lr: 1, loss: 4 - s, grad_norm: 1, ms: 1 }));
 * const run = { config: TRAIN_DEFAULTS, history: h, final_val_loss: null, diverged_step: null,
 *   target_step: null, ms_per_step: 1 };
 * assert((gridSvg([run, { ...run, config: { ...TRAIN_DEFAULTS, placement: "post" } }], 2)
 *   .match(/<polyline/g) ?? []).length === 2);
 * ```
 */
export function gridSvg(runs: GridRun[], target: number): string {
  const key = (c: TrainConfig) => `${c.lr}|${c.layers}`;
  const panels = [...new Set(runs.map((r) => key(r.config)))];
  const cols = Math.min(panels.length, 2), rows = Math.ceil(panels.length / cols);
  const PW = 460, PH = 300, W = PW * cols;
  // the legend: a colour per placement, a marker per norm, dashes for no warm-up
  const placements = PLACEMENT_ORDER.filter((p) => runs.some((r) => r.config.placement === p));
  const norms = NORM_ORDER.filter((n) => runs.some((r) => r.config.norm === n));
  const warm = [...new Set(runs.map((r) => r.config.warmup > 0))].sort().reverse();
  const items: { text: string; color: string; dash: string; norm?: NormKind }[] = [
    ...placements.map((p) => ({
      text: variantLabel({ placement: p }),
      color: PLACE_COLOR[p],
      dash: "",
    })),
    ...(norms.length > 1 || norms[0] !== "layer"
      ? norms.map((n) => ({ text: NORM_LABEL[n], color: "#444", dash: "", norm: n }))
      : []),
    ...(warm.length > 1
      ? warm.map((w) => ({
        text: w ? "warm-up" : "no warm-up",
        color: "#444",
        dash: w ? "" : ` stroke-dasharray="6 4"`,
      }))
      : []),
  ];
  const widthOf = (t: string) => 52 + 7.5 * t.length;
  const at: [number, number][] = [];
  let lx = 20, row = 0;
  for (const it of items) {
    if (lx + widthOf(it.text) > W - 10 && lx > 20) [lx, row] = [20, row + 1];
    at.push([lx, row]);
    lx += widthOf(it.text);
  }
  const c0 = runs[0].config;
  const settings = `batch ${c0.batch} × ${c0.block}, C ${c0.dim}, ${c0.heads} heads, ${c0.init} ` +
    `init, ${c0.iters} steps, cosine to ${c0.minLr}, clip ${c0.clip}, AdamW β ${c0.beta1}/` +
    `${c0.beta2}, weight decay ${c0.weightDecay}; val loss every ${c0.evalInterval} steps`;
  // once: the runs by cell (a cell's runs are its seeds), each run's centred mean train loss
  const cells = new Map<string, GridRun[]>();
  for (const r of runs) cells.set(cellKey(r.config), [...(cells.get(cellKey(r.config)) ?? []), r]);
  const curveOf = new Map(runs.map((r) => {
    const st = steps(r.history);
    return [r, smooth(st.map((s) => s.loss), 20).map((v, j) => [st[j].step, v] as const)];
  }));
  const seeds = Math.max(...[...cells.values()].map((rs) => rs.length));
  const caption = wrap(
    `${settings}. Train loss, centred mean of 21 steps` +
      (seeds > 1
        ? `, mean of ${seeds} seeds (thin: each seed) with a band of ± 1 sample std`
        : "") +
      `; ○ = val loss first ≤ ${target}; × = diverged.` +
      coinciding([...cells.values()], curveOf, key).map((t) => ` ${t}`).join(""),
    Math.floor((W - 30) / 6),
  );
  const legendRows = row + 1, H = PH * rows + 24 + 14 * caption.length + 18 * legendRows;
  const all = runs.flatMap((r) => curveOf.get(r)!.map(([, v]) => v));
  const start = Math.max(
    ...runs.map((r) => steps(r.history)[0]?.loss ?? 0).filter(Number.isFinite),
  );
  const lo = Math.max(0, Math.min(...all, target) - 0.1), hi = Math.max(start, lo + 0.5) + 0.2;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  panels.forEach((k, i) => {
    const mine = runs.filter((r) => key(r.config) === k), c0 = mine[0].config;
    const p: Panel = {
      x: (i % cols) * PW + 56,
      y: Math.floor(i / cols) * PH + 40,
      w: PW - 56 - 20,
      h: PH - 40 - 40,
      xMax: Math.max(...mine.map((r) => r.config.iters)),
      lo,
      hi,
    };
    const qk = c0.qkNorm ? ", QK-norm" : "";
    const { X, Y } = axes(p, `lr ${c0.lr}, ${c0.layers} layers${qk}`, out, "train loss (nats)");
    out.push(
      `<text x="${p.x + p.w / 2}" y="${p.y + p.h + 30}" text-anchor="middle" fill="#333">` +
        `step</text>`,
    );
    // one curve per cell (its seeds: the mean, and a band of ± one sample std)
    [...cells.values()].filter((rs) => key(rs[0].config) === k).forEach((seeds, m) => {
      const c = seeds[0].config, color = PLACE_COLOR[c.placement];
      const curves = seeds.map((r) => curveOf.get(r)!);
      const len = Math.max(...curves.map((q) => q.length));
      const mean: [number, number][] = [], band: [number, number, number][] = [];
      for (let j = 0; j < len; j++) {
        const vs = curves.filter((q) => q.length > j).map((q) => q[j][1]);
        const x = curves.find((q) => q.length > j)![j][0];
        const mu = vs.reduce((a, b) => a + b, 0) / vs.length;
        mean.push([X(x), Y(clampY(p, mu))]);
        if (vs.length > 1) {
          const sd = Math.sqrt(vs.reduce((a, b) => a + (b - mu) ** 2, 0) / (vs.length - 1));
          band.push([X(x), Y(clampY(p, mu + sd)), Y(clampY(p, mu - sd))]);
        }
      }
      const xy = (q: [number, number][]) =>
        q.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
      if (band.length > 1) {
        const ring: [number, number][] = [
          ...band.map(([x, hi]) => [x, hi] as [number, number]),
          ...band.map(([x, , lo]) => [x, lo] as [number, number]).reverse(),
        ];
        out.push(
          `<polygon data-band="${variantName(c)}" fill="${color}" fill-opacity="0.08" ` +
            `stroke="none" points="${xy(ring)}"/>`,
        );
        // each seed thin and faint too: a band over seeds that split (some collapse, some
        // train) matches none of them
        for (const q of curves) {
          const pts = q.map(([st, v]) => [X(st), Y(clampY(p, v))] as [number, number]);
          out.push(
            `<polyline data-seed-of="${variantName(c)}" fill="none" stroke="${color}" ` +
              `stroke-width="0.6" stroke-opacity="0.45"${
                c.warmup === 0 ? ` stroke-dasharray="3 2"` : ""
              } points="${xy(pts)}"/>`,
          );
        }
      }

      out.push(
        `<polyline data-placement="${c.placement}" data-variant="${variantName(c)}" ` +
          `data-warmup="${c.warmup}" data-seeds="${seeds.length}" fill="none" ` +
          `stroke="${color}" stroke-width="1.8"${
            c.warmup === 0 ? ` stroke-dasharray="6 4"` : ""
          } points="${xy(mean)}"/>`,
      );
      // the norm's marker at six points of the line, offset per cell so markers do not stack
      for (let q = 0; q < 6 && mean.length > 1; q++) {
        const j = Math.floor(((q + 0.25 + (m % 3) / 4) / 6) * (mean.length - 1));
        out.push(marker(c.norm, mean[j][0], mean[j][1], color));
      }
      // where each seed's val loss first reached the target: an open circle on that seed's own
      // curve (the mean's is another seed's too where seeds split into collapsed and trained)
      for (const r of seeds) {
        if (r.target_step === null) continue;
        const q = curves[seeds.indexOf(r)], j = q.findIndex(([st]) => st >= r.target_step!);
        if (j < 0) continue;
        out.push(
          `<circle data-target="${r.target_step}" cx="${X(q[j][0]).toFixed(1)}" cy="${
            Y(clampY(p, q[j][1])).toFixed(1)
          }" r="4.5" fill="white" stroke="${color}" stroke-width="1.8"/>`,
        );
      }
      for (const r of seeds) {
        if (r.diverged_step === null) continue;
        // on the seed's curve where it diverged (a run that went on has more curve after it)
        const q = curves[seeds.indexOf(r)], x = X(r.diverged_step);
        const at = q.find(([st]) => st >= r.diverged_step!) ?? q[q.length - 1];
        const y = Y(clampY(p, at ? at[1] : hi));
        out.push(
          `<path d="M${x - 5},${y - 5}L${x + 5},${y + 5}M${x - 5},${y + 5}L${x + 5},${y - 5}" ` +
            `stroke="${color}" stroke-width="2"/>`,
        );
      }
    });
  });
  items.forEach((it, i) => {
    const [x, r] = at[i], ly = PH * rows + 14 + 18 * r;
    out.push(
      `<line x1="${x}" x2="${x + 28}" y1="${ly}" y2="${ly}" stroke="${it.color}" ` +
        `stroke-width="2"${it.dash}/>` + (it.norm ? marker(it.norm, x + 14, ly, it.color) : "") +
        `<text x="${x + 34}" y="${ly + 4}">${it.text}</text>`,
    );
  });
  caption.forEach((line, i) =>
    out.push(
      `<text x="20" y="${H - 4 - 14 * (caption.length - 1 - i)}" fill="#555" font-size="11">${
        esc(line)
      }</text>`,
    )
  );
  out.push(
    "</svg>",
  );
  return out.join("\n") + "\n";
}

/**
 * Notes on cells whose curves coincide (mean train loss within 0.01 over the second half of
 * the run): one line would hide the others.
 */
function coinciding(
  cells: GridRun[][],
  curveOf: Map<GridRun, readonly (readonly [number, number])[]>,
  panelOf: (c: TrainConfig) => string,
): string[] {
  const meanOf = (rs: GridRun[]) => {
    const curves = rs.map((r) => curveOf.get(r)!);
    const n = Math.min(...curves.map((q) => q.length));
    return Array.from({ length: n }, (_, j) => curves.reduce((a, q) => a + q[j][1], 0) / rs.length);
  };
  const label = (c: TrainConfig) =>
    `${variantLabel(c)} (${c.warmup > 0 ? "warm-up" : "no warm-up"})`;
  const out: string[] = [];
  for (const panel of new Set(cells.map((rs) => panelOf(rs[0].config)))) {
    const list = cells.filter((rs) => panelOf(rs[0].config) === panel)
      .map((rs) => ({ c: rs[0].config, m: meanOf(rs) }));
    const done = new Set<number>();
    for (let i = 0; i < list.length; i++) {
      if (done.has(i)) continue;
      const group = [i];
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i].m, b = list[j].m, n = Math.min(a.length, b.length);
        if (n < 2 || done.has(j)) continue;
        let d = 0;
        for (let q = Math.floor(n / 2); q < n; q++) d = Math.max(d, Math.abs(a[q] - b[q]));
        if (d < 0.01) group.push(j);
      }
      if (group.length < 2) continue;
      for (const g of group) done.add(g);
      const c = list[i].c, names = group.map((g) => label(list[g].c));
      out.push(
        `At lr ${c.lr}, ${c.layers} layers ${names.slice(0, -1).join(", ")} and ` +
          `${names.at(-1)} coincide.`,
      );
    }
  }
  return out;
}

/** `text` in lines of at most `n` characters, broken at spaces. */
function wrap(text: string, n: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > n) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** Okabe–Ito colours (told apart with colour-vision deficiencies), one per placement. */
const PLACE_COLOR: Record<Placement, string> = {
  pre: "#0072B2",
  post: "#D55E00",
  peri: "#009E73",
  deepnorm: "#CC79A7",
  mix: "#E69F00",
};
const PLACEMENT_ORDER: Placement[] = ["pre", "post", "peri", "deepnorm", "mix"];
const NORM_ORDER: NormKind[] = ["layer", "rms", "dyt"];
const NORM_LABEL: Record<NormKind, string> = { layer: "LayerNorm", rms: "RMSNorm", dyt: "DyT" };

/** A norm's marker: none for LayerNorm, a square for RMSNorm, a triangle for DyT. */
function marker(norm: NormKind, x: number, y: number, color: string): string {
  if (norm === "rms") {
    return `<rect x="${(x - 3.5).toFixed(1)}" y="${
      (y - 3.5).toFixed(1)
    }" width="7" height="7" fill="${color}"/>`;
  }
  if (norm === "dyt") {
    return `<path d="M${x.toFixed(1)},${(y - 4.5).toFixed(1)}l4.5,8h-9z" fill="${color}"/>`;
  }
  return "";
}

/**
 * Each block's gradient norm ‖∂L/∂θ‖ over training, from the log's evaluations (`train
 * --svg-layers`): one line per block on a log axis, lighter toward the input, each labelled
 * at its last point — how the gradients near the output compare with those near the input as
 * training goes (the claim behind post-LN's warm-up).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { TRAIN_DEFAULTS } from "../train/trainer.ts";
 * const layer = (l: number, v: number) => ({ layer: l, l2: v, grad: {} as never });
 * const h = [0, 100, 200].map((s) => ({ type: "eval" as const, step: s, train_loss: 3, val_loss: 3,
 *   layers: [layer(0, 0.1 + s / 1e3), layer(1, 0.3)] }));
 * const svg = layersSvg(h, { ...TRAIN_DEFAULTS, layers: 2 });
 * assert((svg.match(/<polyline/g) ?? []).length === 2 && svg.includes("log scale"));
 * ```
 */
export function layersSvg(history: TrainRecord[], c: TrainConfig): string {
  const ev = evals(history).filter((e) => e.layers?.length);
  const L = Math.max(0, ...ev.map((e) => e.layers.length));
  const W = 720, H = 440;
  const p = { x: 72, y: 60, w: W - 72 - 110, h: H - 60 - 78 };
  const vals = ev.flatMap((e) => e.layers.map((l) => l.l2)).filter((v) => v > 0 && isFinite(v));
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${p.x}" y="${p.y - 30}" font-weight="bold">${
      esc(
        `Gradient norm per block over training — ${c.layers} × ${variantLabel(c)}, lr ${c.lr}, ` +
          `warm-up ${c.warmup}`,
      )
    }</text>`,
  ];
  let lo = Math.log10(Math.min(...vals, 1)), hi = Math.log10(Math.max(...vals, 1e-3));
  if (vals.length) [lo, hi] = [Math.log10(Math.min(...vals)), Math.log10(Math.max(...vals))];
  const pad = Math.max(0.05, 0.06 * (hi - lo));
  lo -= pad;
  hi += pad;
  const xMax = Math.max(1, c.iters, ...ev.map((e) => e.step));
  const X = (s: number) => p.x + (s / xMax) * p.w;
  const Y = (v: number) => p.y + (1 - (Math.log10(v) - lo) / (hi - lo)) * p.h;
  for (const [f, e, v] of logTicks(lo, hi)) {
    const y = Y(v).toFixed(1);
    // plain from 0.01 to 1000, else f·10^e as "fe-6"
    const label = e >= -2 && e <= 2 ? String(+v.toPrecision(3)) : `${f}e${e}`;
    out.push(
      `<line x1="${p.x}" x2="${p.x + p.w}" y1="${y}" y2="${y}" stroke="${
        f === 1 ? "#ccc" : "#eee"
      }"/><text x="${p.x - 6}" y="${(+y + 4).toFixed(1)}" text-anchor="end">${label}</text>`,
    );
  }
  const xe = 10 ** Math.floor(Math.log10(xMax / 4));
  const xstep = [1, 2, 5, 10].map((f) => f * xe).find((s) => s >= xMax / 5)!;
  for (let s = 0; s <= xMax; s += xstep) {
    out.push(`<text x="${X(s).toFixed(1)}" y="${p.y + p.h + 16}" text-anchor="middle">${s}</text>`);
  }
  const ty = p.y + p.h / 2, tx = p.x - 50;
  out.push(
    `<line x1="${p.x}" x2="${p.x}" y1="${p.y}" y2="${p.y + p.h}" stroke="#333"/>` +
      `<line x1="${p.x}" x2="${p.x + p.w}" y1="${p.y + p.h}" y2="${p.y + p.h}" stroke="#333"/>`,
    `<text x="${tx}" y="${ty}" text-anchor="middle" fill="#333" transform="rotate(-90 ${tx} ${ty})">` +
      `‖∂L/∂θ‖ of the block (log scale)</text>`,
    `<text x="${p.x + p.w / 2}" y="${p.y + p.h + 34}" text-anchor="middle" fill="#333">step</text>`,
  );
  // a block's colour: light (input side) to dark (output side), one hue
  const color = (l: number) => `hsl(220, 70%, ${Math.round(75 - 55 * (L > 1 ? l / (L - 1) : 1))}%)`;
  const ends: { l: number; y: number }[] = [];
  for (let l = 0; l < L; l++) {
    const pts = ev.flatMap((e) => {
      const v = e.layers[l]?.l2;
      return v > 0 && isFinite(v) ? [[X(e.step), Y(v)] as [number, number]] : [];
    });
    if (!pts.length) continue;
    out.push(
      `<polyline data-layer="${l}" fill="none" stroke="${color(l)}" stroke-width="1.8" points="${
        pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ")
      }"/>`,
    );
    for (const [x, y] of pts) {
      out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.5" fill="${color(l)}"/>`);
    }
    ends.push({ l, y: pts[pts.length - 1][1] });
  }
  // labels beside the last points, pushed apart to 13 px (no leader lines)
  ends.sort((a, b) => a.y - b.y);
  for (let i = 1; i < ends.length; i++) ends[i].y = Math.max(ends[i].y, ends[i - 1].y + 13);
  const over = ends.length ? ends[ends.length - 1].y - (p.y + p.h) : 0;
  if (over > 0) {
    for (const e of ends) e.y -= over;
    for (let i = ends.length - 2; i >= 0; i--) ends[i].y = Math.min(ends[i].y, ends[i + 1].y - 13);
  }
  for (const e of ends) {
    out.push(
      `<text x="${p.x + p.w + 8}" y="${(e.y + 4).toFixed(1)}" fill="${color(e.l)}">block ${e.l}${
        e.l === 0 ? " (input)" : e.l === L - 1 ? " (output)" : ""
      }</text>`,
    );
  }
  out.push(
    `<text x="${p.x}" y="${H - 12}" fill="#555" font-size="11">${
      esc(
        `at each evaluation, the gradient of one training batch; batch ${c.batch} × ${c.block}, ` +
          `C ${c.dim}, ${c.init} init, clip ${c.clip}, seed ${c.seed}`,
      )
    }</text>`,
    "</svg>",
  );
  return out.join("\n") + "\n";
}
