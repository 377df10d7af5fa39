/**
 * The slot pool: K fixed slots in one `SharedArrayBuffer`, allocated once.
 * A decoder awaits a free slot, so a full pool is backpressure and memory
 * stays bounded whatever the input size.
 *
 * @module
 */
import type { SlotSink } from "../io/batch.ts";
import type { Arena } from "../kernels/arena.ts";
import { DataError } from "../io/errors.ts";
import { OptionError } from "./options.ts";

import { type SlotLayout, slotLayout } from "./protocol.ts";

/**
 * The most bytes one batch's rows may take: input, output, per-token statistics and, for
 * NDJSON output, the outputs as text.
 */
export const BATCH_LIMIT_BYTES = 256 * 2 ** 20;

/**
 * Whether a token of C channels fits a batch (`BATCH_LIMIT_BYTES`) with its text: a wider one
 * is refused by `gen`, and by every command that reads tokens (binary output holds somewhat
 * wider ones).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(tokenFits(768) && !tokenFits(1e9));
 * ```
 */
export function tokenFits(C: number): boolean {
  return slotLayout(1, C, false, true).slotBytes <= BATCH_LIMIT_BYTES;
}

/** Options of a `SlotPool`. */
export interface SlotPoolOptions {
  /** floats of a batch's parameter gradient (run), in each buffer of the ring (default 0) */
  gradFloats?: number;
  /** gradient buffers in the ring (default 0) */
  gradRing?: number;
  /**
   * the arena to place slots and ring in, so workers' kernels compute in place (default: plain
   * shared memory; also past the arena's 4 GiB, where workers copy rows in and out)
   */
  arena?: Arena | null;
  /** a slot's outputs take the place of its inputs (default false) */
  overwrite?: boolean;
  /** slots also hold their outputs as NDJSON text (default false) */
  text?: boolean;
}

/**
 * K slots of `capTokens` rows; `open(C)` allocates them once C is known, and a ring of
 * `gradRing` gradient buffers of `gradFloats` floats (run: a batch's parameter gradients,
 * summed in batch order by the collector, then handed back).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const pool = new SlotPool(2, 16);
 * pool.open(8);
 * const a = await pool.acquire(), b = await pool.acquire();
 * let third = false;
 * pool.acquire().then(() => (third = true));
 * await Promise.resolve();
 * assert(!third); // full: the third waits
 * pool.release(a.slot);
 * await new Promise((r) => setTimeout(r, 0));
 * assert(third && b.input.length === 16 * 8);
 * ```
 */
export class SlotPool implements SlotSink {
  /** rows per slot */
  readonly capTokens: number;
  /** number of slots */
  readonly slots: number;
  /** floats of gradient per buffer of the ring (0: no ring) */
  readonly gradFloats: number;
  /** the shared memory holding the slots (after `open`) */
  sab: SharedArrayBuffer | null = null;
  /** byte offset of slot 0 in `sab` */
  slotsAt = 0;
  /** slot geometry (after `open`) */
  layout: SlotLayout | null = null;
  /** channels (after `open`) */
  C = 0;
  /** outputs are written over the inputs (a slot has one region of rows) */
  readonly overwrite: boolean;
  /** slots also hold their outputs as NDJSON text */
  readonly text: boolean;
  #free: number[] = [];
  #waiters: ((slot: number) => void)[] = [];
  /** the gradient buffers (after `open`, when gradFloats > 0) */
  gradSab: SharedArrayBuffer | null = null;
  /** byte offset of the ring in `gradSab` */
  gradAt = 0;
  readonly #gradRing: number;
  readonly #arena: Arena | null;
  #freeGrads: number[] = [];
  #gradWaiters: ((g: number) => void)[] = [];

  /** K slots of `capTokens` rows (see `SlotPoolOptions`). */
  constructor(slots: number, capTokens: number, o: SlotPoolOptions = {}) {
    this.overwrite = o.overwrite ?? false;
    this.text = o.text ?? false;
    this.#gradRing = o.gradRing ?? 0;
    this.gradFloats = o.gradFloats ?? 0;
    this.#arena = o.arena ?? null;
    this.slots = slots;
    this.capTokens = capTokens;
  }

  /** `bytes` of shared memory: in the arena when it has room, else a SharedArrayBuffer. */
  #store(bytes: number): { sab: SharedArrayBuffer; at: number } {
    if (this.#arena !== null) {
      try {
        const at = this.#arena.allocBytes(bytes); // first: it may grow the memory
        return { sab: this.#arena.buffer, at };
      } catch {
        // past the arena's 4 GiB: plain shared memory (workers copy rows in and out)
      }
    }
    return { sab: new SharedArrayBuffer(bytes), at: 0 };
  }

  /**
   * Allocates the slots for rows of C channels (once). A batch's rows may hold at most
   * `BATCH_LIMIT_BYTES`: a wider token is bad data (`DataError`), too many tokens a usage
   * error naming the `batch` option — both before any memory is taken.
   */
  open(C: number): void {
    if (this.sab !== null) return;
    const row = slotLayout(1, C, false, this.text).slotBytes,
      mib = (b: number) => (b / 2 ** 20).toFixed(1);
    if (row > BATCH_LIMIT_BYTES) {
      throw new DataError(
        `a token of ${C} channels needs ${mib(row)} MiB, more than a batch may hold ` +
          `(limit ${mib(BATCH_LIMIT_BYTES)} MiB)`,
      );
    }
    const rows = slotLayout(this.capTokens, C, false, this.text).slotBytes;
    if (rows > BATCH_LIMIT_BYTES) {
      const fit = Math.floor(BATCH_LIMIT_BYTES / row);
      throw new OptionError(
        "batch",
        `is too large: ${this.capTokens} tokens of ${C} channels need ${mib(rows)} MiB per ` +
          `batch (limit ${mib(BATCH_LIMIT_BYTES)} MiB); give a smaller \`batch\` (at most ${fit} ` +
          `tokens)`,
      );
    }
    this.C = C;
    this.layout = slotLayout(this.capTokens, C, this.overwrite, this.text);
    const slots = this.#store(this.layout.slotBytes * this.slots);
    this.sab = slots.sab;
    this.slotsAt = slots.at;
    if (this.gradFloats > 0 && this.#gradRing > 0) {
      const { sab, at } = this.#store(this.gradFloats * 4 * this.#gradRing);
      this.gradSab = sab;
      this.gradAt = at;
      for (let i = 0; i < this.#gradRing; i++) this.#freeGrads.push(i);
    }
    for (let i = 0; i < this.slots; i++) this.#free.push(i);
  }

  /** Bytes of shared memory the pool holds. */
  get bytes(): number {
    return this.layout ? this.layout.slotBytes * this.slots : 0;
  }

  /** Waits for a free slot. */
  acquire(): Promise<{ slot: number; input: Float32Array }> {
    if (this.sab === null) throw new Error("SlotPool.acquire before open");
    const give = (slot: number) => ({ slot, input: this.input(slot) });
    const s = this.#free.pop();
    if (s !== undefined) return Promise.resolve(give(s));
    return new Promise((resolve) => this.#waiters.push((slot) => resolve(give(slot))));
  }

  /** Returns a slot to the pool (or hands it to the oldest waiter). */
  release(slot: number): void {
    const w = this.#waiters.shift();
    if (w) w(slot);
    else this.#free.push(slot);
  }

  #at(slot: number, region: number): number {
    return this.slotsAt + slot * this.layout!.slotBytes + region;
  }
  /** A slot's input rows. */
  input(slot: number): Float32Array {
    return new Float32Array(this.sab!, this.#at(slot, this.layout!.input), this.capTokens * this.C);
  }
  /** A slot's output rows. */
  output(slot: number): Float32Array {
    return new Float32Array(
      this.sab!,
      this.#at(slot, this.layout!.output),
      this.capTokens * this.C,
    );
  }
  /** A slot's outputs as NDJSON text and where each row's line ends (`text` slots only). */
  textOf(slot: number): { bytes: Uint8Array; ends: Uint32Array } {
    const l = this.layout!;
    return {
      bytes: new Uint8Array(this.sab!, this.#at(slot, l.text), l.ends - l.text),
      ends: new Uint32Array(this.sab!, this.#at(slot, l.ends), this.capTokens),
    };
  }

  /** Waits for a free gradient buffer of the ring; returns its index. */
  acquireGrad(): Promise<number> {
    const g = this.#freeGrads.pop();
    if (g !== undefined) return Promise.resolve(g);
    return new Promise((resolve) => this.#gradWaiters.push(resolve));
  }

  /** Hands a gradient buffer back (to the oldest waiter, or the ring). */
  releaseGrad(g: number): void {
    const w = this.#gradWaiters.shift();
    if (w) w(g);
    else this.#freeGrads.push(g);
  }

  /** Gradient buffer `g` of the ring. */
  grads(g: number): Float32Array {
    return new Float32Array(this.gradSab!, this.gradAt + g * this.gradFloats * 4, this.gradFloats);
  }
}
