/**
 * The GPT-2 model: config, parameter layout, init, the stack in pre-LN and
 * post-LN placement, losses and the PRNG.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const model = new GPT({ nLayer: 1, nHead: 1, nEmbd: 4, placement: "post" });
 * assert(model.config.finalNorm === false);
 * ```
 *
 * @module
 */
export {
  blockPlacement,
  checkChoice,
  type DType,
  type GPTConfig,
  NORM_KINDS,
  type NormKind,
  type Placement,
  PLACEMENTS,
  resolveConfig,
  type ResolvedConfig,
  variantLabel,
  variantName,
} from "./config.ts";
export {
  absentBecause,
  ALL_BLOCK_PARAMS,
  BLOCK_PARAMS,
  type BlockParam,
  blockParams,
  blockParamShape,
  type CoreBlockParam,
  normSuffixes,
  paramLayout,
  type ParamSpec,
} from "./params.ts";
export {
  type ActivationName,
  GPT,
  type GradStat,
  gradStat,
  type InitOptions,
  type LayerStat,
  type NormSums,
  type StackStats,
  stackStats,
} from "./gpt.ts";
export { L2Loss, type Loss, ProbeLoss, XentLoss } from "./loss.ts";
export { probeRow, Rng } from "./rng.ts";
export {
  type CompareOptions,
  type CompareResult,
  type CompareRun,
  compareRuns,
  type DepthFit,
  type DepthRatio,
  logSlope,
} from "./compare.ts";
// the types its API names, from the modules that define them
export type * from "../kernels/mod.ts";
