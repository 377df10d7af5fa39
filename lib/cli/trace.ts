/**
 * `trace`: text (or token ids) through a whole model, forward and the backward of the
 * next-token loss, one NDJSON record per sequence on stdout and a summary (see lib/train/trace.ts).
 *
 * @module
 */
import { UsageError } from "../io/errors.ts";
import { checkFiles, type FileArg, OutputFile, writeFileSafely } from "../io/files.ts";
import { traceSvg } from "./trace_svg.ts";
import { npyHeader } from "../io/npy.ts";
import type { TraceSummary } from "../train/trace.ts";
import { TraceRun } from "../train/trace_run.ts";
import { variantLabel } from "../model/config.ts";
import { intFlag } from "./args.ts";
import { parseCommand } from "./command.ts";
import { BUILTIN_MODEL, inputHelp, MODEL_HELP, modelOf, sequencesOf } from "./model_input.ts";
import { BACKEND_HELP, readAll, recordFile } from "./stream.ts";

/** `trace --help`. */
export const TRACE_HELP = `Usage: deno run --allow-read=<lnstream> mod.ts trace [options] [FILE|-]

Runs text through a whole model — embeddings, every block, the final norm and
the LM head — and backpropagates the next-token loss (the mean cross-entropy of
each token predicting the next, as Hugging Face's labels=input_ids). One NDJSON
record per sequence on stdout:
  {"type":"sequence","index","ids","tokens","loss","layers":[{"layer",
   "resid":{"mean","std","rms","max_abs"},"ln1":{"in_std","out_std","gain_l2"},
   "top_channels":[[channel, mean |x|], …],"grad_l2"}, …]}
then {"type":"summary"} over every sequence: the loss, the channels of largest
mean |x| per layer ("massive activations"), and LayerNorm's claims checked on
every token: its output before the affine has mean 0 and std 1 (largest
deviation), it keeps the order of the token's values, and how often the gain γ
reorders them after it. Text is tokenized exactly as given (no BOS token;
newlines are text) and cut into sequences of --seq tokens.

Model and input:
${MODEL_HELP}
${inputHelp("trace")}
Output:
  --logits FILE.npy           the logits [N, T, V] float32 (T the longest sequence; shorter
                              ones zero-padded)
  --hidden FILE.npy           the residual stream [N, L+1, T, C] float32: index 0 the
                              embeddings, l the output of block l−1, before ln_f
  --svg FILE                  a heatmap of mean |x| per layer × channel, each layer's --top
                              channels marked, and each layer's LN1 input std
  --top K                     channels listed per layer (default: 5)
  --quiet                     no human summary on stderr
Work:
  --workers N                 threads tracing sequences, each on the one copy of the
                              parameters with its own activations and one block's
                              gradients; 1 = this thread (default: 2, at most the
                              sequences); the output is the same for any N. When every
                              block's activations would pass the 4 GiB of WebAssembly
                              memory, each thread keeps one block's and recomputes the rest
                              in the backward (slower, the same numbers)
${BACKEND_HELP}

Examples:
  deno run --allow-read=. mod.ts trace <<< "ROMEO:"
  deno run --allow-read=. mod.ts trace --model gpt2/model.safetensors speech.txt > trace.ndjson
  deno run --allow-read=. --allow-write=out mod.ts trace --ids ids.ndjson --hidden out/h.npy`;

/** Runs `trace`; returns the exit code. */
export async function trace(args: string[]): Promise<number> {
  const f = parseCommand(args, {
    name: "trace",
    strings: [
      "model",
      "heads",
      "seq",
      "logits",
      "hidden",
      "svg",
      "top",
      "workers",
      "backend",
      "blas-lib",
    ],
    booleans: ["ids", "quiet"],
    positionals: 1,
    help: TRACE_HELP,
  });
  if (f === null) return 0;
  const path = f._.length ? String(f._[0]) : "-";
  const logitsArg = recordFile(f, "logits", "stdout"),
    hiddenArg = recordFile(f, "hidden", "stdout");
  const svgArg = recordFile(f, "svg", "stdout");
  const inputs: FileArg[] = [{ flag: "FILE", path }];
  // the model is an input too, the built-in one as much as a given one
  inputs.push({ flag: "--model", path: f.model === undefined ? BUILTIN_MODEL : String(f.model) });
  const outputs = [logitsArg, hiddenArg, svgArg].filter((a): a is FileArg => a !== null);
  for (const o of outputs) {
    if (o.path === "-") throw new UsageError(`${o.flag} writes a file; stdout holds the records`);
  }
  checkFiles(inputs, outputs);
  const top = intFlag(f, "top", 5, 1);
  const workers = intFlag(f, "workers", 2, 1, 256);
  // per-block statistics need one block's gradients at a time, not the model's
  const loaded = await modelOf(f, f.ids !== true, "block");
  const seqs = sequencesOf(await readAll(path), f, loaded, path === "-" ? "stdin" : path);
  const { model } = loaded, { nLayer: L, nEmbd: C } = model.gpt.config, V = model.vocab;
  const T = Math.max(0, ...seqs.map((s) => s.length)), N = seqs.length;
  const open = (arg: FileArg | null, shape: number[]) => {
    if (arg === null) return null;
    const out = OutputFile.create(arg);
    out.writeSync(npyHeader(shape));
    return out;
  };
  const logitsOut = open(logitsArg, [N, T, V]), hiddenOut = open(hiddenArg, [N, L + 1, T, C]);
  const run = await TraceRun.start(model, {
    top,
    workers: Math.max(1, Math.min(workers, N)),
    seq: T,
  });
  const stdout = OutputFile.create({ flag: "stdout", path: "-" });
  const enc = new TextEncoder();
  try {
    const want = { logits: logitsOut !== null, hidden: hiddenOut !== null };
    for await (const { record, logits, hidden } of run.trace(seqs, want)) {
      await stdout.write(enc.encode(JSON.stringify(record) + "\n"));
      if (logitsOut && logits) {
        // [t, V] padded to [T, V]
        const padded = new Uint8Array(T * V * 4);
        padded.set(new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength));
        await logitsOut.write(padded);
      }
      if (hiddenOut && hidden) {
        // [L+1, t, C] padded to [L+1, T, C]
        const t = record.tokens, padded = new Float32Array((L + 1) * T * C);
        for (let l = 0; l <= L; l++) {
          padded.set(hidden.subarray(l * t * C, (l + 1) * t * C), l * T * C);
        }
        await hiddenOut.write(new Uint8Array(padded.buffer));
      }
    }
    const summary = run.summary();
    await stdout.write(enc.encode(JSON.stringify(summary) + "\n"));
    logitsOut?.commit();
    hiddenOut?.commit();
    if (svgArg) {
      const { absMean, lnInStd } = run.channelMeans(), c = loaded.info.config;
      const title = `${c.nLayer} × ${variantLabel(c)}, C ${c.nEmbd}: ${summary.tokens} tokens of ` +
        `${path === "-" ? "stdin" : path}`;
      writeFileSafely(svgArg, traceSvg(absMean, lnInStd, top, title));
    }
    if (f.quiet !== true) console.error(traceReport(summary, loaded.info.config, path));
  } catch (e) {
    logitsOut?.abort();
    hiddenOut?.abort();
    throw e;
  } finally {
    run.close();
  }
  return 0;
}

/**
 * The human summary of a trace.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const s = { type: "summary" as const, sequences: 1, tokens: 4, loss: 2,
 *   layers: [{ layer: 0, resid_std: 1, top_channels: [[3, 9], [1, 2]] as [number, number][] }],
 *   ln_checks: { tokens: 4, max_mean_dev: 1e-8, max_std_dev: 1e-3, max_std_dev_beyond_eps: 1e-7, order_kept: 4,
 *     reordered_by_gain: 3, spearman_after_gain: 0.99 } };
 * assert(traceReport(s, { nLayer: 1, placement: "pre" }, "-").includes("channel 3"));
 * ```
 */
export function traceReport(
  s: TraceSummary,
  c: {
    nLayer: number;
    placement: "pre" | "post" | "peri" | "deepnorm" | "mix";
    norm?: "layer" | "rms" | "dyt";
  },
  what: string,
): string {
  const ck = s.ln_checks;
  const lines = [
    `trace: ${c.nLayer} × ${variantLabel(c)} blocks, ${s.sequences} sequence(s), ${s.tokens} ` +
    `tokens of ${what === "-" ? "stdin" : what}, loss ${s.loss === null ? "—" : s.loss.toFixed(4)}`,
  ];
  if (ck.tokens > 0) {
    lines.push(
      `  LN1 before its affine, over ${ck.tokens} token×layer rows: |mean| ≤ ` +
        `${ck.max_mean_dev.toExponential(1)}, |std − 1| ≤ ${ck.max_std_dev.toExponential(1)} ` +
        `(${
          ck.max_std_dev_beyond_eps.toExponential(1)
        } beyond what ε explains); order of the values kept in ${ck.order_kept}/${ck.tokens}; after γ, β ` +
        `reordered in ${ck.reordered_by_gain}/${ck.tokens} (mean Spearman ` +
        `${ck.spearman_after_gain.toFixed(4)})`,
    );
  }
  if (s.tokens === 0) return lines[0] + " — the input held no tokens";
  lines.push("  largest mean |x| per layer (channel: value):");
  for (const l of s.layers) {
    lines.push(
      `    layer ${String(l.layer).padStart(2)}: ` +
        l.top_channels.slice(0, 3).map(([ch, v]) => `channel ${ch}: ${v.toFixed(3)}`).join(", ") +
        ` (resid std ${l.resid_std.toFixed(3)})`,
    );
  }
  return lines.join("\n");
}
