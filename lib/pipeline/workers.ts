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

  #spawn: () => Worker;
  #size: number;
  #growAt: number;

  /**
   * A pool of `n` workers, each sent the `init` message when it starts; `onProgress` hears how
   * far a running batch has come (by slot, as a fraction). With `growAfterMs` 0 every worker
   * starts now; otherwise one does, and another each time a job finds every started worker busy
   * once the pool is `growAfterMs` old. (Starting a worker blocks this thread for milliseconds
   * and warms up its code on another core: a short stream does better without.)
   */
  constructor(
    n: number,
    init: StageInit,
    url = new URL("../../workers/stage.ts", import.meta.url),
    onProgress?: (slot: number, fraction: number) => void,
    growAfterMs = 0,
  ) {
    this.#growAt = growAfterMs > 0 ? performance.now() + growAfterMs : 0;
    this.#size = n;
    this.#spawn = () => {
      const i = this.#workers.length;
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
      return w;
    };
    for (let i = 0; i < (this.#growAt === 0 ? n : Math.min(n, 1)); i++) {
      this.#idle.push(this.#spawn());
    }
  }

  /** Workers started so far. */
  get started(): number {
    return this.#workers.length;
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
    const grow = this.#workers.length < this.#size && performance.now() >= this.#growAt;
    const w = this.#idle.pop() ??
      (grow ? this.#spawn() : undefined) ??
      await new Promise<Worker>((r) => this.#waiting.push(r));
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
