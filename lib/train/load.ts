/**
 * Loading real models: Hugging Face GPT-2 `model.safetensors` files (GPT2LMHeadModel's state
 * dict: gpt2, distilgpt2, gpt2-medium, … in F32, F16 or BF16, keys with or without a
 * `transformer.` prefix, the head tied to `wte` unless the file has `lm_head.weight`) and
 * lnstream's own `train` checkpoints — each tensor read from disk straight into the model's
 * arena, widened to float32 on the way.
 *
 * @module
 */
import { DataError, OptionError } from "../io/errors.ts";
import {
  readSafetensorsHeader,
  readTensor,
  type SafetensorsHeader,
  type TensorSource,
} from "../io/safetensors.ts";
import type { Backend } from "../kernels/backend.ts";
import type { Floats } from "../kernels/types.ts";
import { CharLM, type CharLMConfig } from "./lm.ts";
import { CHECKPOINT_FORMAT, decodeWeights, WEIGHTS_FORMAT } from "./checkpoint.ts";
import { modelShape } from "./trainer.ts";
import { charTokenizer, GPT2_VOCAB, gpt2Tokenizer, type Tokenizer } from "./tokenizer.ts";
import { bpeTokenizer } from "./bpe.ts";

/** How to load. */
export interface LoadOptions {
  /** attention heads, for a GPT-2 file without a `config.json` beside it */
  heads?: number;
  /** kernels (default wasm) */
  backend?: Backend;
  /** OpenBLAS for `blas` */
  blasLib?: string;
  /** load the tokenizer too (default true; GPT-2's takes ~0.2 s and ~50 MB) */
  tokenizer?: boolean;
  /**
   * "full" (default) or "block": the model keeps one block's gradients only (see `CharLM`),
   * what `Tracer` needs — a model's gradients are as large as its parameters
   */
  gradients?: "full" | "block";
}

/** What a loaded model is. */
export interface ModelInfo {
  /** `gpt2` (a Hugging Face GPT-2 file) or `lnstream` (a `train` checkpoint) */
  kind: "gpt2" | "lnstream";
  /** the model's shape and placement, as `new CharLM` takes it */
  config: CharLMConfig;
  /** the tensors' dtypes in the file (`F32`, `F16`, `BF16`) */
  dtypes: string[];
  /** where the shape came from: `config.json`, the checkpoint, or the tensors' shapes */
  from: string;
  /** parameters (the LM head counted once when tied) */
  params: number;
  /** lnstream's: steps trained */
  step?: number;
  /** lnstream's: the val loss of the last evaluation, when the file records it */
  valLoss?: number;
}

/** A loaded model, what it is, and its tokenizer (null when none is known for it). */
export interface LoadedModel {
  /** the model: embeddings, blocks, final norm, LM head */
  model: CharLM;
  /** its shape and origin */
  info: ModelInfo;
  /**
   * the byte-level BPE of a `tokenizer.json` beside a GPT-2 file, else GPT-2's BPE for a
   * 50257-id one (unless `tokenizer: false`); the characters of an lnstream checkpoint
   */
  tokenizer: Tokenizer | null;
}

/** HF GPT-2 block tensors → lnstream's names, with their shapes for C channels. */
const BLOCK_MAP: [string, string, (C: number) => number[]][] = [
  ["ln_1.weight", "ln1_g", (C) => [C]],
  ["ln_1.bias", "ln1_b", (C) => [C]],
  ["attn.c_attn.weight", "W_attn", (C) => [C, 3 * C]],
  ["attn.c_attn.bias", "b_attn", (C) => [3 * C]],
  ["attn.c_proj.weight", "W_proj", (C) => [C, C]],
  ["attn.c_proj.bias", "b_proj", (C) => [C]],
  ["ln_2.weight", "ln2_g", (C) => [C]],
  ["ln_2.bias", "ln2_b", (C) => [C]],
  ["mlp.c_fc.weight", "W_fc", (C) => [C, 4 * C]],
  ["mlp.c_fc.bias", "b_fc", (C) => [4 * C]],
  ["mlp.c_proj.weight", "W_proj2", (C) => [4 * C, C]],
  ["mlp.c_proj.bias", "b_proj2", (C) => [C]],
];

/** The causal-mask buffers some GPT-2 files carry: not parameters, skipped whatever their dtype. */
const BUFFERS = /^h\.\d+\.attn\.(bias|masked_bias)$/;

/**
 * Loads a model from a file path or its bytes: a Hugging Face GPT-2 `model.safetensors` (its
 * `config.json` read from the same folder when there is one; else the shape is inferred from the
 * tensors and `heads` is required) or an lnstream `train` checkpoint. A file that is neither, or
 * misses a tensor, has one of the wrong shape or an unknown dtype, is a `DataError` (exit 65)
 * naming the key.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const url = new URL("../../tests/fixtures/hf/f32/model.safetensors", import.meta.url);
 * const { model, info } = await loadModel(url.pathname);
 * assert(info.kind === "gpt2" && info.config.nLayer === 2 && model.vocab === 50);
 * ```
 */
export async function loadModel(
  source: string | Uint8Array,
  options: LoadOptions = {},
): Promise<LoadedModel> {
  const what = typeof source === "string" ? source : "the model";
  let file: TensorSource;
  if (typeof source === "string") file = await Deno.open(source, { read: true });
  else file = source;
  try {
    const h = await readSafetensorsHeader(file, what);
    const format = h.metadata.format;
    if (format === CHECKPOINT_FORMAT || format === WEIGHTS_FORMAT) {
      return await loadCheckpoint(file, what, options);
    }
    return await loadGpt2(file, h, what, typeof source === "string" ? source : null, options);
  } finally {
    if (!(file instanceof Uint8Array)) file.close();
  }
}

async function loadCheckpoint(
  file: TensorSource,
  what: string,
  o: LoadOptions,
): Promise<LoadedModel> {
  let bytes: Uint8Array;
  if (file instanceof Uint8Array) bytes = file;
  else {
    // a checkpoint of lnstream's is read whole (its moments and log are in it too)
    bytes = new Uint8Array((await file.stat()).size);
    await file.seek(0, Deno.SeekMode.Start);
    for (let at = 0; at < bytes.length;) {
      const n = await file.read(bytes.subarray(at));
      if (n === null) throw new DataError(`${what} ends at byte ${at}`);
      at += n;
    }
  }
  const s = decodeWeights(bytes, what);
  const config: CharLMConfig = {
    ...modelShape(s.config, s.vocab.length),
    ...(o.backend ? { backend: o.backend } : {}),
    ...(o.blasLib ? { blasLib: o.blasLib } : {}),
    // the ts backend's parameters in shared memory too, so workers can use them in place
    shared: true,
  };
  const model = new CharLM(config, undefined, { gradients: o.gradients ?? "full" });
  model.params.set(s.params.subarray(0, model.params.length));
  return {
    model,
    info: {
      kind: "lnstream",
      config,
      dtypes: ["F32"],
      from: "the checkpoint",
      params: count(model),
    },
    tokenizer: charTokenizer(s.vocab),
  };
}

async function loadGpt2(
  file: TensorSource,
  h: SafetensorsHeader,
  what: string,
  path: string | null,
  o: LoadOptions,
): Promise<LoadedModel> {
  // keys with or without "transformer." (the head is outside it)
  const names = new Map<string, string>();
  for (const key of h.tensors.keys()) {
    const bare = key.startsWith("transformer.") ? key.slice("transformer.".length) : key;
    if (names.has(bare)) throw new DataError(`${what}: tensor '${bare}' appears twice`);
    names.set(bare, key);
  }
  const entry = (bare: string) => {
    const key = names.get(bare);
    if (key === undefined) {
      throw new DataError(`${what}: no tensor '${bare}': not a GPT-2 (GPT2LMHeadModel) file`);
    }
    return { key, ...h.tensors.get(key)! };
  };
  const wte = entry("wte.weight"), wpe = entry("wpe.weight");
  if (wte.shape.length !== 2 || wpe.shape.length !== 2 || wte.shape[1] !== wpe.shape[1]) {
    throw new DataError(
      `${what}: 'wte.weight' ${JSON.stringify(wte.shape)} and 'wpe.weight' ` +
        `${JSON.stringify(wpe.shape)} are not [vocab, C] and [positions, C]`,
    );
  }
  const [V, C] = wte.shape, P = wpe.shape[0];
  let L = 0;
  while (names.has(`h.${L}.ln_1.weight`)) L++;
  // the shape: config.json beside the file, checked against the tensors
  const cfg = path === null ? null : await readConfig(path);
  const heads = cfg?.n_head ?? o.heads;
  if (heads === undefined) {
    throw new OptionError(
      "heads",
      `is required: ${what} has no config.json beside it to say how many attention heads ` +
        `its ${C} channels form`,
    );
  }
  if (!(Number.isInteger(heads) && heads > 0 && C % heads === 0)) {
    throw new OptionError("heads", `must be a whole number dividing C = ${C}, got ${heads}`);
  }
  if (cfg !== null) {
    for (const [field, want] of [["n_layer", L], ["n_embd", C], ["vocab_size", V]] as const) {
      if (cfg[field] !== undefined && cfg[field] !== want) {
        throw new DataError(
          `${what}: config.json says ${field} ${cfg[field]}, the tensors say ${want}`,
        );
      }
    }
  }
  if (L === 0) throw new DataError(`${what}: no tensor 'h.0.ln_1.weight': a GPT-2 file has blocks`);
  const eps = cfg?.layer_norm_epsilon ?? 1e-5;
  const hasHead = names.has("lm_head.weight");
  // every tensor is one the model takes (or a mask buffer): anything else is another model
  const known = new Set(["wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias", "lm_head.weight"]);
  for (let l = 0; l < L; l++) for (const [hf] of BLOCK_MAP) known.add(`h.${l}.${hf}`);
  for (const bare of names.keys()) {
    if (!known.has(bare) && !BUFFERS.test(bare)) {
      throw new DataError(`${what}: tensor '${names.get(bare)}' is not part of a GPT-2 model`);
    }
  }
  const config: CharLMConfig = {
    vocab: V,
    block: P,
    nLayer: L,
    nHead: heads,
    nEmbd: C,
    placement: "pre",
    eps,
    tiedHead: !hasHead,
    ...(o.backend ? { backend: o.backend } : {}),
    ...(o.blasLib ? { blasLib: o.blasLib } : {}),
    // the ts backend's parameters in shared memory too, so workers can use them in place
    shared: true,
  };
  const model = new CharLM(config, undefined, { gradients: o.gradients ?? "full" });
  const dtypes = new Set<string>();
  const load = async (bare: string, shape: number[], into: Floats) => {
    const t = entry(bare);
    if (JSON.stringify(t.shape) !== JSON.stringify(shape)) {
      throw new DataError(
        `${what}: tensor '${t.key}' has shape ${JSON.stringify(t.shape)}, ` +
          `${JSON.stringify(shape)} expected`,
      );
    }
    dtypes.add(t.dtype);
    const k = model.gpt.kernels;
    await readTensor(
      file,
      h,
      t.key,
      into as Float32Array,
      what,
      undefined,
      (a, n) => k.maxAbs(a, n),
    );
  };
  await load("wte.weight", [V, C], model.wte);
  await load("wpe.weight", [P, C], model.wpe);
  for (let l = 0; l < L; l++) {
    for (const [hf, name, shape] of BLOCK_MAP) {
      await load(`h.${l}.${hf}`, shape(C), model.gpt.param(`blocks.${l}.${name}`));
    }
  }
  await load("ln_f.weight", [C], model.gpt.param("ln_f_g"));
  await load("ln_f.bias", [C], model.gpt.param("ln_f_b"));
  if (hasHead) await load("lm_head.weight", [V, C], model.head);
  // a tokenizer.json beside the file wins; a 50257-id file without one is GPT-2's
  let tokenizer: Tokenizer | null = null;
  if (o.tokenizer !== false) {
    tokenizer = path === null ? null : await readTokenizerJson(path, V);
    if (tokenizer === null && V === GPT2_VOCAB) tokenizer = await gpt2Tokenizer();
  }
  return {
    model,
    info: {
      kind: "gpt2",
      config,
      dtypes: [...dtypes].sort(),
      from: cfg !== null ? "config.json" : "the tensors' shapes",
      params: count(model),
    },
    tokenizer,
  };
}

/**
 * The JSON file `name` in the folder of `path` and its path, or null when there is none; one
 * that is not JSON is a DataError naming it.
 */
async function jsonBeside(path: string, name: string): Promise<[unknown, string] | null> {
  const at = path.lastIndexOf("/");
  const file = `${at >= 0 ? path.slice(0, at + 1) : ""}${name}`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  try {
    return [JSON.parse(text), file];
  } catch (e) {
    throw new DataError(`${file} is not JSON (${(e as Error).message})`);
  }
}

/** The tokenizer.json in the folder of `path` (its ids within the model's V), or null. */
async function readTokenizerJson(path: string, V: number): Promise<Tokenizer | null> {
  const found = await jsonBeside(path, "tokenizer.json");
  if (found === null) return null;
  const [json, file] = found;
  const t = bpeTokenizer(json, file);
  if (t.vocabSize > V) {
    throw new DataError(`${file} has ${t.vocabSize} tokens; the model's vocabulary holds ${V}`);
  }
  return t;
}

/** Parameters of a model (its layout's sizes). */
function count(m: CharLM): number {
  return m.layout.reduce((a, s) => a + s.size, 0);
}

/** The fields of a GPT-2 `config.json` lnstream reads. */
interface Gpt2Config {
  n_layer?: number;
  n_head?: number;
  n_embd?: number;
  vocab_size?: number;
  layer_norm_epsilon?: number;
}

/** `config.json` in the folder of `path`, or null when there is none. */
async function readConfig(path: string): Promise<Gpt2Config | null> {
  const found = await jsonBeside(path, "config.json");
  if (found === null) return null;
  const [json, cfgPath] = found;
  if (typeof json !== "object" || json === null) throw new DataError(`${cfgPath} is no object`);
  const cfg = json as Gpt2Config;
  for (const f of ["n_layer", "n_head", "n_embd", "vocab_size"] as const) {
    const v = cfg[f];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
      throw new DataError(`${cfgPath}: ${f} is ${JSON.stringify(v)}, not a positive whole number`);
    }
  }
  const eps = cfg.layer_norm_epsilon;
  if (eps !== undefined && !(typeof eps === "number" && eps > 0 && Number.isFinite(eps))) {
    throw new DataError(`${cfgPath}: layer_norm_epsilon is ${JSON.stringify(eps)}`);
  }
  return cfg;
}
