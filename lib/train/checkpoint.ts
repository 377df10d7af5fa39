/**
 * Training checkpoints in the safetensors layout: an 8-byte little-endian header length, a
 * JSON header (each tensor's `dtype`, `shape` and `data_offsets`, and `__metadata__` of
 * strings), then the raw little-endian float32 data. Tensors: every parameter under its
 * layout name (`wte`, `wpe`, `blocks.0.W_attn`, …, `ln_f_g`), AdamW's moments as
 * `adam_m.<name>` and `adam_v.<name>`. Metadata: `format` (`lnstream.train.v1`), `config`
 * (the `TrainConfig` as JSON), `vocab` (the characters as a JSON array), `step` (the next
 * step) and `history` (the log records so far, as JSON). Python reads it with
 * `safetensors.numpy.load_file`.
 *
 * @module
 */
import { DataError } from "../io/errors.ts";
import { lmLayout } from "./lm.ts";
import type { ParamSpec } from "../model/params.ts";
import {
  checkConfig,
  modelShape,
  TRAIN_DEFAULTS,
  type TrainConfig,
  type TrainState,
} from "./trainer.ts";

/** The `format` value of the metadata. */
export const CHECKPOINT_FORMAT = "lnstream.train.v1";

/** The `format` of a weights-only file (`encodeWeights`): a model to load, not a run to resume. */
export const WEIGHTS_FORMAT = "lnstream.model.v1";

/** What a checkpoint written before the zoo's fields existed was trained with. */
const LEGACY_ZOO = { norm: "layer", qkNorm: false, mixPost: 0, dytAlpha: 0.5 } as const;

function layoutOf(config: TrainConfig, vocab: number): ParamSpec[] {
  return lmLayout(modelShape(config, vocab));
}

/**
 * A checkpoint's bytes.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { TRAIN_DEFAULTS } from "./trainer.ts";
 * import { lmLayout } from "./lm.ts";
 * const config = { ...TRAIN_DEFAULTS, layers: 1, heads: 1, dim: 4, block: 2 };
 * const last = lmLayout({ vocab: 3, block: 2, nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" }).at(-1)!;
 * const P = last.offset + last.size;
 * const state = {
 *   config, vocab: ["a", "b", "c"], step: 5, history: [],
 *   params: new Float32Array(P).fill(1), m: new Float32Array(P), v: new Float32Array(P),
 * };
 * assertEquals(decodeCheckpoint(encodeCheckpoint(state)), state);
 * ```
 */
export function encodeCheckpoint(s: TrainState): Uint8Array {
  return encode(s, {
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(s.config),
    vocab: JSON.stringify(s.vocab),
    step: String(s.step),
    history: JSON.stringify(s.history),
  }, [["", s.params], ["adam_m.", s.m], ["adam_v.", s.v]]);
}

/**
 * The weights of a run, without its optimizer state or log: a model to load (`loadModel`), in
 * a quarter of a checkpoint's bytes. Metadata: `format` (`lnstream.model.v1`), `config`,
 * `vocab`, `step`, and `val_loss` (the last evaluation's) when the log has one.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { TRAIN_DEFAULTS } from "./trainer.ts";
 * import { lmLayout } from "./lm.ts";
 * const config = { ...TRAIN_DEFAULTS, layers: 1, heads: 1, dim: 4, block: 2 };
 * const last = lmLayout({ vocab: 3, block: 2, nLayer: 1, nHead: 1, nEmbd: 4, placement: "pre" }).at(-1)!;
 * const P = last.offset + last.size;
 * const state = {
 *   config, vocab: ["a", "b", "c"], step: 5, history: [],
 *   params: new Float32Array(P).fill(1), m: new Float32Array(P), v: new Float32Array(P),
 * };
 * const w = decodeWeights(encodeWeights(state));
 * assert(w.params[0] === 1 && w.step === 5 && encodeWeights(state).length < encodeCheckpoint(state).length / 2);
 * ```
 */
export function encodeWeights(s: TrainState): Uint8Array {
  const last = s.history.filter((r) => r.type === "eval").at(-1);
  return encode(s, {
    format: WEIGHTS_FORMAT,
    config: JSON.stringify(s.config),
    vocab: JSON.stringify(s.vocab),
    step: String(s.step),
    ...(last && "val_loss" in last ? { val_loss: String(last.val_loss) } : {}),
  }, [["", s.params]]);
}

/** The bytes of a state's tensors (`parts`: name prefix, flat buffer) under `metadata`. */
function encode(
  s: TrainState,
  metadata: Record<string, string>,
  parts_: (readonly [string, Float32Array])[],
): Uint8Array {
  const layout = layoutOf(s.config, s.vocab.length);
  const header: Record<string, unknown> = { __metadata__: metadata };
  const parts: Float32Array[] = [];
  let at = 0;
  for (const [prefix, flat] of parts_) {
    for (const spec of layout) {
      const t = flat.subarray(spec.offset, spec.offset + spec.size);
      header[prefix + spec.name] = {
        dtype: "F32",
        shape: spec.shape,
        data_offsets: [at, at + t.byteLength],
      };
      parts.push(t);
      at += t.byteLength;
    }
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let o = 8 + head.length;
  for (const t of parts) {
    const b = new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
    out.set(b, o); // little-endian on every platform Deno runs on
    o += b.length;
  }
  return out;
}

/**
 * Reads a checkpoint; anything malformed is a `DataError` (exit 65) naming `what` and the fault.
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * assertThrows(() => decodeCheckpoint(new Uint8Array(4), "ck.safetensors"), Error, "ck.safetensors");
 * ```
 */
export function decodeCheckpoint(bytes: Uint8Array, what = "the checkpoint"): TrainState {
  const { valLoss: _, ...state } = decode(bytes, what, CHECKPOINT_FORMAT);
  return state;
}

/** What a weights-only file holds. */
export interface Weights {
  /** the settings of the run that made it */
  config: TrainConfig;
  /** the characters */
  vocab: string[];
  /** steps trained */
  step: number;
  /** the parameters, in `lmLayout` order */
  params: Float32Array;
  /** the last evaluation's val loss, when it was recorded */
  valLoss: number | null;
}

/**
 * Reads the weights of a weights-only file (`encodeWeights`) or of a checkpoint; anything
 * malformed is a `DataError` (exit 65) naming `what`.
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * assertThrows(() => decodeWeights(new Uint8Array(9), "w.st"), Error, "w.st");
 * ```
 */
export function decodeWeights(bytes: Uint8Array, what = "the model"): Weights {
  const s = decode(bytes, what, null);
  return { config: s.config, vocab: s.vocab, step: s.step, params: s.params, valLoss: s.valLoss };
}

/** A checkpoint (`format` = CHECKPOINT_FORMAT) or, with `format` null, either kind. */
function decode(
  bytes: Uint8Array,
  what: string,
  format: string | null,
): TrainState & { valLoss: number | null } {
  const bad = (why: string) => new DataError(`${what} is not an lnstream checkpoint: ${why}`);
  if (bytes.length < 8) throw bad(`${bytes.length} bytes, shorter than its header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) throw bad(`header length ${n} past the end of the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + Number(n)),
    ));
  } catch (e) {
    throw bad(`its header is not JSON (${(e as Error).message})`);
  }
  const meta = header?.__metadata__ as Record<string, string> | undefined;
  if (typeof meta !== "object" || meta === null) throw bad("no __metadata__");
  if (meta.format === WEIGHTS_FORMAT && format === CHECKPOINT_FORMAT) {
    throw bad(
      `it holds weights only (format '${WEIGHTS_FORMAT}'): it loads as a model, ` +
        `but a run resumes from a checkpoint of --save`,
    );
  }
  if (meta.format !== CHECKPOINT_FORMAT && meta.format !== WEIGHTS_FORMAT) {
    throw bad(`format '${meta.format}', expected '${CHECKPOINT_FORMAT}'`);
  }
  const weightsOnly = meta.format === WEIGHTS_FORMAT;
  const parse = (key: string): unknown => {
    try {
      return JSON.parse(meta[key]);
    } catch {
      throw bad(`metadata '${key}' is not JSON`);
    }
  };
  const config = parse("config") as TrainConfig;
  const vocab = parse("vocab") as string[];
  const history = weightsOnly ? [] : parse("history");
  const step = Number(meta.step);
  if (typeof config !== "object" || config === null) throw bad("config is not an object");
  // checkpoints from before the normalization zoo are pre- or post-LN with LayerNorm
  for (const [k, v] of Object.entries(LEGACY_ZOO)) {
    (config as unknown as Record<string, unknown>)[k] ??= v;
  }
  for (const k of Object.keys(TRAIN_DEFAULTS) as (keyof TrainConfig)[]) {
    if (typeof config[k] !== typeof TRAIN_DEFAULTS[k]) throw bad(`config.${k} is missing`);
  }
  if (!Array.isArray(vocab) || vocab.some((c) => typeof c !== "string") || vocab.length === 0) {
    throw bad("vocab is not a list of characters");
  }
  try {
    checkConfig(config);
  } catch (e) {
    throw bad(`its config is not valid: ${(e as Error).message}`);
  }
  if (!Number.isInteger(step) || step < 0) throw bad(`step '${meta.step}'`);
  if (step > config.iters) throw bad(`step ${step} is past its iters (${config.iters})`);
  if (!Array.isArray(history)) throw bad("history is not a list");
  let layout: ParamSpec[];
  try {
    layout = layoutOf(config, vocab.length);
  } catch (e) {
    throw bad(`config does not describe a model (${(e as Error).message})`);
  }
  const last = layout[layout.length - 1], P = last.offset + last.size;
  const data = bytes.subarray(8 + Number(n));
  const flat = (prefix: string) => {
    const out = new Float32Array(P);
    for (const spec of layout) {
      const name = prefix + spec.name;
      const t = header[name] as { dtype?: string; shape?: number[]; data_offsets?: number[] };
      if (!t) throw bad(`tensor '${name}' is missing`);
      const [a, b] = t.data_offsets ?? [];
      if (
        t.dtype !== "F32" || JSON.stringify(t.shape) !== JSON.stringify(spec.shape) ||
        !Number.isInteger(a) || b - a !== spec.size * 4 || a < 0 || b > data.length
      ) {
        throw bad(`tensor '${name}' is not F32 ${JSON.stringify(spec.shape)} inside the file`);
      }
      const copy = new Float32Array(data.slice(a, b).buffer, 0, spec.size);
      const at = copy.findIndex((x) => !Number.isFinite(x));
      if (at >= 0) throw bad(`tensor '${name}' holds ${copy[at]} at element ${at}`);
      out.set(copy, spec.offset);
    }
    return out;
  };
  const valLoss = meta.val_loss === undefined ? null : Number(meta.val_loss);
  return {
    config,
    vocab,
    step,
    params: flat(""),
    m: weightsOnly ? new Float32Array(0) : flat("adam_m."),
    v: weightsOnly ? new Float32Array(0) : flat("adam_v."),
    history: history as TrainState["history"],
    valLoss: Number.isFinite(valLoss) ? valLoss : null,
  };
}
