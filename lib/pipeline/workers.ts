/**
 * A fixed set of stage workers. `run(job)` goes to an idle worker (or waits
 * for one); a worker that dies rejects every pending and later job, so a run
 * ends with the error instead of hanging.
 *
 * @module
 */
import type { Job, Reply, StageInit } from "./protocol.ts";

/** A worker failure (exit 70). */
export class WorkerError extends Error {
  /** 70 */
  readonly exitCode = 70;
  /** What the worker reported. */
  constructor(message: string) {
    super(message);
    this.name = "WorkerError";
  }
}

/**
 * N module workers running `workers/stage.ts`.
 *
 * @example
 * ```ts ignore
 * const pool = new WorkerPool(2, init);
 * const reply = await pool.run({ type: "job", slot: 0, tokens: 16, offset: 0 });
 * pool.close();
 * ```
 */
export class WorkerPool {
  #workers: Worker[] = [];
  #idle: Worker[] = [];
  #waiting: ((w: Worker) => void)[] = [];
  #pending = new Map<Worker, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  #broken: Error | null = null;

  /**
   * Starts `n` workers and sends each the `init` message; `onProgress` hears how far a
   * running batch has come (by slot, as a fraction).
   */
  constructor(
    n: number,
    init: StageInit,
    url = new URL("../../workers/stage.ts", import.meta.url),
    onProgress?: (slot: number, fraction: number) => void,
  ) {
    for (let i = 0; i < n; i++) {
      const w = new Worker(url, { type: "module" });
      w.onmessage = (e: MessageEvent<Reply | { progress: number; slot: number }>) => {
        if ("progress" in e.data) return onProgress?.(e.data.slot, e.data.progress);
        const p = this.#pending.get(w);
        this.#pending.delete(w);
        if (e.data.error !== undefined) {
          this.#fail(new WorkerError(`worker ${i}: ${e.data.error}`));
          p?.reject(this.#broken!);
          return;
        }
        this.#giveBack(w);
        p?.resolve(e.data);
      };
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.#fail(new WorkerError(`worker ${i} crashed: ${e.message}`));
      };
      w.postMessage(init);
      this.#workers.push(w);
      this.#idle.push(w);
    }
  }

  #giveBack(w: Worker) {
    const next = this.#waiting.shift();
    if (next) next(w);
    else this.#idle.push(w);
  }

  #fail(e: Error) {
    if (this.#broken === null) this.#broken = e;
    for (const p of this.#pending.values()) p.reject(this.#broken);
    this.#pending.clear();
  }

  /** Runs a job on the next idle worker. */
  async run(job: Job): Promise<Reply> {
    if (this.#broken) throw this.#broken;
    const w = this.#idle.pop() ?? await new Promise<Worker>((r) => this.#waiting.push(r));
    if (this.#broken) throw this.#broken;
    return await new Promise<Reply>((resolve, reject) => {
      this.#pending.set(w, { resolve, reject });
      w.postMessage(job);
    });
  }

  /** Terminates every worker. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
  }
}
