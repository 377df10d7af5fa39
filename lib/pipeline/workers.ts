/**
 * Workers: one pool and one message protocol (init, then a reply per job) for the pipeline's
 * stage workers and the trainer's; `serveJobs` is the worker's side.
 *
 * @module
 */
import { PermissionError } from "../io/errors.ts";
import { kernelModule } from "../kernels/arena.ts";
import type { TaskSetup } from "./plan.ts";
import type { SlotPool } from "./pool.ts";
import type { Job, Reply, StageInit } from "./protocol.ts";

/** The stage workers' pool. */
export type StagePool = WorkerPool<StageInit, Job, Reply>;

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

/** Options of a `WorkerPool`. */
export interface WorkerPoolOptions {
  /** hears how far a running job has come (`{ progress, slot }` messages) */
  onProgress?: (slot: number, fraction: number) => void;
  /**
   * 0 (default): every worker starts now; otherwise one does, and another each time a job
   * finds every started worker busy once the pool is this many milliseconds old. (Starting a
   * worker blocks this thread for milliseconds and warms up its code on another core: a short
   * stream does better without.)
   */
  growAfterMs?: number;
  /** the clock `growAfterMs` is measured on (default `performance.now`) */
  clock?: () => number;
  /** how errors name a worker (default "worker": "worker 2: …") */
  name?: string;
}

/**
 * The one way lnstream talks to workers: N module workers, each sent `init` when it starts
 * (no answer), then jobs, each answered by one reply (`serveJobs` is the worker's side). `run`
 * gives a job to an idle worker (or waits for one), `runOn` to a given one. A reply with an
 * `error`, or a worker that crashes, fails every pending and later job with a `WorkerError`, so
 * a run ends with the error instead of hanging.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * const src = `self.onmessage = (e) => { if (e.data.type === "job") self.postMessage({ twice: 2 * e.data.x }); };`;
 * const url = new URL(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
 * const pool = new WorkerPool<{ type: "init" }, { type: "job"; x: number }, { twice: number; error?: string }>(2, { type: "init" }, url);
 * assert((await pool.run({ type: "job", x: 21 })).twice === 42);
 * assert((await pool.runOn(1, { type: "job", x: 1 })).twice === 2);
 * pool.close();
 * ```
 */
export class WorkerPool<Init, Job, Reply extends { error?: string }> {
  #workers: Worker[] = [];
  #idle: Worker[] = [];
  #waiting: ((w: Worker) => void)[] = [];
  #waitingFor = new Map<Worker, (() => void)[]>();
  #pending = new Map<Worker, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  #broken: Error | null = null;
  #spawn: () => Worker;
  #size: number;
  #growAt: number;
  #clock: () => number;
  #init: Init | null;

  /**
   * A pool of `n` workers running the module at `url`, each sent `init` when it starts — or,
   * with `init` null, when `start(init)` gives it (workers spawned early load their modules
   * while this thread gets the init ready).
   */
  constructor(n: number, init: Init | null, url: URL, o: WorkerPoolOptions = {}) {
    this.#init = init;
    this.#clock = o.clock ?? (() => performance.now());
    const grow = o.growAfterMs ?? 0, name = o.name ?? "worker";
    this.#growAt = grow > 0 ? this.#clock() + grow : 0;
    this.#size = n;
    this.#spawn = () => {
      const i = this.#workers.length;
      const w = new Worker(url, { type: "module" });
      w.onmessage = (e: MessageEvent<Reply | { progress: number; slot: number }>) => {
        if ("progress" in e.data) return o.onProgress?.(e.data.slot, e.data.progress);
        const p = this.#pending.get(w);
        this.#pending.delete(w);
        if (e.data.error !== undefined) {
          this.#fail(new WorkerError(`${name} ${i}: ${e.data.error}`));
          p?.reject(this.#broken!);
          return;
        }
        this.#giveBack(w);
        p?.resolve(e.data);
      };
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        this.#fail(new WorkerError(`${name} ${i} crashed: ${e.message}`));
      };
      if (this.#init !== null) w.postMessage(this.#init);
      this.#workers.push(w);
      return w;
    };
    for (let i = 0; i < (this.#growAt === 0 ? n : Math.min(n, 1)); i++) {
      this.#idle.push(this.#spawn());
    }
  }

  /** Sends `init` to the workers of a pool made without one (and to those spawned later). */
  start(init: Init): void {
    if (this.#init !== null) throw new Error("WorkerPool.start: the pool has its init already");
    this.#init = init;
    for (const w of this.#workers) w.postMessage(init);
  }

  /** Workers started so far. */
  get started(): number {
    return this.#workers.length;
  }

  #giveBack(w: Worker) {
    const mine = this.#waitingFor.get(w)?.shift();
    if (mine) return mine();
    const next = this.#waiting.shift();
    if (next) next(w);
    else this.#idle.push(w);
  }

  #fail(e: Error) {
    if (this.#broken === null) this.#broken = e;
    for (const p of this.#pending.values()) p.reject(this.#broken);
    this.#pending.clear();
  }

  #send(w: Worker, job: Job): Promise<Reply> {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.set(w, { resolve, reject });
      w.postMessage(job);
    });
  }

  /** Runs a job on the next idle worker. */
  async run(job: Job): Promise<Reply> {
    if (this.#broken) throw this.#broken;
    if (this.#init === null) throw new Error("WorkerPool.run before start");
    const grow = this.#workers.length < this.#size && this.#clock() >= this.#growAt;
    const w = this.#idle.pop() ??
      (grow ? this.#spawn() : undefined) ??
      await new Promise<Worker>((r) => this.#waiting.push(r));
    return await this.#send(w, job);
  }

  /** Runs a job on worker `i` (started with the pool), once it is idle. */
  async runOn(i: number, job: Job): Promise<Reply> {
    if (this.#broken) throw this.#broken;
    const w = this.#workers[i];
    if (w === undefined) throw new RangeError(`no worker ${i} (${this.started} started)`);
    const at = this.#idle.indexOf(w);
    if (at >= 0) this.#idle.splice(at, 1);
    else {
      await new Promise<void>((r) => {
        const list = this.#waitingFor.get(w) ?? [];
        list.push(r);
        this.#waitingFor.set(w, list);
      });
    }
    return await this.#send(w, job);
  }

  /** Terminates every worker. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#workers = [];
  }
}

/**
 * The worker's side of a `WorkerPool`: `start` takes the init message (and a way to report a
 * job's progress), `run` answers each job. An exception is answered as `{ error }`, so the
 * pool ends the run with it instead of hanging.
 *
 * @example
 * ```ts ignore
 * serveJobs<Init, Job, Reply>((init) => setUp(init), (job) => compute(job));
 * ```
 */
export function serveJobs<Init extends { type: "init" }, Job, Reply>(
  start: (init: Init, progress: (slot: number, fraction: number) => void) => void,
  run: (job: Job) => Reply,
): void {
  const me = self as unknown as {
    onmessage: (e: MessageEvent<Init | Job>) => void;
    postMessage: (m: unknown) => void;
  };
  me.onmessage = (e) => {
    const m = e.data;
    try {
      if ((m as { type?: string }).type === "init") {
        start(m as Init, (slot, fraction) => me.postMessage({ progress: fraction, slot }));
        return;
      }
      me.postMessage(run(m as Job));
    } catch (err) {
      me.postMessage({ error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    }
  };
}

/**
 * Spawns the stage workers (without their init: `stageInit` gives it once the input is open),
 * so their modules load while the input is opened.
 *
 * @example
 * ```ts ignore
 * const workers = stageWorkers(2, 0);
 * workers.start(stageInit(slots, plan.forInput(info).task!));
 * ```
 */
export function stageWorkers(
  n: number,
  growAfterMs: number,
  url?: URL,
  onProgress?: (slot: number, fraction: number) => void,
): StagePool {
  return new WorkerPool<StageInit, Job, Reply>(
    n,
    null,
    url ?? new URL("../../workers/stage.ts", import.meta.url),
    {
      ...(onProgress ? { onProgress } : {}),
      growAfterMs,
    },
  );
}

/**
 * The stage workers' init for a task over opened `slots` (attached to the task's arena when
 * the slots live in it, so kernels compute in place).
 *
 * @example
 * ```ts ignore
 * workers.start(stageInit(slots, setup));
 * ```
 */
export function stageInit(slots: SlotPool, setup: TaskSetup): StageInit {
  const arena = setup.arena, inArena = arena !== null && slots.sab === arena.buffer;
  return {
    type: "init",
    ...(arena !== null ? { kernels: kernelModule() } : {}),
    sab: slots.sab!,
    slotsAt: slots.slotsAt,
    overwrite: slots.overwrite,
    text: slots.text,
    ...(inArena ? { memory: arena.memory } : {}),
    capTokens: slots.capTokens,
    C: slots.C,
    gradSab: slots.gradSab,
    gradAt: slots.gradAt,
    gradFloats: slots.gradFloats,
    task: setup.task,
  };
}

/**
 * Workers load lnstream's modules from disk: without read permission for its folder they
 * would each die with a stack trace. Refuse once, naming the flag (exit 77).
 *
 * @example
 * ```ts
 * canLoadWorkers(); // this test runs with --allow-read
 * ```
 */
export function canLoadWorkers(url?: URL): void {
  const module = url ?? new URL("../../workers/stage.ts", import.meta.url);
  if (module.protocol !== "file:") return;
  // lnstream's own workers import its lib/ too: the permission to name is the project's folder
  const own = module.href.startsWith(new URL("../../workers/", import.meta.url).href);
  const root = url && !own ? new URL(".", module) : new URL("../../", import.meta.url);
  const state = Deno.permissions.querySync({ name: "read", path: module }).state;
  if (state !== "granted") {
    const dir = decodeURIComponent(root.pathname).replace(/\/$/, "");
    throw new PermissionError(
      `the worker threads load lnstream's modules from ${dir}: run with --allow-read=${dir}`,
    );
  }
}
