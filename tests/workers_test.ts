// WorkerPool: all workers at once, or one and then more as jobs find it busy after a while.
import { assertEquals } from "./std_assert.ts";
import { WorkerPool } from "../lib/pipeline/workers.ts";
import type { StageInit } from "../lib/pipeline/protocol.ts";

// a stage worker that answers each job after 40 ms
const url = new URL(URL.createObjectURL(
  new Blob([
    `self.onmessage = (e) => { if (e.data.type === "job") setTimeout(() =>
       self.postMessage({ slot: e.data.slot, tokens: e.data.tokens }), 40); };`,
  ], { type: "text/javascript" }),
));
const init = { type: "init" } as unknown as StageInit;
const job = (slot: number) => ({ type: "job" as const, slot, tokens: 1, offset: 0, grad: -1 });

Deno.test("WorkerPool starts every worker at once by default", async () => {
  const pool = new WorkerPool(3, init, url);
  try {
    assertEquals(pool.started, 3);
    const replies = await Promise.all([0, 1, 2].map((s) => pool.run(job(s))));
    assertEquals(replies.map((r) => r.slot), [0, 1, 2]);
  } finally {
    pool.close();
  }
});

Deno.test("WorkerPool with growAfterMs: one worker, then more once jobs find it busy late", async () => {
  const pool = new WorkerPool(2, init, url, undefined, 150);
  try {
    assertEquals(pool.started, 1);
    // early: the second job waits for the one worker
    const early = await Promise.all([pool.run(job(0)), pool.run(job(1))]);
    assertEquals([early.map((r) => r.slot), pool.started], [[0, 1], 1]);
    await new Promise((r) => setTimeout(r, 150));
    // late and busy: a second worker starts
    const late = await Promise.all([pool.run(job(2)), pool.run(job(3)), pool.run(job(4))]);
    assertEquals([late.map((r) => r.slot), pool.started], [[2, 3, 4], 2]);
  } finally {
    pool.close();
  }
});
