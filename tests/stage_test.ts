// The ordered stage: results in input order, each as soon as it and all before it are done.
import { assert, assertEquals } from "./std_assert.ts";
import { orderedStage } from "../lib/pipeline/stage.ts";
import { ROOT_PATH } from "./spawn.ts";

/** Rejects after `ms` (so a hang fails the test instead of blocking it). */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

Deno.test("ordered stage: a result leaves before the next input arrives (slow producer)", async () => {
  let push!: (v: number) => void;
  const input = new ReadableStream<number>({
    start(c) {
      push = (v) => c.enqueue(v);
    },
  });
  const out = input.pipeThrough(orderedStage((x: number) => Promise.resolve(x * 10), 4))
    .getReader();
  push(1);
  assertEquals((await within(2000, out.read(), "first result")).value, 10);
  push(2);
  push(3);
  assertEquals((await within(2000, out.read(), "second result")).value, 20);
  assertEquals((await within(2000, out.read(), "third result")).value, 30);
  await out.cancel();
});

Deno.test("ordered stage: order kept when later items finish first; errors reach the reader", async () => {
  const delay = (x: number) => new Promise<number>((r) => setTimeout(() => r(x), 30 - 10 * x));
  assertEquals(
    await Array.fromAsync(ReadableStream.from([0, 1, 2]).pipeThrough(orderedStage(delay, 3))),
    [0, 1, 2],
  );
  const failing = ReadableStream.from([1, 2]).pipeThrough(
    orderedStage(
      (x: number) => x === 2 ? Promise.reject(new Error("bad 2")) : Promise.resolve(x),
      2,
    ),
  );
  let err: Error | null = null;
  try {
    await Array.fromAsync(failing);
  } catch (e) {
    err = e as Error;
  }
  assert(err?.message === "bad 2");
});

Deno.test("normalize writes its first batch while the producer is still writing", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--allow-read=${ROOT_PATH}`,
      "mod.ts",
      "normalize",
      "--workers",
      "4",
      "--batch",
      "16",
      "--quiet",
    ],
    cwd: ROOT_PATH,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const w = child.stdin.getWriter();
  const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify([i, 1, 2, -i]) + "\n").join("");
  await w.write(new TextEncoder().encode(lines)); // one full batch and a bit; stdin stays open
  const r = child.stdout.getReader();
  try {
    const first = await within(10_000, r.read(), "first output byte with stdin still open");
    assert(first.value && first.value.length > 0);
    const text = new TextDecoder().decode(first.value);
    assertEquals(JSON.parse(text.split("\n")[0]).length, 4);
  } finally {
    await w.close();
    await r.cancel();
    await child.status;
  }
});
