/**
 * `embed`: text → a model's input embeddings (wte[id] + wpe[position]), in sequences of the
 * model's context, as npy or NDJSON: what `normalize`, `run --model` and `split` read.
 *
 * @module
 */
import { UsageError } from "../io/errors.ts";
import { checkFiles, type FileArg, OutputFile } from "../io/files.ts";
import { npyHeader } from "../io/npy.ts";
import { f32ToString } from "../kernels/format.ts";
import { choiceFlag } from "./args.ts";
import { parseCommand } from "./command.ts";
import { BUILTIN_MODEL, inputHelp, MODEL_HELP, modelOf, sequencesOf } from "./model_input.ts";
import { readAll } from "./stream.ts";

/** `embed --help`. */
export const EMBED_HELP =
  `Usage: deno run --allow-read=<lnstream> mod.ts embed [options] [FILE|-] [-o OUT]

Tokenizes text with the model's tokenizer (exactly as given: no BOS token,
newlines are text), cuts it into sequences of --seq tokens, and writes each
token's input embedding wte[id] + wpe[position in its sequence]: npy [B, T, C]
when every sequence is whole, else npy [tokens, C] (a note on stderr says so);
with --format ndjson one line per sequence, an array of token vectors.

  embed < speech.txt | deno run --allow-read=. mod.ts normalize > normalized.npy
  embed < speech.txt | deno run --allow-read=. mod.ts run --model M --stats -

Model and input:
${MODEL_HELP}
${inputHelp("embed")}
Output:
  --format npy|ndjson         (default: npy)
  -o, --output FILE           write FILE instead of stdout (- = stdout), through a temporary
                              file renamed into place when complete`;

/** Runs `embed`; returns the exit code. */
export async function embed(args: string[]): Promise<number> {
  const f = parseCommand(args, {
    name: "embed",
    strings: ["model", "heads", "seq", "format", "output"],
    booleans: ["ids"],
    alias: { o: "output" },
    positionals: 1,
    help: EMBED_HELP,
  });
  if (f === null) return 0;
  const path = f._.length ? String(f._[0]) : "-";
  const format = choiceFlag(f, "format", ["npy", "ndjson"] as const, "npy");
  const outArg: FileArg = { flag: "-o", path: f.output === undefined ? "-" : String(f.output) };
  const inputs: FileArg[] = [{ flag: "FILE", path }];
  // the model is an input too, the built-in one as much as a given one
  inputs.push({ flag: "--model", path: f.model === undefined ? BUILTIN_MODEL : String(f.model) });
  checkFiles(inputs, [outArg]);
  const loaded = await modelOf(f);
  const seqs = sequencesOf(await readAll(path), f, loaded, path === "-" ? "stdin" : path);
  if (seqs.length === 0) throw new UsageError(`${path === "-" ? "stdin" : path} holds no tokens`);
  const { model } = loaded, C = model.gpt.config.nEmbd;
  const out = OutputFile.create(outArg);
  const enc = new TextEncoder();
  try {
    const T = seqs[0].length, whole = seqs.every((s) => s.length === T);
    const tokens = seqs.reduce((a, s) => a + s.length, 0);
    if (format === "npy") {
      if (!whole) {
        console.error(
          `embed: the last sequence holds ${seqs.at(-1)!.length} of ${T} tokens: written as ` +
            `[${tokens}, ${C}] (give run --seq ${T} to group them again)`,
        );
      }
      await out.write(npyHeader(whole ? [seqs.length, T, C] : [tokens, C]));
    }
    for (const ids of seqs) {
      const rows = new Float32Array(ids.length * C);
      for (let t = 0; t < ids.length; t++) {
        const e = ids[t] * C, p = t * C;
        for (let c = 0; c < C; c++) rows[t * C + c] = model.wte[e + c] + model.wpe[p + c];
      }
      if (format === "npy") await out.write(new Uint8Array(rows.buffer));
      else {
        const lines: string[] = [];
        for (let t = 0; t < ids.length; t++) {
          lines.push(
            "[" + Array.from(rows.subarray(t * C, (t + 1) * C), f32ToString).join(",") + "]",
          );
        }
        await out.write(enc.encode("[" + lines.join(",") + "]\n"));
      }
    }
    out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
  return 0;
}
