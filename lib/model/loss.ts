/**
 * Losses used to produce gradients for statistics: each writes `dL/dy` into a
 * caller-owned buffer and returns the loss.
 *
 * @module
 */
import type { Floats } from "../kernels/types.ts";
import { softmaxForward } from "../kernels/softmax.ts";
import { probeRow, Rng, uniformAt } from "./rng.ts";

/** A scalar loss of the stack output `y [N, C]`. */
export interface Loss {
  /** `probe`, `l2` or `xent` */
  readonly name: string;
  /**
   * Returns L(y) and overwrites `dy` with dL/dy. `offset` is the global index of
   * token 0 of `y` in the stream, for losses drawn per token from a seed.
   */
  lossAndGrad(y: Floats, dy: Floats, N: number, C: number, offset?: number): number;
}

/**
 * The probe loss `L = Σ y·R`: its gradient is `R` itself, so it sends a
 * controlled, unit-scale gradient into the network. `R` is given, or drawn as
 * per global token index by `probeRow(seed, token)` (±1 entries: mean 0, variance 1),
 * independent of batching.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const y = Float32Array.of(1, 2), dy = new Float32Array(2);
 * const L = new ProbeLoss({ R: Float32Array.of(3, 4) }).lossAndGrad(y, dy, 1, 2);
 * assert(L === 11 && dy[1] === 4);
 * ```
 */
export class ProbeLoss implements Loss {
  /** "probe" */
  readonly name = "probe";
  #R: Floats | null;
  #seed: number;
  /** `R` given (its layout is y's), or drawn from `seed` (default 0). */
  constructor(opts: { R?: Floats; seed?: number } = {}) {
    this.#R = opts.R ?? null;
    this.#seed = opts.seed ?? 0;
  }
  /** `Σ y·R`, `dy = R`. */
  lossAndGrad(y: Floats, dy: Floats, N: number, C: number, offset = 0): number {
    let L = 0;
    const n = N * C;
    if (this.#R !== null) {
      for (let i = 0; i < n; i++) {
        dy[i] = this.#R[i];
        L += y[i] * this.#R[i];
      }
    } else {
      for (let t = 0; t < N; t++) probeRow(dy, t * C, this.#seed, offset + t, C);
      for (let i = 0; i < n; i++) L += y[i] * dy[i];
    }
    return L;
  }
}

/**
 * `L = ½ Σ y²`, so `dL/dy = y`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const dy = new Float64Array(2);
 * assert(new L2Loss().lossAndGrad(Float64Array.of(3, 4), dy, 1, 2) === 12.5 && dy[0] === 3);
 * ```
 */
export class L2Loss implements Loss {
  /** "l2" */
  readonly name = "l2";
  /** `½ Σ y²`, `dy = y`. */
  lossAndGrad(y: Floats, dy: Floats, N: number, C: number): number {
    let L = 0;
    for (let i = 0; i < N * C; i++) {
      dy[i] = y[i];
      L += 0.5 * y[i] * y[i];
    }
    return L;
  }
}

/**
 * Mean cross-entropy of a separate linear head `logits = y @ W_out` (`W_out
 * [C, V]`, N(0, 1/C) from `seed`) against targets: given per token, or drawn
 * uniformly in [0, V) per global token index from `seed`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const head = new XentLoss({ vocab: 8, nEmbd: 4, seed: 1 });
 * const dy = new Float64Array(8);
 * const L = head.lossAndGrad(new Float64Array(8), dy, 2, 4);
 * assert(Math.abs(L - Math.log(8)) < 1e-12); // zero logits: uniform over 8 classes
 * ```
 */
export class XentLoss implements Loss {
  /** "xent" */
  readonly name = "xent";
  /** the head `[C, V]`, float64 */
  readonly W: Float64Array;
  /** vocabulary size V */
  readonly vocab: number;
  #targets: Int32Array | null;
  #seed: number;
  #logits = new Float64Array(0);
  /**
   * Builds the head; `targets` (one per token of the next batch) override the seeded ones.
   * The head is drawn like the stack's weights under `scheme`: `xavier` N(0, 2/(C+V)),
   * `gpt2` N(0, 0.02²); without a scheme, N(0, 1/C).
   */
  constructor(
    opts: {
      vocab: number;
      nEmbd: number;
      seed?: number;
      targets?: Int32Array;
      scheme?: "gpt2" | "xavier";
    },
  ) {
    this.vocab = opts.vocab;
    this.#seed = opts.seed ?? 0;
    this.#targets = opts.targets ?? null;
    this.W = new Float64Array(opts.nEmbd * opts.vocab);
    const std = opts.scheme === "xavier"
      ? Math.sqrt(2 / (opts.nEmbd + opts.vocab))
      : opts.scheme === "gpt2"
      ? 0.02
      : 1 / Math.sqrt(opts.nEmbd);
    new Rng(this.#seed ^ 0x5eed).fillNormal(this.W, std);
  }
  /** The target class of global token `i`. */
  target(i: number, local: number): number {
    if (this.#targets !== null) return this.#targets[local];
    return Math.floor(uniformAt(this.#seed ^ 0x7a4, i) * this.vocab);
  }
  /** Mean cross-entropy over the N tokens; writes dL/dy. */
  lossAndGrad(y: Floats, dy: Floats, N: number, C: number, offset = 0): number {
    const V = this.vocab, W = this.W;
    if (this.#logits.length < N * V) this.#logits = new Float64Array(N * V);
    const z = this.#logits;
    for (let n = 0; n < N; n++) {
      for (let v = 0; v < V; v++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += y[n * C + c] * W[c * V + v];
        z[n * V + v] = s;
      }
    }
    softmaxForward(z, z, N, V);
    let L = 0;
    for (let n = 0; n < N; n++) {
      const t = this.target(offset + n, n);
      L -= Math.log(z[n * V + t]);
      z[n * V + t] -= 1; // dL/dlogits = (p - onehot) / N
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let v = 0; v < V; v++) s += z[n * V + v] * W[c * V + v];
        dy[n * C + c] = s / N;
      }
    }
    return L / N;
  }
}
