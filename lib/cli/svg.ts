/**
 * The `compare` chart as SVG: x = layer, y = gradient norm on a log axis, one
 * line per placement and depth, each labelled at its end; one panel per init
 * and attention mask.
 *
 * @module
 */
import type { CompareResult } from "../model/compare.ts";

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
  const panels: { init: string; causal: boolean }[] = [];
  for (const init of r.config.inits) {
    for (const causal of r.config.causal) panels.push({ init, causal });
  }
  const W = 560, H = 400, m = { l: 70, r: 110, t: 50, b: 50 };
  const pw = W - m.l - m.r, ph = H - m.t - m.b;
  const runs = r.runs.filter((x) => x.param === param);
  const vals = runs.flatMap((x) => x.mean).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(...vals)));
  let hi = Math.ceil(Math.log10(Math.max(...vals)));
  if (hi === lo) hi = lo + 1;
  const maxL = Math.max(...r.config.layers);
  const depths = r.config.layers;
  const shade = (placement: string, i: number) => {
    const t = depths.length > 1 ? i / (depths.length - 1) : 1;
    const light = Math.round(70 - 40 * t);
    return placement === "pre" ? `hsl(215, 75%, ${light}%)` : `hsl(15, 80%, ${light}%)`;
  };
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W * panels.length}" height="${H}" ` +
      `viewBox="0 0 ${W * panels.length} ${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  panels.forEach((pn, k) => {
    const ox = k * W;
    const X = (layer: number) => ox + m.l + (maxL > 1 ? layer / (maxL - 1) : 0.5) * pw;
    const Y = (v: number) => m.t + (1 - (Math.log10(v) - lo) / (hi - lo)) * ph;
    out.push(
      `<text x="${ox + m.l}" y="22" font-size="14" font-weight="bold">${
        esc(`‖∂L/∂${param}‖ per layer — ${pn.init} init, ${pn.causal ? "causal" : "non-causal"}`)
      }</text>`,
    );
    out.push(
      `<text x="${ox + m.l}" y="38" fill="#555">${
        esc(`blue: pre-LN, orange: post-LN; darker = deeper; mean over ${r.config.seeds} seed(s)`)
      }</text>`,
    );
    for (let e = lo; e <= hi; e++) {
      const y = Y(10 ** e);
      out.push(
        `<line x1="${ox + m.l}" x2="${ox + m.l + pw}" y1="${y}" y2="${y}" stroke="#ddd"/>` +
          `<text x="${ox + m.l - 8}" y="${y + 4}" text-anchor="end">1e${e}</text>`,
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
      `<text x="${ox + m.l + pw / 2}" y="${
        H - 10
      }" text-anchor="middle">layer (input side = 0)</text>`,
    );
    for (const placement of ["pre", "post"] as const) {
      depths.forEach((L, i) => {
        const run = runs.find((x) =>
          x.layers === L && x.init === pn.init && x.causal === pn.causal &&
          x.placement === placement
        );
        if (!run) return;
        const pts = run.mean.map((v, l) => `${X(l).toFixed(1)},${Y(v).toFixed(1)}`).join(" ");
        const color = shade(placement, i);
        out.push(
          `<polyline data-placement="${placement}" data-layers="${L}" fill="none" stroke="${color}" ` +
            `stroke-width="2" points="${pts}"/>`,
        );
        const lx = X(L - 1) + 6, ly = Y(run.mean[L - 1]) + 4 + (placement === "pre" ? 6 : -6);
        out.push(`<text x="${lx}" y="${ly}" fill="${color}">${placement}-LN L=${L}</text>`);
      });
    }
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
