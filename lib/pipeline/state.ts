/**
 * The state of one pipeline run, owned by one object: how it ends (the summary, or the first
 * fault), whether the consumer closed the output, the workers to stop, the lent output chunks,
 * and progress.
 *
 * @module
 */
import type { Lender } from "../io/encode.ts";
import type { Summary } from "./collect.ts";
import type { StagePool } from "./workers.ts";

/**
 * One run's state. The transforms report to it (`fault`, `summarize`, `started`, `advanced`,
 * `collected`); `end` settles `done` once the streams are through.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const seen: number[] = [];
 * const run = new RunState((t) => seen.push(t));
 * run.started(0, 10);
 * run.advanced(0, 0.5);
 * run.collected(10, 0);
 * assert(seen.join() === "5,10");
 * ```
 */
export class RunState {
  /** resolves to the summary, or rejects with the run's first fault */
  readonly done: Promise<Summary>;
  /** the stage workers, once started (stopped by `end`) */
  workers: StagePool | null = null;
  /** binary output lent as views of the slots (`borrow`) */
  lender: Lender | null = null;
  /** tokens the input declares (npy), for progress */
  total: number | undefined;
  #resolve!: (s: Summary) => void;
  #reject!: (e: Error) => void;
  #fault: Error | null = null;
  #summary: Summary | null = null;
  #outputClosed = false;
  #failing = false;
  #onProgress?: (tokens: number, total: number | undefined) => void;
  #collected = 0;
  #running = new Map<number, { tokens: number; fraction: number }>();

  /** A run reporting progress (tokens, declared total) to `onProgress`, if given. */
  constructor(onProgress?: (tokens: number, total: number | undefined) => void) {
    this.done = new Promise<Summary>((res, rej) => {
      this.#resolve = res;
      this.#reject = rej;
    });
    this.done.catch(() => {});
    this.#onProgress = onProgress;
  }

  /** A fault of the input, raised after the rows before it were written (the first counts). */
  fault(e: Error): void {
    this.#fault ??= e;
  }

  /** The collector's summary. */
  summarize(s: Summary): void {
    this.#summary = s;
  }

  /** The consumer cancelled the output (`| head`), unless the run is already failing. */
  outputCancelled(): void {
    if (!this.#failing) this.#outputClosed = true;
  }

  /** Whether progress within batches is wanted. */
  get watching(): boolean {
    return this.#onProgress !== undefined;
  }

  /** A batch of `tokens` rows went to a worker in `slot`. */
  started(slot: number, tokens: number): void {
    this.#running.set(slot, { tokens, fraction: 0 });
  }

  /** The batch in `slot` is `fraction` done. */
  advanced(slot: number, fraction: number): void {
    const r = this.#running.get(slot);
    if (r === undefined) return;
    r.fraction = fraction;
    this.#report();
  }

  /** Tokens collected so far; the batch in `slot` is done. */
  collected(tokens: number, slot: number): void {
    this.#collected = tokens;
    this.#running.delete(slot);
    this.#report();
  }

  #report() {
    if (this.#onProgress === undefined) return;
    let t = this.#collected;
    for (const r of this.#running.values()) t += Math.floor(r.tokens * r.fraction);
    this.#onProgress(t, this.total);
  }

  /**
   * Ends the run: stops the workers and settles `done` — with the summary, or with the first
   * fault, or `error`. A consumer that closed the output gets the summary of what was collected.
   * Returns whether the output must be aborted (the run failed).
   */
  end(error?: unknown): boolean {
    this.workers?.close();
    if (error === undefined) {
      if (this.#fault) this.#reject(this.#fault);
      else if (this.#summary) this.#resolve(this.#summary);
      else this.#reject(new Error("the pipeline ended without a summary"));
      return false;
    }
    if (this.#outputClosed && this.#summary && !this.#fault) this.#resolve(this.#summary);
    else this.#reject(this.#fault ?? error as Error);
    this.#failing = true;
    return true;
  }
}
