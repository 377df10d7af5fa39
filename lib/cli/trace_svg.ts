/**
 * `trace --svg`: a heatmap of mean |x| per layer × channel of the residual stream (log colour
 * scale), each layer's largest channels marked, and beside it each layer's mean LN1 input std.
 *
 * @module
 */

/** Viridis, sampled: dark (small) to yellow (large); legible in grey as dark to light. */
const VIRIDIS = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [110, 206, 88],
  [181, 222, 43],
  [253, 231, 37],
];

function color(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1), i = Math.floor(x), f = x - i;
  const a = VIRIDIS[i], b = VIRIDIS[Math.min(i + 1, VIRIDIS.length - 1)];
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/**
 * The chart: `absMean[l][c]` = mean |x| of channel c entering block l; `top` = channels marked
 * per layer; `lnInStd[l]` = mean LN1 input std (NaN where the block has none); `title` on top.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const svg = traceSvg([Float64Array.of(1, 50, 2), Float64Array.of(2, 80, 1)], [1.5, 9], 1, "t");
 * assert(svg.startsWith("<svg") && svg.includes("channel 1"));
 * ```
 */
export function traceSvg(
  absMean: Float64Array[],
  lnInStd: number[],
  top: number,
  title: string,
): string {
  const L = absMean.length, C = absMean[0]?.length ?? 0;
  const cw = Math.max(1, Math.min(8, Math.floor(900 / Math.max(1, C))));
  const rh = Math.max(14, Math.min(28, Math.floor(360 / Math.max(1, L))));
  const m = { l: 70, t: 56, r: 30 }, hw = cw * C, hh = rh * L;
  const bw = 160, gap = 40, W = Math.max(m.l + hw + gap + bw + m.r, 720), H = m.t + hh + 100;
  const all = absMean.flatMap((a) => Array.from(a)).filter((v) => v > 0);
  const lo = Math.log10(Math.min(...all, 1)), hi = Math.log10(Math.max(...all, 1e-30));
  const t = (v: number) => (hi > lo && v > 0 ? (Math.log10(v) - lo) / (hi - lo) : 0);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.l}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${m.l}" y="42" fill="#555">mean |x| of each channel of the residual stream ` +
    `entering each block (log colour); ▼ marks each layer's ${top} largest</text>`,
  ];
  const counts = new Map<number, number>();
  for (let l = 0; l < L; l++) {
    const y = m.t + l * rh, a = absMean[l];
    for (let c = 0; c < C; c++) {
      out.push(
        `<rect x="${m.l + c * cw}" y="${y}" width="${cw}" height="${rh - 1}" fill="${
          color(t(a[c]))
        }"/>`,
      );
    }
    const best = Array.from(a.keys()).sort((i, j) => a[j] - a[i] || i - j).slice(0, top);
    for (const c of best) {
      counts.set(c, (counts.get(c) ?? 0) + 1);
      const x = m.l + c * cw + cw / 2;
      out.push(
        `<path d="M${(x - 4).toFixed(1)},${y - 1}l4,5l4,-5z" fill="#d62728" stroke="white" ` +
          `stroke-width="0.5"><title>layer ${l}, channel ${c}: ${
            a[c].toPrecision(3)
          }</title></path>`,
      );
    }
    out.push(
      `<text x="${m.l - 8}" y="${y + rh / 2 + 4}" text-anchor="end">block ${l}</text>`,
    );
  }
  // channel ticks, then the channels most often among the largest
  const step = [1, 2, 4, 8, 16, 32, 64, 128, 256].find((s) => C / s <= 8) ?? 512;
  for (let c = 0; c < C; c += step) {
    const x = m.l + c * cw + cw / 2;
    out.push(
      `<line x1="${x}" x2="${x}" y1="${m.t + hh}" y2="${m.t + hh + 4}" stroke="#333"/>` +
        `<text x="${x}" y="${m.t + hh + 16}" text-anchor="middle" fill="#333">${c}</text>`,
    );
  }
  const named = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 4);
  out.push(
    `<text x="${m.l}" y="${m.t + hh + 34}" fill="#333">channel; most often among the largest: ${
      named.map(([c, k]) => `${c} (${k}/${L} layers)`).join(", ")
    }</text>`,
  );
  // the colour scale
  const sy = m.t + hh + 48;
  for (let i = 0; i < 100; i++) {
    out.push(
      `<rect x="${m.l + i * 2}" y="${sy}" width="2" height="10" fill="${color(i / 99)}"/>`,
    );
  }
  out.push(
    `<text x="${m.l}" y="${sy + 24}" fill="#555">${(10 ** lo).toPrecision(2)}</text>`,
    `<text x="${m.l + 200}" y="${sy + 24}" fill="#555" text-anchor="end">${
      (10 ** hi).toPrecision(2)
    }</text>`,
  );
  // LN1 input std per layer: bars
  const bx = m.l + hw + gap, finite = lnInStd.filter(Number.isFinite);
  const smax = Math.max(...finite, 1e-30);
  out.push(
    `<text x="${bx}" y="${m.t - 6}" fill="#333">LN1 input std</text>`,
    `<line x1="${bx}" x2="${bx}" y1="${m.t}" y2="${m.t + hh}" stroke="#333"/>`,
  );
  lnInStd.forEach((s, l) => {
    const y = m.t + l * rh;
    if (!Number.isFinite(s)) {
      out.push(`<text x="${bx + 4}" y="${y + rh / 2 + 4}" fill="#999">no LN1 on the input</text>`);
      return;
    }
    const w = (s / smax) * (bw - 50);
    out.push(
      `<rect x="${bx}" y="${y + 2}" width="${w.toFixed(1)}" height="${rh - 5}" fill="#4c78a8"/>`,
      `<text x="${(bx + w + 4).toFixed(1)}" y="${y + rh / 2 + 4}">${s.toPrecision(3)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
