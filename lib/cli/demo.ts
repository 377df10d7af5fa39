/**
 * `demo`: LayerNorm on built-in synthetic embeddings, printing what it did to
 * each token's mean and standard deviation.
 *
 * @module
 */
import { parseArgs } from "@std/cli/parse-args";
import { layerNormForward } from "../kernels/layernorm.ts";
import { Rng } from "../model/rng.ts";

/** mean and (biased) std of one row */
function moments(x: Float32Array, o: number, C: number): [number, number] {
  let s = 0;
  for (let c = 0; c < C; c++) s += x[o + c];
  const m = s / C;
  let v = 0;
  for (let c = 0; c < C; c++) v += (x[o + c] - m) ** 2;
  return [m, Math.sqrt(v / C)];
}

/**
 * Runs the demo and returns an exit code.
 *
 * @example
 * ```ts ignore
 * await demo(["--tokens", "8"]);
 * ```
 */
export function demo(args: string[]): number {
  const f = parseArgs(args, { string: ["tokens", "dim", "seed"], boolean: ["help"] });
  if (f.help) {
    console.log(`Usage: deno run mod.ts demo [--tokens 8] [--dim 64] [--seed 1]
Normalizes synthetic GPT-like token embeddings (per-token scales spread over
two decades, a few outlier channels) and prints each token's mean/std before
and after LayerNorm.`);
    return 0;
  }
  const N = Number(f.tokens ?? 8), C = Number(f.dim ?? 64), rng = new Rng(Number(f.seed ?? 1));
  if (!(N > 0 && C > 1 && Number.isInteger(N) && Number.isInteger(C))) {
    console.error("demo: --tokens must be ≥ 1 and --dim ≥ 2 (whole numbers)");
    return 64;
  }
  const x = new Float32Array(N * C);
  for (let n = 0; n < N; n++) {
    const scale = 10 ** (2 * rng.uniform() - 1), shift = 3 * rng.normal();
    for (let c = 0; c < C; c++) {
      x[n * C + c] = shift + scale * rng.normal() * (c % 17 === 3 ? 20 : 1);
    }
  }
  const y = new Float32Array(N * C), mean = new Float32Array(N), rstd = new Float32Array(N);
  layerNormForward(y, mean, rstd, x, null, null, N, C);
  const rows = [["token", "mean in", "std in", "mean out", "std out"]];
  for (let n = 0; n < N; n++) {
    const [mi, si] = moments(x, n * C, C), [mo, so] = moments(y, n * C, C);
    rows.push([String(n), mi.toFixed(4), si.toFixed(4), mo.toFixed(6), so.toFixed(6)]);
  }
  for (const r of rows) console.log(r.map((v) => v.padStart(10)).join(" "));
  console.log(`\nLayerNorm maps every token to mean 0 and std 1 (eps = 1e-5), whatever its scale.`);
  return 0;
}
