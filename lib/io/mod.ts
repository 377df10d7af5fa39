/**
 * Formats: `.npy`, NDJSON and raw float32 as Web Streams transforms, format
 * sniffing, and the error kinds the CLI maps to exit codes.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(parseNpyHeader(npyHeader([2, 4])).shape[1] === 4);
 * ```
 *
 * @module
 */
export type { ByteReader, Format } from "./batch.ts";
export {
  DataError,
  EXIT_CODES,
  IoError,
  isDenied,
  OptionError,
  PermissionError,
  UsageError,
} from "./errors.ts";
export { type NpyDtype, type NpyHeader, npyHeader, parseNpyHeader, toFloat32 } from "./npy.ts";
export { f32ToString, tokenToJson } from "./encode.ts";
export { type GenOptions, genStream } from "./gen.ts";
export {
  FLOAT_DTYPES,
  readSafetensorsHeader,
  readTensor,
  type SafetensorsHeader,
  type TensorEntry,
  type TensorSource,
} from "./safetensors.ts";
