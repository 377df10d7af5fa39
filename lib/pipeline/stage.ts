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
  type Entry = { settled: boolean; ok: boolean; value?: O; error?: unknown; p: Promise<void> };
  const pending: Entry[] = [];
  let ctrl: TransformStreamDefaultController<O> | null = null;
  // emit every result at the head as soon as it is ready: a result never waits for later inputs
  const drain = () => {
    while (pending.length > 0 && pending[0].settled) {
      const e = pending.shift()!;
      try {
        if (e.ok) ctrl!.enqueue(e.value!);
        else ctrl!.error(e.error);
      } catch {
        // the stream was cancelled or errored: nothing more to emit
      }
    }
  };
  return new TransformStream<I, O>({
    start(c) {
      ctrl = c;
    },
    async transform(x) {
      const e = { settled: false, ok: false } as Entry;
      e.p = fn(x).then(
        (v) => {
          e.value = v;
          e.ok = true;
        },
        (err) => (e.error = err),
      ).finally(() => {
        e.settled = true;
        drain();
      });
      pending.push(e);
      // backpressure: at most inFlight results outstanding
      while (pending.length >= inFlight) await pending[0].p;
    },
    async flush() {
      while (pending.length > 0) await pending[0].p;
    },
  });
}
