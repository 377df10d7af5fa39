/**
 * An ordered, concurrent stage: up to `inFlight` items are processed at once,
 * and results leave in input order.
 *
 * @module
 */

/**
 * A `TransformStream` that runs `fn` on up to `inFlight` chunks concurrently and
 * emits the results in the order the chunks came in.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * const slow = (x: number) => new Promise<number>((r) => setTimeout(() => r(x * 10), 10 - x));
 * const out = await Array.fromAsync(ReadableStream.from([1, 2, 3]).pipeThrough(orderedStage(slow, 3)));
 * assertEquals(out, [10, 20, 30]);
 * ```
 */
export function orderedStage<I, O>(
  fn: (x: I) => Promise<O>,
  inFlight: number,
): TransformStream<I, O> {
  const pending: Promise<O>[] = [];
  return new TransformStream<I, O>({
    async transform(x, ctrl) {
      const p = fn(x);
      p.catch(() => {}); // observed when it reaches the head
      pending.push(p);
      while (pending.length >= inFlight) ctrl.enqueue(await pending.shift()!);
    },
    async flush(ctrl) {
      while (pending.length > 0) ctrl.enqueue(await pending.shift()!);
    },
  });
}
