/**
 * `normalize`: per-token LayerNorm / RMSNorm (or BatchNorm per feature over
 * each batch) of a stream of token embeddings, with probe-gradient statistics.
 *
 * @module
 */
import { DataError } from "../io/errors.ts";
import type { FileArg } from "../io/files.ts";
import { itemSize, parseNpyHeader, toFloat32 } from "../io/npy.ts";
import { normalizeStream } from "../pipeline/pipeline.ts";
import type { ProbeGrad, Summary } from "../pipeline/collect.ts";
import { choiceFlag, fileError, numFlag, seedFlag } from "./args.ts";
import { parseCommand } from "./command.ts";
import { nonfiniteLine, num } from "./report.ts";
import {
  checkStreamFiles,
  inputReader,
  runCommand,
  STREAM_HELP,
  STREAM_STRINGS,
  streamOptions,
} from "./stream.ts";

/** `normalize --help`. */
export const NORMALIZE_HELP =
  `Usage: deno run --allow-read=<lnstream> mod.ts normalize [options] [FILE|-] [-o OUT]

Normalizes each token of the input: LayerNorm (default) subtracts the token's
mean and divides by its std; RMSNorm divides by the root mean square; BatchNorm
normalizes each feature over the batch instead, so a token's output depends on
the other tokens in its batch. A probe loss L = Σ y·R (R: a direction of
±1 entries per token, from --seed) is backpropagated: the statistics
show how the normalization rescales each token's gradient by 1/σ.

Normalization:
  --norm layer|rms|batch      which normalization (default: layer)
  --eps E                     epsilon (default: 1e-5)
  --weight FILE.npy           per-channel scale [C] (needs --allow-read for FILE)
  --bias FILE.npy             per-channel shift [C]
  --seed S                    seed of the probe direction R (default: 0)
  --batch N                   tokens per batch (default: 2048, or fewer when tokens are so
                              wide that 2048 would pass the 256 MiB batch limit)

${STREAM_HELP}

Examples:
  deno run mod.ts gen --tokens 10000 --dim 768 > x.npy
  deno run --allow-read=. mod.ts normalize < x.npy > y.npy
  deno run --allow-read=. --allow-write=out mod.ts normalize x.npy -o out/y.npy
  deno run --allow-read=. mod.ts normalize --norm rms --out-format ndjson < x.npy | head -2
  cat tokens.ndjson | deno run --allow-read=. --allow-write=. mod.ts normalize --stats s.ndjson`;

async function readVector(path: string, what: string): Promise<Float32Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw fileError(e, `--${what} ${path}`, path, "read");
  }
  const h = parseNpyHeader(bytes);
  if (h.shape.length !== 1) {
    throw new DataError(
      `--${what} ${path}: expected a 1-D .npy of C values, got shape (${h.shape})`,
    );
  }
  const n = h.shape[0], item = itemSize(h.dtype);
  if (bytes.length < h.dataOffset + n * item) {
    throw new DataError(`--${what} ${path}: truncated (${bytes.length} bytes)`);
  }
  const v = new Float32Array(n);
  toFloat32(v, bytes.slice(h.dataOffset, h.dataOffset + n * item), h.dtype, n);
  const bad = v.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) {
    throw new DataError(`--${what} ${path}: element ${bad} is ${v[bad]} (it must be finite)`);
  }
  return v;
}

/** Human summary of a normalize run. */
export function normalizeReport(s: Summary): string {
  const g = s.grad as ProbeGrad;
  const m = (x: { mean: number; std: number }) => `mean ${num(x.mean)}  std ${num(x.std)}`;
  const head = `normalize (${s.config.norm}, eps ${s.config.eps})`;
  if (s.tokens_in === 0) return `${head}: the input was empty; nothing to normalize`;
  return [
    `${head}: ${s.tokens_out} tokens of ${s.config.C} in ${s.batches} batches`,
    `  input   ${m(s.input)}  min ${num(s.input.min)}  max ${num(s.input.max)}`,
    `  output  ${m(s.output)}`,
    `  probe gradient: ‖dL/dy‖ ${num(g.dy_l2)} → ‖dL/dx‖ ${num(g.dx_l2)} (×${num(g.ratio)})`,
    ...nonfiniteLine(s),
  ].join("\n");
}

/** Runs `normalize`; returns the exit code. */
export async function normalize(args: string[]): Promise<number> {
  const f = parseCommand(args, {
    name: "normalize",
    strings: [...STREAM_STRINGS, "norm", "eps", "weight", "bias"],
    booleans: ["quiet", "progress"],
    alias: { o: "output" },
    positionals: 1,
    help: NORMALIZE_HELP,
  });
  if (f === null) return 0;
  const path = f._.length ? String(f._[0]) : "-";
  const inputs: FileArg[] = [{ flag: "FILE", path }];
  if (f.weight !== undefined) inputs.push({ flag: "--weight", path: String(f.weight) });
  if (f.bias !== undefined) inputs.push({ flag: "--bias", path: String(f.bias) });
  checkStreamFiles(f, inputs); // before anything is read or written
  const input = inputReader(path);
  const base = streamOptions(f);
  const norm = choiceFlag(f, "norm", ["layer", "rms", "batch"] as const, "layer");
  const eps = numFlag(f, "eps", 1e-5);
  const weight = f.weight ? await readVector(String(f.weight), "weight") : undefined;
  const bias = f.bias ? await readVector(String(f.bias), "bias") : undefined;
  const seed = seedFlag(f);
  return await runCommand(
    f,
    inputs,
    (extra) =>
      normalizeStream(input, {
        ...base,
        ...extra,
        norm,
        eps,
        weight,
        bias,
        seed,
        // nothing would show any statistic: compute the outputs only
        statistics: !(f.quiet && f.stats === undefined),
      }),
    normalizeReport,
  );
}
