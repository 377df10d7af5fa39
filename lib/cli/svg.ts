/**
 * The `compare` chart as SVG: x = layer, y = gradient norm on a log axis, one
 * line per placement and depth, each labelled at its end; one panel per init
 * and attention mask.
 *
 * @module
 */
import { type CompareResult, findRun, type RunKey } from "../model/compare.ts";
import type { NormKind, Placement } from "../model/config.ts";

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * Renders the chart of `r` for W_fc when it was reported (the matrix of Xiong et
 * al.'s theorem), else for the first reported parameter.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { compareRuns } from "../model/compare.ts";
 * const r = compareRuns({ layers: [2, 3], dim: 8, heads: 2, seq: 2, batch: 1, inits: ["xavier"], seeds: 1 });
 * const svg = compareSvg(r);
 * assert(svg.startsWith("<svg") && (svg.match(/<polyline/g) ?? []).length === 4);
 * ```
 */
export function compareSvg(r: CompareResult): string {
  const param = r.config.params.includes("W_fc") ? "W_fc" : r.config.params[0];
  const panels: Pick<RunKey, "init" | "causal">[] = [];
  for (const init of r.config.inits) {
    for (const causal of r.config.causal) panels.push({ init, causal });
  }
  const variants: { placement: Placement; norm: NormKind; variant: string }[] = [];
  for (const x of r.runs) {
    if (!variants.some((v) => v.variant === x.variant)) variants.push(x);
  }
  // the legend's items, wrapped into rows above the plot
  const W = 620, itemW = (v: string) => 44 + 7 * variantTitle(v).length;
  const legendAt: [number, number][] = [];
  let lx = 0, lrow = 0;
  for (const v of variants) {
    // beside the depth legend (right margin) when there is one
    const edge = r.config.layers.length > 1 ? W - 130 : W - 20;
    if (lx > 0 && 72 + lx + itemW(v.variant) > edge) [lx, lrow] = [0, lrow + 1];
    legendAt.push([lx, lrow]);
    lx += itemW(v.variant);
  }
  const H = 440 + 18 * lrow, m = { l: 72, r: 130, t: 62 + 18 * lrow, b: 88 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const runs = r.runs.filter((x) => x.param === param);
  const maxL = Math.max(...r.config.layers);
  const depths = r.config.layers;
  // placements told apart by hue and dash, norms by marker (legible in grey too); depth by
  // lightness
  const shade = (placement: Placement, i: number) => {
    const t = depths.length > 1 ? i / (depths.length - 1) : 1;
    const light = Math.round(62 - 32 * t);
    return `hsl(${HUE[placement]}, 75%, ${light}%)`;
  };
  const dash = (placement: Placement) => DASH[placement];
  const marker = (norm: NormKind, x: number, y: number, color: string) =>
    norm === "layer"
      ? `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${color}"/>`
      : norm === "rms"
      ? `<rect x="${(x - 3).toFixed(1)}" y="${(y - 3).toFixed(1)}" width="6" height="6" ` +
        `fill="white" stroke="${color}" stroke-width="1.5"/>`
      : `<path d="M${x.toFixed(1)},${(y - 4).toFixed(1)}l4,7h-8z" fill="${color}"/>`;
  const c = r.config;
  const caption = [
    `C=${c.dim}, ${c.heads} heads, T=${c.seq}, B=${c.batch}, loss ${c.loss}` +
    (c.loss === "xent" ? ` over ${c.vocab} classes` : "") + `, input ${c.input}`,
    `mean ± sample std (band) over ${c.seeds} seed(s) from seed ${c.seed}` +
    (depths.length > 1 ? "; lighter = shallower stack" : ""),
  ];
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W * panels.length}" height="${H}" ` +
      `viewBox="0 0 ${W * panels.length} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  panels.forEach((pn, k) => {
    const ox = k * W;
    // each panel its own log range (GPT-2 and Xavier norms differ by decades)
    const mine = runs.filter((x) => x.init === pn.init && x.causal === pn.causal);
    const vals = mine.flatMap((x) => x.mean.flatMap((v, i) => [v - x.std[i], v + x.std[i], v]))
      .filter((v) => v > 0);
    let lo = Math.log10(Math.min(...vals)), hi = Math.log10(Math.max(...vals));
    const pad = Math.max(0.05, 0.06 * (hi - lo));
    lo -= pad;
    hi += pad;
    const X = (layer: number) => ox + m.l + (maxL > 1 ? layer / (maxL - 1) : 0.5) * pw;
    const Y = (v: number) => m.t + (1 - (Math.log10(v) - lo) / (hi - lo)) * ph;
    out.push(
      `<text x="${ox + m.l}" y="22" font-size="14" font-weight="bold">${
        esc(`‖∂L/∂${param}‖ per layer — ${pn.init} init, ${pn.causal ? "causal" : "non-causal"}`)
      }</text>`,
    );
    // legend: line style per variant; lightness per depth
    variants.forEach((v, i) => {
      const color = shade(v.placement, depths.length - 1);
      const x = ox + m.l + legendAt[i][0], y = 38 + 18 * legendAt[i][1];
      out.push(
        `<line x1="${x}" x2="${x + 28}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"` +
          `${dash(v.placement)}/>${marker(v.norm, x + 14, y, color)}` +
          `<text x="${x + 34}" y="${y + 4}">${esc(variantTitle(v.variant))}</text>`,
      );
    });
    // the depth legend: a stack's depth by lightness (lines end at layer L − 1)
    if (depths.length > 1) {
      depths.forEach((L, i) => {
        const color = shade(variants[0].placement, i), y = 38 + 16 * i;
        const x = ox + m.l + pw + 8;
        out.push(
          `<line x1="${x}" x2="${
            x + 22
          }" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"/>` +
            `<text x="${x + 27}" y="${y + 4}" data-depth="${L}">L = ${L}</text>`,
        );
      });
    }
    for (const [f, e, v] of logTicks(lo, hi)) {
      const y = Y(v);
      out.push(
        `<line x1="${ox + m.l}" x2="${ox + m.l + pw}" y1="${y.toFixed(1)}" y2="${
          y.toFixed(1)
        }" stroke="${f === 1 ? "#ccc" : "#eee"}"/>` +
          `<text x="${ox + m.l - 8}" y="${(y + 4).toFixed(1)}" text-anchor="end">${f}e${e}</text>`,
      );
    }
    out.push(
      `<line x1="${ox + m.l}" x2="${ox + m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#333"/>` +
        `<line x1="${ox + m.l}" x2="${ox + m.l + pw}" y1="${m.t + ph}" y2="${
          m.t + ph
        }" stroke="#333"/>`,
    );
    const ticks = [...new Set([0, ...depths.map((L) => L - 1)])];
    for (const t of ticks) {
      out.push(`<text x="${X(t)}" y="${m.t + ph + 18}" text-anchor="middle">${t}</text>`);
    }
    out.push(
      `<text x="${ox + m.l + pw / 2}" y="${m.t + ph + 36}" text-anchor="middle">` +
        `layer (input side = 0)</text>`,
    );
    const ty = m.t + ph / 2, tx = ox + 16;
    out.push(
      `<text x="${tx}" y="${ty}" text-anchor="middle" transform="rotate(-90 ${tx} ${ty})">` +
        `${esc(`‖∂L/∂${param}‖ (log scale)`)}</text>`,
    );
    caption.forEach((line, i) =>
      out.push(
        `<text x="${ox + m.l}" y="${H - 26 + 14 * i}" fill="#555" font-size="11">${
          esc(line)
        }</text>`,
      )
    );
    const labels: { y: number; text: string; color: string; x: number }[] = [];
    for (const { placement, norm, variant } of variants) {
      depths.forEach((L, i) => {
        const run = findRun(runs, { layers: L, ...pn, placement, norm, param });
        if (!run) return;
        const color = shade(placement, i);
        // the seed spread as a band: mean ± std
        const up = run.mean.map((v, l) => [X(l), Y(Math.max(v + run.std[l], 1e-300))]);
        const down = run.mean.map((v, l) => [X(l), Y(Math.max(v - run.std[l], 10 ** lo))])
          .reverse();
        out.push(
          `<polygon fill="${color}" fill-opacity="0.15" stroke="none" points="${
            [...up, ...down].map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" ")
          }"/>`,
        );
        const pts = run.mean.map((v, l) => `${X(l).toFixed(1)},${Y(v).toFixed(1)}`).join(" ");
        out.push(
          `<polyline data-placement="${placement}" data-layers="${L}" data-norm="${norm}" ` +
            `fill="none" ` +
            `stroke="${color}" stroke-width="2"${dash(placement)} points="${pts}"/>`,
        );
        run.mean.forEach((v, l) => out.push(marker(norm, X(l), Y(v), color)));
        // the deepest stacks end at the right edge: labelled beside their last point
        if (L === maxL) {
          labels.push({
            x: X(L - 1),
            y: Y(run.mean[L - 1]),
            text: `${variantTitle(variant)}`,
            color,
          });
        }
      });
    }
    // labels beside the last points in the right margin, pushed apart so none sits on
    // another (no leader lines); the shallower stacks by the depth legend
    const lx = ox + m.l + pw + 8;
    const at = labels.map((l) => ({ ...l, ly: l.y }));
    at.sort((a, b) => a.ly - b.ly);
    for (let i = 1; i < at.length; i++) {
      if (at[i].ly - at[i - 1].ly < 13) at[i].ly = at[i - 1].ly + 13;
    }
    for (const l of at) {
      out.push(
        `<text x="${lx}" y="${(l.ly + 4).toFixed(1)}" fill="${l.color}">${esc(l.text)}</text>`,
      );
    }
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

/**
 * The runs of `r` as tidy CSV (one row per init, mask, depth, placement, parameter and layer),
 * for pandas or seaborn.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { compareRuns } from "../model/compare.ts";
 * const r = compareRuns({ layers: [2], dim: 8, heads: 2, seq: 2, batch: 1, inits: ["xavier"], seeds: 1 });
 * const rows = compareCsv(r).trim().split("\n");
 * assert(rows[0] === "init,causal,layers,placement,param,layer,mean,std,norm,variant");
 * assert(rows.length === 1 + 2 * 2);
 * ```
 */
export function compareCsv(r: CompareResult): string {
  // the zoo's columns at the end: scripts that read the first eight by position keep working
  const rows = ["init,causal,layers,placement,param,layer,mean,std,norm,variant"];
  for (const x of r.runs) {
    x.mean.forEach((v, l) => {
      rows.push(
        [x.init, x.causal, x.layers, x.placement, x.param, l, v, x.std[l], x.norm, x.variant]
          .join(","),
      );
    });
  }
  return rows.join("\n") + "\n";
}

/**
 * Ticks of a log axis from 10^lo to 10^hi: [f, e, f·10^e] at f = 1, 2, 5 inside the range, or
 * at every digit when fewer than three of those fall inside.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * assertEquals(logTicks(-1.1, 0.5).map(([, , v]) => v), [0.1, 0.2, 0.5, 1, 2]);
 * assertEquals(logTicks(0, 0.5).length, 3); // 1, 2, 3
 * ```
 */
export function logTicks(lo: number, hi: number): [number, number, number][] {
  const ticksOf = (steps: number[]) => {
    const t: [number, number, number][] = [];
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
      for (const f of steps) {
        const lv = Math.log10(f * 10 ** e);
        if (lv >= lo && lv <= hi) t.push([f, e, f * 10 ** e]);
      }
    }
    return t;
  };
  const t = ticksOf([1, 2, 5]);
  return t.length >= 3 ? t : ticksOf([1, 2, 3, 4, 5, 6, 7, 8, 9]);
}

/** A hue per placement (pre blue and post red-orange as before). */
const HUE: Record<Placement, number> = { pre: 215, post: 15, peri: 150, deepnorm: 290, mix: 40 };
/** A dash per placement. */
const DASH: Record<Placement, string> = {
  pre: "",
  post: ` stroke-dasharray="6 4"`,
  peri: "",
  deepnorm: ` stroke-dasharray="2 3"`,
  mix: ` stroke-dasharray="8 3 2 3"`,
};

/**
 * A variant's name in tables and legends: pre-LN and post-LN spelled out, the others by
 * `variantName`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(variantTitle("pre") === "pre-LN" && variantTitle("peri-dyt") === "peri-dyt");
 * ```
 */
export function variantTitle(variant: string): string {
  return variant === "pre" || variant === "post" ? `${variant}-LN` : variant;
}
