/**
 * What `trace` and `embed` share: the model of `--model` (the built-in one without it) and the
 * input cut into sequences — text through the model's tokenizer, or with `--ids` NDJSON lines
 * of token-id arrays.
 *
 * @module
 */
import { DataError, UsageError } from "../io/errors.ts";
import { firstBadUtf8 } from "../train/chardata.ts";
import { type LoadedModel, loadModel } from "../train/load.ts";
import { fileError, intFlag, optIntFlag } from "./args.ts";
import { backendOptions } from "./stream.ts";

/** The built-in model: `train`'s defaults on tiny Shakespeare (see README). */
export const BUILTIN_MODEL: string = decodeURIComponent(
  new URL("../../data/baby.st", import.meta.url).pathname,
);

/** Help lines of the model flags. */
export const MODEL_HELP =
  `  --model FILE                a Hugging Face GPT-2 model.safetensors (F32, F16 or BF16; its
                              config.json beside it is read) or an lnstream checkpoint or
                              --save-weights file (default: the built-in baby GPT, data/baby.st)
  --heads H                   attention heads, for a GPT-2 file without a config.json`;

/** Help lines of the input flags; `verb` says what the command does to the text. */
export function inputHelp(verb: string): string {
  return `  FILE                        text to ${verb} (default: stdin; - = stdin)
  --ids                       the input is NDJSON lines of token-id arrays, one sequence each
  --seq T                     tokens per sequence (default: the model's context)`;
}

/** The model of `--model` (needs read permission for it), with `--heads` and `--backend`. */
export async function modelOf(
  f: Record<string, unknown>,
  tokenizer = f.ids !== true,
  gradients: "full" | "block" = "full",
): Promise<LoadedModel> {
  const path = f.model === undefined ? BUILTIN_MODEL : String(f.model);
  const heads = optIntFlag(f, "heads");
  try {
    return await loadModel(path, {
      ...backendOptions(f),
      ...(heads ? { heads } : {}),
      tokenizer,
      gradients,
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UsageError(`--model ${path}: no such file`);
    if (e instanceof Error && "exitCode" in e) throw e;
    throw fileError(e, `--model ${path}`, path, "read");
  }
}

/**
 * The input's sequences: text (UTF-8) tokenized exactly as given and cut into `--seq` tokens
 * (default: the model's context); with `--ids`, one sequence per NDJSON line of ids (longer
 * lines cut the same way). An id outside the vocabulary, a line that is no array of whole
 * numbers, bytes that are not UTF-8: a `DataError` naming the line or byte.
 */
export function sequencesOf(
  bytes: Uint8Array,
  f: Record<string, unknown>,
  loaded: LoadedModel,
  what: string,
): Int32Array[] {
  const { model, tokenizer } = loaded;
  const seq = intFlag(f, "seq", model.block, 1, model.block);
  const out: Int32Array[] = [];
  const cut = (ids: number[]) => {
    for (let i = 0; i < ids.length; i += seq) out.push(Int32Array.from(ids.slice(i, i + seq)));
  };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new DataError(`${what} is not UTF-8 at byte ${firstBadUtf8(bytes)}`);
  }
  if (f.ids === true) {
    text.split("\n").forEach((line, i) => {
      if (line.trim() === "") return;
      let ids: unknown;
      try {
        ids = JSON.parse(line);
      } catch {
        throw new DataError(`${what} line ${i + 1}: not JSON`);
      }
      if (!Array.isArray(ids) || ids.length === 0) {
        throw new DataError(`${what} line ${i + 1}: not a non-empty array of token ids`);
      }
      ids.forEach((v, k) => {
        if (!(Number.isInteger(v) && v >= 0 && v < model.vocab)) {
          throw new DataError(
            `${what} line ${i + 1}, id ${k}: ${JSON.stringify(v)} is not an id of the model's ` +
              `vocabulary (0 to ${model.vocab - 1})`,
          );
        }
      });
      cut(ids as number[]);
    });
    return out;
  }
  if (tokenizer === null) {
    throw new UsageError(
      `the model has no tokenizer (a vocabulary of ${model.vocab}, no tokenizer.json): give ` +
        `token ids with --ids`,
    );
  }
  cut(tokenizer.encode(text));
  return out;
}
