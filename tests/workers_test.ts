// WorkerPool: all workers at once, or one and then more as jobs find it busy after a while
// (on a clock the test moves, not the wall's); runOn; a failing worker fails the pool.
import { assertEquals, assertRejects } from "./std_assert.ts";
import { WorkerError, WorkerPool } from "../lib/pipeline/workers.ts";

type Init = { type: "init" };
type Job = { type: "job"; slot: number; fail?: boolean };
type Reply = { slot: number; worker: number; error?: string };

// a worker that answers each job on its next turn, naming itself (its init says who it is)
const url = new URL(URL.createObjectURL(
  new Blob([
    `let me = -1;
     self.onmessage = (e) => {
       if (e.data.type === "init") { me = e.data.me; return; }
       if (e.data.fail) return self.postMessage({ error: "asked to fail" });
       setTimeout(() => self.postMessage({ slot: e.data.slot, worker: me }), 0);
     };`,
  ], { type: "text/javascript" }),
));
const job = (slot: number, fail = false): Job => ({ type: "job", slot, ...(fail ? { fail } : {}) });

Deno.test("WorkerPool starts every worker at once by default", async () => {
  const pool = new WorkerPool<Init, Job, Reply>(3, { type: "init" }, url);
  try {
    assertEquals(pool.started, 3);
    const replies = await Promise.all([0, 1, 2].map((s) => pool.run(job(s))));
    assertEquals(replies.map((r) => r.slot), [0, 1, 2]);
  } finally {
    pool.close();
  }
});

Deno.test("WorkerPool with growAfterMs: one worker, then more once jobs find it busy late", async () => {
  let now = 0;
  const pool = new WorkerPool<Init, Job, Reply>(2, { type: "init" }, url, {
    growAfterMs: 150,
    clock: () => now,
  });
  try {
    assertEquals(pool.started, 1);
    // early: the second job waits for the one worker
    const early = await Promise.all([pool.run(job(0)), pool.run(job(1))]);
    assertEquals([early.map((r) => r.slot), pool.started], [[0, 1], 1]);
    now = 150;
    // late, one job at a time: the one worker is idle, so none starts
    await pool.run(job(2));
    assertEquals(pool.started, 1);
    // late and busy: a second worker starts, and no third (the pool's size is 2)
    const late = await Promise.all([pool.run(job(3)), pool.run(job(4)), pool.run(job(5))]);
    assertEquals([late.map((r) => r.slot), pool.started], [[3, 4, 5], 2]);
  } finally {
    pool.close();
  }
});

Deno.test("WorkerPool.runOn: a job for a given worker waits for that worker only", async () => {
  // each worker learns its index from an init sent through the same pool protocol
  const pools = [0, 1].map((me) =>
    new WorkerPool<Init & { me: number }, Job, Reply>(1, { type: "init", me }, url)
  );
  const pool = new WorkerPool<Init, Job, Reply>(2, { type: "init" }, url);
  try {
    const replies = await Promise.all([
      pool.runOn(1, job(0)),
      pool.runOn(1, job(1)),
      pool.runOn(0, job(2)),
    ]);
    assertEquals(replies.map((r) => r.slot), [0, 1, 2]);
    assertEquals((await pools[1].runOn(0, job(7))).worker, 1);
    await assertRejects(() => pool.runOn(2, job(3)), RangeError, "no worker 2");
  } finally {
    pool.close();
    for (const p of pools) p.close();
  }
});

Deno.test("WorkerPool: a reply with an error fails that job and every later one", async () => {
  const pool = new WorkerPool<Init, Job, Reply>(2, { type: "init" }, url, { name: "w" });
  try {
    const e = await assertRejects(() => pool.run(job(0, true)), WorkerError, "asked to fail");
    assertEquals(/^w [01]: asked to fail$/.test(e.message), true, e.message);
    await assertRejects(() => pool.run(job(1)), WorkerError, "asked to fail");
    await assertRejects(() => pool.runOn(1, job(2)), WorkerError, "asked to fail");
  } finally {
    pool.close();
  }
});
