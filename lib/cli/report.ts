/**
 * Human-readable reports: a per-layer bar chart of gradient norms.
 *
 * @module
 */
import type { StackStats } from "../model/mod.ts";

/**
 * Horizontal bars, one per row, scaled to the largest value.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const s = bars([["a", 1], ["b", 0.5]], 10);
 * assert(s.split("\n")[0].includes("██████████") && s.split("\n")[1].includes("█████ "));
 * ```
 */
export function bars(rows: [string, number][], width = 40): string {
  const max = Math.max(...rows.map(([, v]) => v), 0);
  const pad = Math.max(...rows.map(([k]) => k.length), 0);
  const blocks = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
  return rows.map(([k, v]) => {
    const w = max > 0 ? (v / max) * width : 0;
    const full = Math.floor(w), frac = Math.floor((w - full) * 8);
    const bar = "█".repeat(full) + blocks[frac];
    return `${k.padStart(pad)} │${bar.padEnd(width)}│ ${num(v)}`;
  }).join("\n");
}

/**
 * The per-layer gradient norm chart of a stack's statistics: ‖∂L/∂W‖ over the
 * four weight matrices of each block (W_attn, W_proj, W_fc, W_proj2; input side
 * at the top). LayerNorm gains and biases are left out: a post-LN block's last
 * LayerNorm gain sees the loss directly and would hide everything else.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { GPT } from "../model/mod.ts";
 * const m = new GPT({ nLayer: 2, nHead: 1, nEmbd: 4, placement: "pre" });
 * assert(layerChart(m.layerStats()).split("\n").length === 3);
 * ```
 */
export function layerChart(s: StackStats): string {
  const rows: [string, number][] = s.layer_stats.map((l) => {
    const sq = (["W_attn", "W_proj", "W_fc", "W_proj2"] as const)
      .reduce((a, k) => a + l.grad[k].l2 ** 2, 0);
    return [`layer ${l.layer}`, Math.sqrt(sq)];
  });
  return "‖∂L/∂W‖ per layer (W_attn, W_proj, W_fc, W_proj2; input side first):\n" + bars(rows);
}

/**
 * The one number format of the human summaries: five significant digits, as a plain decimal
 * between 1e-4 and 1e6, in exponent form outside (null for a missing value).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(num(-112.78363037109375) === "-112.78" && num(0.000012345) === "1.2345e-5");
 * assert(num(0) === "0" && num(null) === "—");
 * ```
 */
export function num(v: number | null): string {
  if (v === null) return "—";
  if (v === 0 || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e-4 && a < 1e6) return String(Number(v.toPrecision(5)));
  return v.toExponential(4).replace(/\.?0+e/, "e").replace("e+", "e");
}

/**
 * The line a summary's non-finite counts deserve (`--nonfinite pass`), or none.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(nonfiniteLine({ nonfinite_tokens: 1, nonfinite_outputs: 16 })[0].includes("16 output tokens"));
 * assert(nonfiniteLine({ nonfinite_tokens: 0, nonfinite_outputs: 0 }).length === 0);
 * ```
 */
export function nonfiniteLine(
  s: { nonfinite_tokens: number; nonfinite_outputs: number },
): string[] {
  if (s.nonfinite_tokens === 0 && s.nonfinite_outputs === 0) return [];
  const t = (n: number) => `${n} token${n === 1 ? "" : "s"}`;
  return [
    `  not finite (NaN/±Infinity, passed through and left out of the moments): ` +
    `${t(s.nonfinite_tokens).replace("token", "input token")}, ` +
    `${t(s.nonfinite_outputs).replace("token", "output token")}`,
  ];
}
